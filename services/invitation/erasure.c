#include "erasure.h"

#include <string.h>

#include "common/db.h"
#include "common/erasure.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/validate.h"
#include "peers.h"
#include "store.h"

#define STEP_TIMEOUT_MS 10000

static Usher__V1__EraseUserRequest *step_request(us_arena *a, const invitation_erasure *e)
{
	Usher__V1__EraseUserRequest *req = US_ARENA_NEW(a, Usher__V1__EraseUserRequest);
	if (req == NULL)
		return NULL;
	usher__v1__erase_user_request__init(req);
	req->user_id = e->user_id;
	req->email = e->email;
	req->name = e->name;
	req->pseudonym_id = e->pseudonym_id;
	req->pseudonym_email = us_arena_printf(a, "erased:%s", e->pseudonym_id);
	return req->pseudonym_email != NULL ? req : NULL;
}

/* invitationd's part and the saga's end, in one transaction. */
static us_err finish(PGconn *db, const invitation_erasure *e, const Usher__V1__EraseUserRequest *req)
{
	long rows = 0;
	us_err rc = us_db_begin(db);
	if (rc == US_OK)
		rc = invitation_store_erase_user(db, req, &rows);
	if (rc == US_OK)
		rc = us_erasure_common(db, req, &rows);
	if (rc == US_OK)
		rc = invitation_store_erasure_finish(db, e->id);
	if (rc == US_OK)
		rc = us_db_commit(db);
	if (rc != US_OK)
		us_db_rollback(db);
	return rc;
}

/* Runs every step of e; on a failure the claim is let go, so the recovery loop resumes. */
static us_err run(const invitation_ctx *ctx, PGconn *db, us_arena *a, const invitation_erasure *e)
{
	Usher__V1__EraseUserRequest *req = step_request(a, e);
	if (req == NULL)
		return US_EEXHAUSTED;
	invitation_peer p = {.ctx = ctx, .arena = a};
	us_status_init(&p.status);
	p.opts.timeout_ms = STEP_TIMEOUT_MS;
	p.opts.request_id = us_arena_printf(a, "erasure-%s", e->id);
	/* identityd first: the person can no longer sign in, whatever follows. */
	us_err rc = invitation_peer_erase_user(&p, ctx->identity, req);
	us_fault_point("erasure.after_identity");
	if (rc == US_OK)
		rc = invitation_peer_erase_user(&p, ctx->tenancy, req);
	us_fault_point("erasure.after_tenancy");
	if (rc == US_OK)
		rc = invitation_peer_erase_user(&p, ctx->notification, req);
	if (rc == US_OK)
		rc = finish(db, e, req);
	if (rc == US_OK)
		us_log_fields(US_LOG_INFO, "user erased", "erasure_id", e->id, NULL);
	else {
		us_log_fields(US_LOG_WARN, "user erasure interrupted; the recovery loop resumes it",
		              "erasure_id", e->id, "error", p.status.message, NULL);
		if (invitation_store_erasure_let_go(db, e->id) != US_OK)
			us_warn("could not let go of an erasure; it waits for ACCEPT_STALE_S");
	}
	invitation_peer_clear(&p);
	return rc;
}

us_err invitation_delete_user(us_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **reply)
{
	const Usher__V1__DeleteUserRequest *req = (const Usher__V1__DeleteUserRequest *)request;
	if (us_uuid_check(req->user_id) != NULL) {
		us_call_violation(call, "user_id", "must be a UUID");
		return us_call_invalid(call);
	}
	const invitation_ctx *ctx = us_call_service_ctx(call);
	us_arena *a = us_call_arena(call);
	PGconn *db = us_call_db(call);
	invitation_erasure e;
	us_err rc = invitation_store_erasure_get(db, a, req->user_id, &e);
	if (rc == US_ENOTFOUND) {
		invitation_peer p;
		invitation_peer_from_call(&p, call);
		p.opts.actor_user_id = NULL;
		Usher__V1__User *user = NULL;
		rc = invitation_peer_get_user(&p, req->user_id, &user);
		invitation_peer_clear(&p);
		if (rc == US_ENOTFOUND)
			return us_call_error(call, US_ENOTFOUND, "no such user");
		if (rc != US_OK)
			return us_call_error(call, US_EUNAVAILABLE, "could not read the user; try again");
		rc = invitation_store_erasure_begin(db, a, req->user_id, user->email, user->name, &e);
	}
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "user erasure requested", "erasure_id", e.id, "by",
	              us_call_caller_name(call), NULL);
	if (strcmp(e.state, "done") != 0 && run(ctx, db, a, &e) == US_OK)
		e.state = "done";
	Usher__V1__DeleteUserReply *out = US_ARENA_NEW(a, Usher__V1__DeleteUserReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__delete_user_reply__init(out);
	out->erasure_id = e.id;
	out->state = e.state;
	out->pseudonym_id = e.pseudonym_id;
	*reply = &out->base;
	return US_OK;
}

us_err invitation_erase_user(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	return us_erasure_step(call, request, invitation_store_erase_user, reply);
}

us_err invitation_erasure_recover_one(const invitation_ctx *ctx, PGconn *db, us_arena *a,
                                      bool *found)
{
	invitation_erasure e;
	us_err rc = invitation_store_erasure_take(db, a, ctx->settings.accept_stale_s, &e);
	*found = rc == US_OK;
	if (rc == US_ENOTFOUND)
		return US_OK;
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "interrupted user erasure resumed", "erasure_id", e.id, NULL);
	return run(ctx, db, a, &e);
}
