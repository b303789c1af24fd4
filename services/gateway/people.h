/* The routes people use from a browser: sign in and out, who am I, an invitation's link
 * (preview, accept, decline), a permanent-link join's confirmation, and password reset. */
#ifndef GATEWAY_PEOPLE_H
#define GATEWAY_PEOPLE_H

#include "routes.h"

gateway_handler gateway_people_login;
gateway_handler gateway_people_logout;
gateway_handler gateway_people_me;
gateway_handler gateway_people_preview;
gateway_handler gateway_people_respond;
gateway_handler gateway_people_join;
gateway_handler gateway_people_password_reset;
gateway_handler gateway_people_password_reset_confirm;

#endif
