/* The routes people use from a browser: sign in and out, who am I, an invitation's link
 * (preview, accept, decline), a permanent-link join's confirmation, and password reset. */
#ifndef GATEWAY_PEOPLE_H
#define GATEWAY_PEOPLE_H

#include "routes.h"

gw_handler gw_people_login;
gw_handler gw_people_logout;
gw_handler gw_people_me;
gw_handler gw_people_preview;
gw_handler gw_people_respond;
gw_handler gw_people_join;
gw_handler gw_people_password_reset;
gw_handler gw_people_password_reset_confirm;

#endif
