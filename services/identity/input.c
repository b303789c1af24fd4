#include "input.h"

#include <string.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/token.h"
#include "common/validate.h"
#include "context.h"

us_err identity_actor(us_call *call, const char **user_id)
{
	const char *id = us_call_actor_user_id(call);
	if (id[0] == '\0')
		return us_call_error(call, US_EUNAUTHENTICATED, "not signed in");
	const char *why = us_uuid_check(id);
	if (why != NULL) {
		us_call_violation(call, "actor.user_id", "%s", why);
		return us_call_invalid(call);
	}
	*user_id = id;
	return US_OK;
}

const char *identity_input_email(const char *value, char *out, size_t size)
{
	if (us_email_normalize(value, out, size) != 0)
		return "must be at most " US_LIMIT_TEXT(US_EMAIL_MAX) " characters";
	return us_email_check(out);
}

const char *identity_email_arg(us_call *call, const char *field, const char *value)
{
	char normal[US_EMAIL_MAX + 1];
	const char *why = identity_input_email(value, normal, sizeof(normal));
	if (why != NULL) {
		us_call_violation(call, field, "%s", why);
		return NULL;
	}
	return us_arena_strdup(us_call_arena(call), normal);
}

void identity_check_name(us_call *call, const char *field, const char *value)
{
	const char *why = us_name_check(value, US_NAME_MAX_BYTES);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

void identity_check_phone(us_call *call, const char *field, const char *value)
{
	const char *why = value[0] != '\0' ? us_phone_check(value) : NULL;
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

void identity_check_new_password(us_call *call, const char *field, const char *value)
{
	const char *why = us_password_check(value);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

const char *identity_input_password(const char *value)
{
	size_t len = strlen(value);
	if (len == 0)
		return "must not be empty";
	if (len > US_PASSWORD_MAX_BYTES)
		return "must be at most " US_LIMIT_TEXT(US_PASSWORD_MAX_BYTES) " bytes";
	return NULL;
}

void identity_check_password(us_call *call, const char *field, const char *value)
{
	const char *why = identity_input_password(value);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

bool identity_token_arg(us_call *call, const char *field, const char *value,
                        us_token_hashes *out)
{
	const identity_ctx *ctx = us_call_service_ctx(call);
	if (us_token_hashes_of(&ctx->token_keys, value, us_wall_ms(), out) == US_OK)
		return true;
	us_call_violation(call, field, "must be a token as issued (%d characters)",
	                  US_TOKEN_TEXT_LEN);
	return false;
}
