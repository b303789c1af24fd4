/* Changing the signed-in user's email: RequestEmailChange checks the password, records
 * the change and has usher-notificationd send a link to the new address; the address
 * changes only when ConfirmEmailChange gets that link's token. */
#ifndef IDENTITY_EMAIL_CHANGE_H
#define IDENTITY_EMAIL_CHANGE_H

#include "common/rpc_server.h"

us_rpc_handler identity_request_email_change;
us_rpc_handler identity_confirm_email_change;

#endif
