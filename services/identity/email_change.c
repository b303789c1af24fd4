#include "email_change.h"

#include <string.h>

#include "context.h"
#include "input.h"
#include "common/log.h"
#include "mailer.h"
#include "password.h"
#include "store.h"
#include "tokens.h"
#include "usher/v1/identity.pb-c.h"
#include "common/validate.h"

/* The verification email. Its key is the change's id, so a resend of the request queues
 * one email, and a newer request (a new change) another. */
static us_err send_link(us_call *call, const identity_ctx *ctx, const char *change_id,
                        const char *user_id, const char *name, const char *new_email,
                        const char *token, const char *expires_at)
{
	us_arena *a = us_call_arena(call);
	identity_mail m = {
		.template_name = "email_change_verification",
		.key = us_arena_printf(a, "email-change:%s", change_id),
		.recipient = new_email,
		.reference = us_arena_printf(a, "user:%s", user_id),
		.name = name,
		.path = "email-change",
		.token = token,
		.expires_at = expires_at,
	};
	if (m.key == NULL || m.reference == NULL)
		return US_EEXHAUSTED;
	return identity_mail_link(call, ctx, &m);
}

/* The checks that need the stored user: the address is new, free, and the password
 * right. */
static us_err may_change(us_call *call, identity_ctx *ctx,
                         const Usher__V1__RequestEmailChangeRequest *req,
                         const char *new_email, Usher__V1__User *user, const char *stored)
{
	if (strcmp(new_email, user->email) == 0) {
		us_call_violation(call, "new_email", "is already this user's email");
		return us_call_invalid(call);
	}
	bool taken = false;
	us_err rc = identity_store_email_taken(us_call_db(call), new_email, &taken);
	if (rc != US_OK)
		return rc;
	if (taken)
		return us_call_error(call, US_EEXISTS, "this email is already in use");
	bool match = false;
	rc = identity_password_verify(&ctx->passwords, stored, req->current_password, &match, NULL);
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "too many password operations at once, try again");
	if (rc != US_OK)
		return rc;
	if (!match)
		return us_call_error(call, US_EDENIED, "current password is not correct");
	return US_OK;
}

us_err identity_request_email_change(us_call *call, const ProtobufCMessage *request,
                                     ProtobufCMessage **reply)
{
	const Usher__V1__RequestEmailChangeRequest *req =
	        (const Usher__V1__RequestEmailChangeRequest *)request;
	identity_ctx *ctx = us_call_service_ctx(call);
	const char *user_id;
	us_err rc = identity_actor(call, &user_id);
	if (rc != US_OK)
		return rc;
	const char *new_email = identity_email_arg(call, "new_email", req->new_email);
	identity_check_password(call, "current_password", req->current_password);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	us_arena *a = us_call_arena(call);
	Usher__V1__User *user;
	char *stored;
	rc = identity_store_credentials_by_id(us_call_db(call), a, user_id, &user, &stored);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "user not found");
	if (rc == US_OK)
		rc = may_change(call, ctx, req, new_email, user, stored);
	if (rc != US_OK)
		return rc;

	Usher__V1__RequestEmailChangeReply *out = US_ARENA_NEW(a, Usher__V1__RequestEmailChangeReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__request_email_change_reply__init(out);
	char *token;
	uint8_t hash[US_TOKEN_HASH_BYTES];
	rc = identity_token_issue(ctx->token_keys.current, a, &token, hash);
	if (rc != US_OK)
		return rc;
	char *change_id;
	rc = identity_store_open_email_change(us_call_db(call), a, user_id, new_email, hash,
	                                      ctx->settings.email_change_ttl_hours, &change_id,
	                                      &out->expires_at);
	if (rc != US_OK)
		return rc;
	if (send_link(call, ctx, change_id, user_id, user->name, new_email, token,
	              out->expires_at) != US_OK)
		return us_call_error(call, US_EUNAVAILABLE,
		                     "could not send the verification email, try again later");
	char shown[US_EMAIL_MAX + 8];
	us_redact_email(new_email, shown, sizeof(shown));
	us_log_fields(US_LOG_INFO, "email change requested", "user_id", user_id, "new_email", shown,
	              NULL);
	*reply = &out->base;
	return US_OK;
}

us_err identity_confirm_email_change(us_call *call, const ProtobufCMessage *request,
                                     ProtobufCMessage **reply)
{
	const Usher__V1__ConfirmEmailChangeRequest *req =
	        (const Usher__V1__ConfirmEmailChangeRequest *)request;
	us_token_hashes hashes;
	if (!identity_token_arg(call, "token", req->token, &hashes))
		return us_call_invalid(call);
	us_arena *a = us_call_arena(call);
	Usher__V1__ConfirmEmailChangeReply *out = US_ARENA_NEW(a, Usher__V1__ConfirmEmailChangeReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__confirm_email_change_reply__init(out);
	us_err rc = US_ENOTFOUND;
	for (size_t i = 0; i < hashes.n && rc == US_ENOTFOUND; i++)
		rc = identity_store_confirm_email_change(us_call_db(call), a, hashes.hash[i], &out->user);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "this email change link is unknown, used or expired");
	if (rc == US_EEXISTS)
		return us_call_error(call, rc, "this email is already in use");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "email changed", "user_id", out->user->id, NULL);
	*reply = &out->base;
	return US_OK;
}
