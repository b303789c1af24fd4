/* Checks of request fields shared by the handlers. Each records a violation naming the
 * field (us_call_violation), so a handler can report every bad field at once with
 * us_call_invalid() before it does any work. */
#ifndef IDENTITY_INPUT_H
#define IDENTITY_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc_server.h"
#include "common/token.h"

/* The actor's user id: UNAUTHENTICATED when the request has none, INVALID_ARGUMENT on
 * "actor.user_id" when it is not a UUID. *user_id is borrowed from the call. */
US_MUST_USE us_err identity_actor(us_call *call, const char **user_id);

/* The normalised form of an email address, in the call's arena; NULL (and a violation
 * on field) when it is not a valid address. */
const char *identity_email_arg(us_call *call, const char *field, const char *value);

void identity_check_name(us_call *call, const char *field, const char *value);

/* An E.164 number, or "" for none. */
void identity_check_phone(us_call *call, const char *field, const char *value);

/* A password being set: the rule identityd owns, us_password_check() (validate.h). */
void identity_check_new_password(us_call *call, const char *field, const char *value);

/* NULL when value may be a password being checked: 1 to US_PASSWORD_MAX_BYTES bytes (the
 * rule for new ones may have changed since it was set); otherwise why not. */
const char *identity_input_password(const char *value);

void identity_check_password(us_call *call, const char *field, const char *value);

/* NULL when value is an email address, with its normalised form in out (size bytes);
 * otherwise why not. */
const char *identity_input_email(const char *value, char *out, size_t size);

/* The keyed hashes a token field may be stored under (the current key's first, then
 * those of previous keys still in their time: a rotation); false, with a violation on
 * field, when value is not a token as issued. */
bool identity_token_arg(us_call *call, const char *field, const char *value,
                        us_token_hashes *out);

#endif
