#include "email_verification.h"

#include <string.h>

#include <sodium.h>

#include "context.h"
#include "input.h"
#include "common/log.h"
#include "mailer.h"
#include "store.h"
#include "throttle.h"
#include "tokens.h"
#include "usher/v1/identity.pb-c.h"

/* Counts the request under the address (and the client's network when given) with the
 * password reset's limits; RESOURCE_EXHAUSTED past either. */
static us_err throttle(us_call *call, const identity_ctx *ctx, const char *email,
                       const uint8_t *network)
{
	const identity_settings *s = &ctx->settings;
	PGconn *db = us_call_db(call);
	int64_t count = 0;
	us_err rc = US_OK;
	if (network != NULL) {
		rc = identity_store_count_request(db, network, s->password_reset_window_s, &count);
		if (rc == US_OK && count > s->password_reset_max_per_address)
			return us_call_error(call, US_EEXHAUSTED,
			                     "too many verification emails asked for; try again later");
	}
	uint8_t subject[IDENTITY_SUBJECT_BYTES];
	identity_throttle_subject(ctx->token_keys.current, "verify-email", email, strlen(email),
	                          subject);
	if (rc == US_OK)
		rc = identity_store_count_request(db, subject, s->password_reset_window_s, &count);
	if (rc == US_OK && count > s->password_reset_max_per_email)
		return us_call_error(call, US_EEXHAUSTED,
		                     "too many verification emails asked for; try again later");
	return rc;
}

static us_err send_link(us_call *call, const identity_ctx *ctx, const Usher__V1__User *user,
                        char **expires_at)
{
	us_arena *a = us_call_arena(call);
	char *token, *id;
	uint8_t hash[US_TOKEN_HASH_BYTES];
	us_err rc = identity_token_issue(ctx->token_keys.current, a, &token, hash);
	if (rc == US_OK)
		rc = identity_store_open_email_verification(us_call_db(call), a, user->id, user->email,
		                                            hash, ctx->settings.email_change_ttl_hours,
		                                            &id, expires_at);
	if (rc != US_OK)
		return rc;
	identity_mail m = {
		.template_name = "email_verification",
		.key = us_arena_printf(a, "verify-email:%s", id),
		.recipient = user->email,
		.reference = us_arena_printf(a, "user:%s", user->id),
		.name = user->name,
		.path = "verify-email",
		.token = token,
		.expires_at = *expires_at,
	};
	if (m.key == NULL || m.reference == NULL)
		return US_EEXHAUSTED;
	rc = identity_mail_link(call, ctx, &m);
	sodium_memzero(token, US_TOKEN_TEXT_LEN);
	if (rc != US_OK)
		return us_call_error(call, US_EUNAVAILABLE, "could not send the email, try again later");
	us_log_fields(US_LOG_INFO, "email verification sent", "user_id", user->id, NULL);
	return US_OK;
}

us_err identity_request_email_verification(us_call *call, const ProtobufCMessage *request,
                                           ProtobufCMessage **reply)
{
	const Usher__V1__RequestEmailVerificationRequest *req =
	        (const Usher__V1__RequestEmailVerificationRequest *)request;
	const identity_ctx *ctx = us_call_service_ctx(call);
	const char *user_id;
	us_err rc = identity_actor(call, &user_id);
	if (rc != US_OK)
		return rc;
	uint8_t network[IDENTITY_SUBJECT_BYTES];
	bool has_address = req->client_address[0] != '\0';
	if (has_address && !identity_throttle_network_subject(ctx->token_keys.current,
	                                                      req->client_address, network))
		us_call_violation(call, "client_address", "must be an IPv4 or IPv6 address");
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	us_arena *a = us_call_arena(call);
	Usher__V1__User *user;
	rc = identity_store_get_user(us_call_db(call), a, user_id, &user);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_EDENIED, "the actor is not a user");
	if (rc != US_OK)
		return rc;
	if (user->status != USHER__V1__USER_STATUS__USER_ACTIVE || user->email[0] == '\0')
		return us_call_error(call, US_EPRECONDITION, "this user has no address to verify");
	Usher__V1__RequestEmailVerificationReply *out =
	        US_ARENA_NEW(a, Usher__V1__RequestEmailVerificationReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__request_email_verification_reply__init(out);
	out->already_verified = user->email_verified;
	if (!user->email_verified) {
		rc = throttle(call, ctx, user->email, has_address ? network : NULL);
		if (rc == US_OK)
			rc = send_link(call, ctx, user, &out->expires_at);
		if (rc != US_OK)
			return rc;
	}
	*reply = &out->base;
	return US_OK;
}

us_err identity_verify_email(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__VerifyEmailRequest *req = (const Usher__V1__VerifyEmailRequest *)request;
	us_token_hashes hashes;
	if (!identity_token_arg(call, "token", req->token, &hashes))
		return us_call_invalid(call);
	Usher__V1__VerifyEmailReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__VerifyEmailReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__verify_email_reply__init(out);
	/* Under the current key, else a previous one still in its time (a rotation). */
	us_err rc = US_ENOTFOUND;
	for (size_t i = 0; i < hashes.n && rc == US_ENOTFOUND; i++)
		rc = identity_store_use_email_verification(us_call_db(call), us_call_arena(call),
		                                           hashes.hash[i], &out->user);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND,
		                     "this verification link is unknown, used or expired");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "email verified by link", "user_id", out->user->id, NULL);
	*reply = &out->base;
	return US_OK;
}
