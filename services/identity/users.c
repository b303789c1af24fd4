#include "users.h"

#include <stdio.h>

#include "context.h"
#include "input.h"
#include "common/limits.h"
#include "common/log.h"
#include "password.h"
#include "store.h"
#include "common/validate.h"

us_err identity_create_user(us_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **reply)
{
	const Usher__V1__CreateUserRequest *req = (const Usher__V1__CreateUserRequest *)request;
	const char *email = identity_email_arg(call, "email", req->email);
	identity_check_name(call, "name", req->name);
	identity_check_phone(call, "phone", req->phone);
	identity_check_new_password(call, "password", req->password);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	/* A verified address is one its owner proved (an emailed invitation link): only
	 * Usher itself, having checked that proof, may say so. */
	if (req->email_verified && !us_call_is_system(call))
		return us_call_error(call, US_EDENIED, "only Usher itself may create a user whose "
		                                       "email is already verified");

	/* Spend no hashing on an address a verified user has; the unique index still settles
	 * a race between two sign-ups. */
	PGconn *db = us_call_db(call);
	bool taken = false;
	us_err rc = identity_store_email_taken(db, email, &taken);
	if (rc != US_OK)
		return rc;
	if (taken)
		return us_call_error(call, US_EEXISTS, "a user with this email already exists");

	char hash[IDENTITY_PASSWORD_HASH_SIZE];
	identity_ctx *ctx = us_call_service_ctx(call);
	rc = identity_password_hash(&ctx->passwords, req->password, hash);
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "too many password operations at once, try again");
	if (rc != US_OK)
		return rc;

	identity_new_user u = {email, req->name, req->phone, hash, req->email_verified};
	Usher__V1__CreateUserReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__CreateUserReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__create_user_reply__init(out);
	/* An unverified claim never blocks: whoever only claimed the address loses it. */
	char *released = NULL;
	rc = identity_store_release_claim(db, us_call_arena(call), email, NULL, &released);
	if (rc == US_OK)
		rc = identity_store_create_user(db, us_call_arena(call), &u, &out->user);
	if (rc == US_EEXISTS)
		return us_call_error(call, rc, "a user with this email already exists");
	if (rc != US_OK)
		return rc;
	char shown[US_EMAIL_MAX + 8];
	us_redact_email(email, shown, sizeof(shown));
	us_log_fields(US_LOG_INFO, "user created", "user_id", out->user->id, "email", shown, NULL);
	if (released != NULL)
		us_log_fields(US_LOG_INFO, "an unverified claim on the address was released", "user_id",
		              released, "to", out->user->id, NULL);
	*reply = &out->base;
	return US_OK;
}

us_err identity_confirm_email_ownership(us_call *call, const ProtobufCMessage *request,
                                        ProtobufCMessage **reply)
{
	const Usher__V1__ConfirmEmailOwnershipRequest *req =
	        (const Usher__V1__ConfirmEmailOwnershipRequest *)request;
	const char *why = us_uuid_check(req->user_id);
	if (why != NULL)
		us_call_violation(call, "user_id", "%s", why);
	const char *email = identity_email_arg(call, "email", req->email);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	Usher__V1__ConfirmEmailOwnershipReply *out =
	        US_ARENA_NEW(us_call_arena(call), Usher__V1__ConfirmEmailOwnershipReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__confirm_email_ownership_reply__init(out);
	us_err rc = identity_store_verify_email(us_call_db(call), us_call_arena(call), req->user_id,
	                                        email, &out->user);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_EPRECONDITION, "this address is no longer the user's");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "email verified", "user_id", req->user_id, NULL);
	*reply = &out->base;
	return US_OK;
}

