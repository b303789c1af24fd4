/* The console's pages for an account's admins, under /a/<account>/: Users, Invite, Upload
 * CSV, Pending, Permanent link, Settings. The daemons decide who may do what; a refusal
 * is shown in their words. */
#ifndef GATEWAY_CONSOLE_ADMIN_H
#define GATEWAY_CONSOLE_ADMIN_H

#include "http.h"

void gateway_console_admin(gateway_request *req, gateway_response *res); /* GET and POST /a/... */

#endif
