/* Password reset by email: RequestPasswordReset mails a single-use link (its token
 * stored only as a keyed hash, expiring after PASSWORD_RESET_TTL_MINUTES) and answers the
 * same whether or not the address has a user; ResetPassword sets the new password with the
 * token, ends every session and marks the address verified (the link proved it).
 * Requests are throttled per client network (RESOURCE_EXHAUSTED) and per address asked
 * for (past the limit nothing more is sent, the reply unchanged). */
#ifndef IDENTITY_PASSWORD_RESET_H
#define IDENTITY_PASSWORD_RESET_H

#include "common/rpc_server.h"

us_rpc_handler identity_request_password_reset;
us_rpc_handler identity_reset_password;

#endif
