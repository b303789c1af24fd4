#include "login.h"

#include "context.h"
#include "input.h"
#include "common/log.h"
#include "password.h"
#include "store.h"
#include "throttle.h"
#include "tokens.h"
#include "usher/v1/identity.pb-c.h"
#include "common/validate.h"

/* Milliseconds this attempt must wait (0: go ahead): see identity_throttle_wait_ms(). */
static us_err throttled(us_call *call, const identity_ctx *ctx,
                        const identity_throttle_attempt *at, int64_t *wait)
{
	const identity_settings *s = &ctx->settings;
	identity_throttle_count c[3];
	us_err rc = identity_store_throttle_read(us_call_db(call), &at->subjects,
	                                         s->login_failure_window_s,
	                                         s->login_known_network_days, c);
	if (rc != US_OK)
		return rc;
	*wait = identity_throttle_wait_ms(s, c, at->subjects.network != NULL);
	return US_OK;
}

static us_err refuse(us_call *call, const identity_ctx *ctx, const identity_throttle_attempt *at,
                     const char *email)
{
	us_err rc = identity_store_throttle_fail(us_call_db(call), &at->subjects,
	                                         ctx->settings.login_failure_window_s,
	                                         ctx->settings.login_known_network_days);
	if (rc != US_OK)
		return rc;
	char shown[US_EMAIL_MAX + 8];
	us_redact_email(email, shown, sizeof(shown));
	us_log_fields(US_LOG_INFO, "login failed", "email", shown, NULL);
	return us_call_error(call, US_EUNAUTHENTICATED, "invalid email or password");
}

/* A new session for user; its token goes into the reply and nowhere else. */
static us_err open_session(us_call *call, const identity_ctx *ctx,
                           const identity_throttle_attempt *at,
                           Usher__V1__User *user, const char *hash, const char *rehash,
                           ProtobufCMessage **reply)
{
	us_arena *a = us_call_arena(call);
	Usher__V1__LoginReply *out = US_ARENA_NEW(a, Usher__V1__LoginReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__login_reply__init(out);
	char *token;
	uint8_t token_hash[US_TOKEN_HASH_BYTES];
	us_err rc = identity_token_issue(ctx->token_keys.current, a, &token, token_hash);
	if (rc != US_OK)
		return rc;
	identity_new_session s = {
		.user_id = user->id,
		.token_hash = token_hash,
		.ttl_hours = ctx->settings.session_ttl_hours,
		.pair_subject = at->pair,
		.old_hash = hash,
		.new_hash = rehash[0] != '\0' ? rehash : NULL,
	};
	char *session_id;
	rc = identity_store_open_session(us_call_db(call), a, &s, &session_id, &out->expires_at);
	if (rc != US_OK)
		return rc;
	if (s.new_hash != NULL)
		us_log_fields(US_LOG_INFO, "password rehashed with the current parameters", "user_id",
		              user->id, NULL);
	us_log_fields(US_LOG_INFO, "logged in", "user_id", user->id, "session_id", session_id, NULL);
	out->session_token = token;
	out->user = user;
	*reply = &out->base;
	return US_OK;
}

us_err identity_login(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__LoginRequest *req = (const Usher__V1__LoginRequest *)request;
	identity_ctx *ctx = us_call_service_ctx(call);
	const char *email = identity_email_arg(call, "email", req->email);
	identity_check_password(call, "password", req->password);
	if (!identity_throttle_address_ok(req->client_address))
		us_call_violation(call, "client_address", "must be an IPv4 or IPv6 address");
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	identity_throttle_attempt at;
	identity_throttle_attempt_init(ctx->token_keys.current, email, req->client_address, &at);
	int64_t wait_ms = 0;
	us_err rc = throttled(call, ctx, &at, &wait_ms);
	if (rc != US_OK)
		return rc;
	if (wait_ms > 0)
		return us_call_error(call, US_EEXHAUSTED,
		                     "too many failed logins; try again in %lld seconds",
		                     (long long)((wait_ms + 999) / 1000));

	Usher__V1__User *user = NULL;
	char *hash = NULL;
	rc = identity_store_credentials_by_email(us_call_db(call), us_call_arena(call), email,
	                                         &user, &hash);
	if (rc != US_OK && rc != US_ENOTFOUND)
		return rc;
	bool match = false;
	char rehash[IDENTITY_PASSWORD_HASH_SIZE];
	rc = identity_password_verify(&ctx->passwords, hash, req->password, &match, rehash);
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "too many password operations at once, try again");
	if (rc != US_OK)
		return rc;
	if (!match)
		return refuse(call, ctx, &at, email);
	if (user->status != USHER__V1__USER_STATUS__USER_ACTIVE)
		return us_call_error(call, US_EDENIED, "this user is disabled");
	return open_session(call, ctx, &at, user, hash, rehash, reply);
}
