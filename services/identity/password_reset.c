#include "password_reset.h"

#include <string.h>

#include <sodium.h>

#include "context.h"
#include "input.h"
#include "common/log.h"
#include "mailer.h"
#include "password.h"
#include "store.h"
#include "throttle.h"
#include "tokens.h"
#include "common/token.h"
#include "common/validate.h"

/* The one answer to a reset request, whether or not the address has a user. */
static us_err reply_empty(us_call *call, ProtobufCMessage **reply)
{
	Usher__V1__RequestPasswordResetReply *out =
	        US_ARENA_NEW(us_call_arena(call), Usher__V1__RequestPasswordResetReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__request_password_reset_reply__init(out);
	*reply = &out->base;
	return US_OK;
}

/* Mails a reset link to user. */
static us_err send_reset(us_call *call, const identity_ctx *ctx, const Usher__V1__User *user)
{
	us_arena *a = us_call_arena(call);
	char *token;
	uint8_t hash[US_TOKEN_HASH_BYTES];
	us_err rc = identity_token_issue(ctx->token_keys.current, a, &token, hash);
	if (rc != US_OK)
		return rc;
	char *reset_id, *expires_at;
	rc = identity_store_open_password_reset(us_call_db(call), a, user->id, user->email,
	                                               hash, ctx->settings.password_reset_ttl_minutes,
	                                               &reset_id, &expires_at);
	if (rc != US_OK)
		return rc;
	identity_mail m = {
		.template_name = "password_reset",
		.key = us_arena_printf(a, "password-reset:%s", reset_id),
		.recipient = user->email,
		.reference = us_arena_printf(a, "user:%s", user->id),
		.name = user->name,
		.path = "password-reset",
		.token = token,
		.expires_at = expires_at,
	};
	if (m.key == NULL || m.reference == NULL)
		return US_EEXHAUSTED;
	rc = identity_mail_link(call, ctx, &m);
	sodium_memzero(token, US_TOKEN_TEXT_LEN);
	if (rc != US_OK)
		return us_call_error(call, US_EUNAVAILABLE, "could not send the email, try again later");
	us_log_fields(US_LOG_INFO, "password reset sent", "user_id", user->id, NULL);
	return US_OK;
}

us_err identity_request_password_reset(us_call *call, const ProtobufCMessage *request,
                                       ProtobufCMessage **reply)
{
	const Usher__V1__RequestPasswordResetRequest *req =
	        (const Usher__V1__RequestPasswordResetRequest *)request;
	const identity_ctx *ctx = us_call_service_ctx(call);
	const identity_settings *s = &ctx->settings;
	const char *email = identity_email_arg(call, "email", req->email);
	uint8_t network[IDENTITY_SUBJECT_BYTES];
	bool has_address = req->client_address[0] != '\0';
	if (has_address && !identity_throttle_network_subject(ctx->token_keys.current,
	                                                      req->client_address, network))
		us_call_violation(call, "client_address", "must be an IPv4 or IPv6 address");
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	/* Counted alike whether or not the address has a user: the answer tells nothing. */
	PGconn *db = us_call_db(call);
	uint8_t subject[IDENTITY_SUBJECT_BYTES];
	int64_t count = 0;
	us_err rc = US_OK;
	if (has_address) {
		rc = identity_store_count_request(db, network, s->password_reset_window_s, &count);
		if (rc != US_OK)
			return rc;
		if (count > s->password_reset_max_per_address)
			return us_call_error(call, US_EEXHAUSTED,
			                     "too many password reset requests; try again later");
	}
	identity_throttle_subject(ctx->token_keys.current, "reset-email", email, strlen(email), subject);
	rc = identity_store_count_request(db, subject, s->password_reset_window_s, &count);
	if (rc != US_OK)
		return rc;
	if (count > s->password_reset_max_per_email)
		return reply_empty(call, reply);

	Usher__V1__User *user;
	char *hash;
	rc = identity_store_credentials_by_email(db, us_call_arena(call), email, &user, &hash);
	if (rc == US_ENOTFOUND)
		return reply_empty(call, reply);
	if (rc != US_OK)
		return rc;
	if (user->status != USHER__V1__USER_STATUS__USER_ACTIVE)
		return reply_empty(call, reply);
	rc = send_reset(call, ctx, user);
	if (rc != US_OK)
		return rc;
	return reply_empty(call, reply);
}

us_err identity_reset_password(us_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **reply)
{
	const Usher__V1__ResetPasswordRequest *req = (const Usher__V1__ResetPasswordRequest *)request;
	identity_ctx *ctx = us_call_service_ctx(call);
	us_token_hashes hashes;
	bool token_ok = identity_token_arg(call, "token", req->token, &hashes);
	identity_check_new_password(call, "new_password", req->new_password);
	if (!token_ok || us_call_has_violations(call))
		return us_call_invalid(call);

	/* The token first, so a wrong one costs no hashing. */
	PGconn *db = us_call_db(call);
	Usher__V1__User *user;
	/* Under the current key, else a previous one still in its time (a rotation). */
	us_err rc = US_ENOTFOUND;
	const uint8_t *token_hash = NULL;
	for (size_t i = 0; i < hashes.n && rc == US_ENOTFOUND; i++) {
		token_hash = hashes.hash[i];
		rc = identity_store_find_password_reset(db, us_call_arena(call), token_hash, &user);
	}
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND,
		                     "this password reset link is unknown, used or expired");
	if (rc != US_OK)
		return rc;
	char hash[IDENTITY_PASSWORD_HASH_SIZE];
	rc = identity_password_hash(&ctx->passwords, req->new_password, hash);
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "too many password operations at once, try again");
	if (rc != US_OK)
		return rc;
	rc = identity_store_use_password_reset(db, token_hash, user->id, hash);
	/* Whoever was guessing this address's password is stopped no longer from here on:
	 * its owner just proved it. */
	uint8_t email_subject[IDENTITY_SUBJECT_BYTES];
	identity_throttle_email_subject(ctx->token_keys.current, user->email, email_subject);
	if (rc == US_OK)
		rc = identity_store_throttle_clear(db, email_subject);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "password reset", "user_id", user->id, NULL);
	Usher__V1__ResetPasswordReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__ResetPasswordReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__reset_password_reply__init(out);
	*reply = &out->base;
	return US_OK;
}
