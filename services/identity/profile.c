#include "profile.h"

#include "context.h"
#include "input.h"
#include "common/log.h"
#include "password.h"
#include "store.h"
#include "usher/v1/identity.pb-c.h"

us_err identity_update_profile(us_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **reply)
{
	const Usher__V1__UpdateProfileRequest *req = (const Usher__V1__UpdateProfileRequest *)request;
	const char *user_id;
	us_err rc = identity_actor(call, &user_id);
	if (rc != US_OK)
		return rc;
	identity_check_name(call, "name", req->name);
	identity_check_phone(call, "phone", req->phone);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	us_arena *a = us_call_arena(call);
	Usher__V1__UpdateProfileReply *out = US_ARENA_NEW(a, Usher__V1__UpdateProfileReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__update_profile_reply__init(out);
	rc = identity_store_update_profile(us_call_db(call), a, user_id, req->name, req->phone,
	                                   &out->user);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "user not found");
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err identity_change_password(us_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **reply)
{
	const Usher__V1__ChangePasswordRequest *req = (const Usher__V1__ChangePasswordRequest *)request;
	const char *user_id;
	us_err rc = identity_actor(call, &user_id);
	if (rc != US_OK)
		return rc;
	identity_check_password(call, "current_password", req->current_password);
	identity_check_new_password(call, "new_password", req->new_password);
	us_token_hashes keep;
	bool keeps = req->keep_session_token[0] != '\0';
	if (keeps)
		identity_token_arg(call, "keep_session_token", req->keep_session_token, &keep);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__User *user;
	char *stored;
	rc = identity_store_credentials_by_id(us_call_db(call), us_call_arena(call), user_id, &user,
	                                      &stored);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "user not found");
	if (rc != US_OK)
		return rc;
	bool match = false;
	identity_ctx *ctx = us_call_service_ctx(call);
	rc = identity_password_verify(&ctx->passwords, stored, req->current_password, &match, NULL);
	char hash[IDENTITY_PASSWORD_HASH_SIZE];
	if (rc == US_OK && match)
		rc = identity_password_hash(&ctx->passwords, req->new_password, hash);
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "too many password operations at once, try again");
	if (rc != US_OK)
		return rc;
	if (!match)
		return us_call_error(call, US_EDENIED, "current password is not correct");

	/* The session to keep may predate a key rotation: keep the hash it is stored under. */
	const uint8_t *keep_hash = keeps ? keep.hash[0] : NULL;
	for (size_t i = 0; keeps && keep.n > 1 && i < keep.n; i++) {
		Usher__V1__User *owner;
		char *session_id, *expires_at;
		rc = identity_store_resolve_session(us_call_db(call), us_call_arena(call), keep.hash[i],
		                                    &owner, &session_id, &expires_at);
		if (rc == US_OK) {
			keep_hash = keep.hash[i];
			break;
		}
		if (rc != US_ENOTFOUND)
			return rc;
		rc = US_OK;
	}
	rc = identity_store_set_password(us_call_db(call), user_id, hash, keep_hash);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "password changed; other sessions ended", "user_id", user_id, NULL);
	Usher__V1__ChangePasswordReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__ChangePasswordReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__change_password_reply__init(out);
	*reply = &out->base;
	return US_OK;
}
