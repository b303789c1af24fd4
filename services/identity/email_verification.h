/* A person verifies their own address: RequestEmailVerification mails the actor a
 * single-use link (its token stored only as a keyed hash, expiring after
 * EMAIL_CHANGE_TTL_HOURS, throttled as password resets are); VerifyEmail uses it and marks
 * the address verified while it is still the user's. */
#ifndef IDENTITY_EMAIL_VERIFICATION_H
#define IDENTITY_EMAIL_VERIFICATION_H

#include "common/rpc_server.h"

us_rpc_handler identity_request_email_verification;
us_rpc_handler identity_verify_email;

#endif
