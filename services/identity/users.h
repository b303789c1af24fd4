/* Users: sign-up (CreateUser), proof of an address (ConfirmEmailOwnership) and the reads
 * other services make (GetUser, GetUsers, LookupEmails). */
#ifndef IDENTITY_USERS_H
#define IDENTITY_USERS_H

#include "common/rpc_server.h"

us_rpc_handler identity_create_user;
us_rpc_handler identity_get_user;
us_rpc_handler identity_get_users;
us_rpc_handler identity_lookup_emails;
us_rpc_handler identity_confirm_email_ownership;

#endif