us_err identity_get_user(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__GetUserRequest *req = (const Usher__V1__GetUserRequest *)request;
	const char *why = us_uuid_check(req->user_id);
	if (why != NULL) {
		us_call_violation(call, "user_id", "%s", why);
		return us_call_invalid(call);
	}
	Usher__V1__GetUserReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__GetUserReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__get_user_reply__init(out);
	us_err rc = identity_store_get_user(us_call_db(call), us_call_arena(call), req->user_id,
	                                    &out->user);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "user not found");
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err identity_get_users(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__GetUsersRequest *req = (const Usher__V1__GetUsersRequest *)request;
	if (req->n_user_ids > US_GET_USERS_MAX) {
		us_call_violation(call, "user_ids", "must list at most %d ids", US_GET_USERS_MAX);
		return us_call_invalid(call);
	}
	for (size_t i = 0; i < req->n_user_ids; i++) {
		const char *why = us_uuid_check(req->user_ids[i]);
		if (why != NULL) {
			char field[32];
			snprintf(field, sizeof(field), "user_ids[%zu]", i);
			us_call_violation(call, field, "%s", why);
		}
	}
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__GetUsersReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__GetUsersReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__get_users_reply__init(out);
	if (req->n_user_ids > 0) {
		us_err rc = identity_store_get_users(us_call_db(call), us_call_arena(call),
		                                     (const char *const *)req->user_ids,
		                                     req->n_user_ids, &out->users, &out->n_users);
		if (rc != US_OK)
			return rc;
	}
	*reply = &out->base;
	return US_OK;
}

/* The valid addresses among emails, normalised, with where each came from. */
static us_err normalise_all(us_call *call, char **emails, size_t n, const char ***valid,
                            size_t **origin, size_t *n_valid)
{
	us_arena *a = us_call_arena(call);
	const char **v = US_ARENA_ARRAY(a, const char *, n);
	size_t *o = US_ARENA_ARRAY(a, size_t, n);
	if (v == NULL || o == NULL)
		return US_EEXHAUSTED;
	size_t k = 0;
	char normal[US_EMAIL_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		if (us_email_normalize(emails[i], normal, sizeof(normal)) != 0 ||
		    us_email_check(normal) != NULL)
			continue;
		v[k] = us_arena_strdup(a, normal);
		if (v[k] == NULL)
			return US_EEXHAUSTED;
		o[k++] = i;
	}
	*valid = v;
	*origin = o;
	*n_valid = k;
	return US_OK;
}

us_err identity_lookup_emails(us_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **reply)
{
	const Usher__V1__LookupEmailsRequest *req = (const Usher__V1__LookupEmailsRequest *)request;
	if (req->n_emails > US_BATCH_MAX)
		us_call_violation(call, "emails", "must list at most %d addresses",
		                  US_BATCH_MAX);
	const char *why = req->user_id[0] != '\0' ? us_uuid_check(req->user_id) : NULL;
	if (why != NULL)
		us_call_violation(call, "user_id", "%s", why);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	us_arena *a = us_call_arena(call);
	Usher__V1__LookupEmailsReply *out = US_ARENA_NEW(a, Usher__V1__LookupEmailsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__lookup_emails_reply__init(out);

	/* The inviter with the invitees: CreateInvitations asks both in one call. */
	us_err rc = US_OK;
	if (req->user_id[0] != '\0')
		rc = identity_store_get_user(us_call_db(call), a, req->user_id, &out->user);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "user not found");
	if (rc != US_OK)
		return rc;

	const char **valid = NULL;
	size_t *origin = NULL, n_valid = 0;
	if (req->n_emails > 0)
		rc = normalise_all(call, req->emails, req->n_emails, &valid, &origin, &n_valid);
	if (rc != US_OK)
		return rc;
	identity_email_hit *hits = NULL;
	size_t n_hits = 0;
	if (n_valid > 0)
		rc = identity_store_lookup_emails(us_call_db(call), a, valid, n_valid,
		                                  us_call_remaining_ms(call), &hits, &n_hits);
	if (rc != US_OK)
		return rc;

	Usher__V1__EmailMatch *matches = US_ARENA_ARRAY(a, Usher__V1__EmailMatch, n_hits + 1);
	out->matches = US_ARENA_ARRAY(a, Usher__V1__EmailMatch *, n_hits + 1);
	if (matches == NULL || out->matches == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n_hits; i++) {
		Usher__V1__EmailMatch *m = &matches[i];
		usher__v1__email_match__init(m);
		m->email = req->emails[origin[hits[i].index]];
		m->user_id = hits[i].user_id;
		m->name = hits[i].name;
		m->email_verified = hits[i].email_verified;
		out->matches[i] = m;
	}
	out->n_matches = n_hits;
	*reply = &out->base;
	return US_OK;
}
