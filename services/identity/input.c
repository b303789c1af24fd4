#include "input.h"

#include <string.h>

#include "context.h"
#include "password.h"
#include "common/token.h"
#include "common/validate.h"

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

const char *identity_email_arg(us_call *call, const char *field, const char *value)
{
	char normal[US_EMAIL_MAX + 1];
	if (us_email_normalize(value, normal, sizeof(normal)) != 0) {
		us_call_violation(call, field, "must be at most %d characters", US_EMAIL_MAX);
		return NULL;
	}
	const char *why = us_email_check(normal);
	if (why != NULL) {
		us_call_violation(call, field, "%s", why);
		return NULL;
	}
	return us_arena_strdup(us_call_arena(call), normal);
}

void identity_check_name(us_call *call, const char *field, const char *value)
{
	const char *why = us_name_check(value, IDENTITY_NAME_MAX);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

void identity_check_phone(us_call *call, const char *field, const char *value)
{
	const char *why = value[0] != '\0' ? us_phone_check(value) : NULL;
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

static void check_length(us_call *call, const char *field, const char *value, size_t min)
{
	size_t len = strlen(value);
	if (len == 0)
		us_call_violation(call, field, "must not be empty");
	else if (len < min)
		us_call_violation(call, field, "must be at least %zu characters", min);
	else if (len > IDENTITY_PASSWORD_MAX)
		us_call_violation(call, field, "must be at most %d bytes", IDENTITY_PASSWORD_MAX);
}

void identity_check_new_password(us_call *call, const char *field, const char *value)
{
	check_length(call, field, value, IDENTITY_PASSWORD_MIN);
}

void identity_check_password(us_call *call, const char *field, const char *value)
{
	check_length(call, field, value, 1);
}

bool identity_token_arg(us_call *call, const char *field, const char *value,
                        uint8_t hash[US_TOKEN_HASH_BYTES])
{
	const identity_ctx *ctx = us_call_service_ctx(call);
	if (us_token_hash(value, ctx->token_key, hash) == US_OK)
		return true;
	us_call_violation(call, field, "must be a token as issued (%d characters)",
	                  US_TOKEN_TEXT_LEN);
	return false;
}
