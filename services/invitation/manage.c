#include "manage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "access.h"
#include "common/audit.h"
#include "context.h"
#include "cursor.h"
#include "links.h"
#include "common/limits.h"
#include "common/log.h"
#include "peers.h"
#include "store.h"
#include "upstream.h"
#include "common/validate.h"
#include "view.h"

/* The actor; "" for a service principal, which acts within its own scope. */
static us_err need_actor(us_call *call, const char **actor)
{
	*actor = us_call_actor_user_id(call);
	if ((*actor)[0] == '\0' && us_call_principal(call) == NULL)
		return us_call_error(call, US_EUNAUTHENTICATED, "sign in to manage invitations");
	return US_OK;
}

/* The invitation, if the actor may do action on it; NOT_FOUND alike when it does not
 * exist and when it belongs where the actor has no say. */
static us_err load_for_actor(us_call *call, invitation_peer *p, const char *id, const char *action,
                             const char **actor, invitation_row *row)
{
	us_err rc = need_actor(call, actor);
	if (rc != US_OK)
		return rc;
	if (us_uuid_check(id) != NULL) {
		us_call_violation(call, "invitation_id", "must be a UUID");
		return us_call_invalid(call);
	}
	rc = invitation_store_get_by_id(us_call_db(call), us_call_arena(call), id, row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "invitation not found");
	if (rc != US_OK)
		return rc;
	return invitation_authorize_on(call, p, *actor, row, action);
}

/* The invitation as it is now, for a reply. */
static us_err current(us_call *call, const char *id, Usher__V1__Invitation **out)
{
	invitation_row row;
	us_err rc = invitation_store_get_by_id(us_call_db(call), us_call_arena(call), id, &row);
	if (rc != US_OK)
		return rc;
	*out = invitation_view(us_call_arena(call), &row);
	return *out != NULL ? US_OK : US_EEXHAUSTED;
}

us_err invitation_get_invitation(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__InvitationRef *req = (const Usher__V1__InvitationRef *)request;
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	const char *actor;
	invitation_row row;
	us_err rc = load_for_actor(call, &p, req->invitation_id, "invitation.list", &actor, &row);
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	Usher__V1__GetInvitationReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                  Usher__V1__GetInvitationReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__get_invitation_reply__init(out);
	out->invitation = invitation_view(us_call_arena(call), &row);
	if (out->invitation == NULL)
		return US_EEXHAUSTED;
	*reply = &out->base;
	return US_OK;
}

/* The refusal for acting on an invitation that is no longer open. */
static us_err refuse_closed(us_call *call, const invitation_row *row, const char *verb)
{
	return us_call_error(call, US_EPRECONDITION, "cannot %s an invitation that was %s", verb,
	                     row->state);
}

us_err invitation_revoke(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__InvitationRef *req = (const Usher__V1__InvitationRef *)request;
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	const char *actor;
	invitation_row row;
	us_err rc = load_for_actor(call, &p, req->invitation_id, "invitation.revoke", &actor, &row);
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	bool done = false;
	rc = invitation_store_revoke(us_call_db(call), row.id, "revoked by an admin", &done);
	if (rc != US_OK)
		return rc;
	if (!done)
		return refuse_closed(call, &row, "revoke");
	rc = us_audit_record(call, &(us_audit_entry){.account_id = row.account_id,
	                                             .action = "invitation.revoke",
	                                             .subject_type = "invitation",
	                                             .subject_id = row.id,
	                                             .subject_email = row.email});
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "invitation revoked", "invitation_id", row.id, NULL);
	Usher__V1__RevokeReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__RevokeReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__revoke_reply__init(out);
	rc = current(call, row.id, &out->invitation);
	*reply = &out->base;
	return rc;
}

void invitation_reinvite_strip_link(ProtobufCMessage *reply)
{
	((Usher__V1__ReinviteReply *)reply)->link = (char *)"";
}

us_err invitation_reinvite_replay(us_call *call, const ProtobufCMessage *request,
                                  ProtobufCMessage *stored, ProtobufCMessage **reply)
{
	(void)call;
	(void)request;
	*reply = stored;
	return US_OK;
}

us_err invitation_reinvite(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__InvitationRef *req = (const Usher__V1__InvitationRef *)request;
	us_arena *a = us_call_arena(call);
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	const char *actor;
	invitation_row row;
	us_err rc = load_for_actor(call, &p, req->invitation_id, "invitation.resend", &actor, &row);
	if (rc != US_OK)
		goto out;
	if (strcmp(row.state, "pending") != 0 && strcmp(row.state, "expired") != 0) {
		rc = refuse_closed(call, &row, "resend");
		goto out;
	}
	/* Resending grants again: the actor must still be allowed to grant what it grants. */
	rc = invitation_authorize_grant(call, &p, actor, row.account_id, (Usher__V1__Role)row.role,
	                         invitation_view_scope(a, &row), row.products, row.n_products,
	                         row.flags, row.n_flags);
	Usher__V1__Account *account = NULL;
	if (rc == US_OK)
		rc = invitation_account_for_invite(call, &p, row.account_id, 0, &account);
	Usher__V1__LookupEmailsReply *users = NULL;
	if (rc == US_OK && (rc = invitation_peer_lookup_emails(&p, &row.email, 1, &users)) != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "looking up the invitee");
	invitation_link_secret link;
	if (rc == US_OK)
		rc = invitation_link_new(p.ctx, a, &link);
	invitation_reinvite_result result = INVITATION_REINVITE_DONE;
	if (rc == US_OK)
		rc = invitation_store_reinvite(us_call_db(call), row.id, link.hash_hex,
		                    row.send_email ? link.sealed : NULL,
		                    users->n_matches > 0 && users->matches[0]->email_verified,
		                    (int)account->invitation_expiry_hours,
		                    p.ctx->settings.reinvite_min_interval_s, &result);
	if (rc != US_OK)
		goto out;
	switch (result) {
	case INVITATION_REINVITE_DONE:
		break;
	case INVITATION_REINVITE_TOO_SOON:
		rc = us_call_error(call, US_EEXHAUSTED,
		                   "this invitation was sent less than %lld seconds ago; try again later",
		                   (long long)p.ctx->settings.reinvite_min_interval_s);
		goto out;
	case INVITATION_REINVITE_SUPERSEDED:
		rc = us_call_error(call, US_EEXISTS, "a newer invitation to this address is pending");
		goto out;
	case INVITATION_REINVITE_NOT_OPEN:
		rc = refuse_closed(call, &row, "resend");
		goto out;
	}
	rc = us_audit_record(call, &(us_audit_entry){.account_id = row.account_id,
	                                             .action = "invitation.resend",
	                                             .subject_type = "invitation",
	                                             .subject_id = row.id,
	                                             .subject_email = row.email});
	if (rc != US_OK)
		goto out;
	us_log_fields(US_LOG_INFO, "invitation resent", "invitation_id", row.id, NULL);
	Usher__V1__ReinviteReply *out = US_ARENA_NEW(a, Usher__V1__ReinviteReply);
	if (out == NULL) {
		rc = US_EEXHAUSTED;
		goto out;
	}
	usher__v1__reinvite_reply__init(out);
	/* The caller delivers it: the new link is returned, this once. */
	if (!row.send_email && (out->link = invitation_link_url(p.ctx, a, "i", link.token)) == NULL)
		rc = US_EEXHAUSTED;
	sodium_memzero(link.token, sizeof(link.token));
	if (rc == US_OK)
		rc = current(call, row.id, &out->invitation);
	*reply = &out->base;
out:
	invitation_peer_clear(&p);
	return rc;
}

/* The list a page token belongs to. */
static invitation_cursor_scope cursor_scope(const invitation_list_query *q)
{
	return (invitation_cursor_scope){
	        .account_id = q->account_id,
	        .state = q->state,
	        .email_contains = q->email_contains != NULL ? q->email_contains : "",
	        .subaccount_id = q->subaccount_id != NULL ? q->subaccount_id : "",
	};
}

/* The token of the page after last. */
static char *page_token(us_call *call, const invitation_list_query *q, const us_page_cursor *last)
{
	const invitation_ctx *ctx = us_call_service_ctx(call);
	char *out = us_arena_alloc(us_call_arena(call), INVITATION_CURSOR_LEN + 1);
	invitation_cursor_scope scope = cursor_scope(q);
	if (out != NULL)
		invitation_cursor_encode(ctx->cursor_key, &scope, last, out);
	return out;
}

static void validate_list(us_call *call, const Usher__V1__ListInvitationsRequest *req,
                          invitation_list_query *q, us_page_cursor *after, char *email_buf,
                          size_t email_size)
{
	if (us_uuid_check(req->account_id) != NULL)
		us_call_violation(call, "account_id", "must be a UUID");
	if ((int)req->state < 0 || req->state > USHER__V1__INVITATION_STATE__INVITATION_EXPIRED)
		us_call_violation(call, "state", "is not an invitation state");
	if (strlen(req->email_contains) > US_EMAIL_MAX ||
	    us_email_normalize(req->email_contains, email_buf, email_size) != 0)
		us_call_violation(call, "email_contains", "must be at most %d characters", US_EMAIL_MAX);
	if (req->subaccount_id[0] != '\0' && us_uuid_check(req->subaccount_id) != NULL)
		us_call_violation(call, "subaccount_id", "must be a UUID");
	if (req->summary_only && req->state != USHER__V1__INVITATION_STATE__INVITATION_PENDING)
		us_call_violation(call, "summary_only", "needs state INVITATION_PENDING");
	if (req->page_size > INVITATION_PAGE_SIZE_MAX)
		us_call_violation(call, "page_size", "must be at most %d", INVITATION_PAGE_SIZE_MAX);
	q->account_id = req->account_id;
	q->state = (int)req->state;
	q->email_contains = email_buf[0] != '\0' ? email_buf : NULL;
	q->subaccount_id = req->subaccount_id[0] != '\0' ? req->subaccount_id : NULL;
	q->subaccounts_only = false;
	q->page_size = req->page_size ? req->page_size : US_PAGE_SIZE_DEFAULT;
	q->after = NULL;
	/* Checked against the list as the other fields name it: a token of another account's
	 * list, or of other filters, is refused. */
	const invitation_ctx *ctx = us_call_service_ctx(call);
	invitation_cursor_scope scope = cursor_scope(q);
	if (req->page_token[0] != '\0') {
		if (strlen(req->page_token) > INVITATION_CURSOR_LEN ||
		    !invitation_cursor_decode(ctx->cursor_key, &scope, req->page_token, after))
			us_call_violation(call, "page_token", "is not a token from a previous page of this list");
		else
			q->after = after;
	}
}

/* A page of full invitations into out; q->page_size is want + 1. */
static us_err list_rows(us_call *call, const invitation_list_query *q, unsigned want,
                        Usher__V1__ListInvitationsReply *out)
{
	us_arena *a = us_call_arena(call);
	invitation_row *rows;
	size_t n;
	us_err rc = invitation_store_list(us_call_db(call), a, q, &rows, &n);
	if (rc != US_OK)
		return rc;
	size_t shown = n > want ? want : n;
	Usher__V1__Invitation **items = US_ARENA_ARRAY(a, Usher__V1__Invitation *, shown ? shown : 1);
	if (items == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < shown; i++) {
		if ((items[i] = invitation_view(a, &rows[i])) == NULL)
			return US_EEXHAUSTED;
	}
	out->invitations = items;
	out->n_invitations = shown;
	if (n > want) {
		us_page_cursor last = {.created_us = rows[want - 1].created_us};
		snprintf(last.id, sizeof(last.id), "%s", rows[want - 1].id);
		out->next_page_token = page_token(call, q, &last);
	}
	return out->next_page_token != NULL ? US_OK : US_EEXHAUSTED;
}

/* A page of pending invitations with only what an export shows (summary_only). */
static us_err list_summaries(us_call *call, const invitation_list_query *q, unsigned want,
                             Usher__V1__ListInvitationsReply *out)
{
	us_arena *a = us_call_arena(call);
	invitation_summary *rows;
	size_t n;
	us_err rc = invitation_store_list_pending_summaries(us_call_db(call), a, q, &rows, &n);
	if (rc != US_OK)
		return rc;
	size_t shown = n > want ? want : n;
	Usher__V1__Invitation **items = US_ARENA_ARRAY(a, Usher__V1__Invitation *, shown ? shown : 1);
	Usher__V1__Invitation *views = US_ARENA_ARRAY(a, Usher__V1__Invitation, shown ? shown : 1);
	if (items == NULL || views == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < shown; i++) {
		Usher__V1__Invitation *v = items[i] = &views[i];
		usher__v1__invitation__init(v);
		v->id = rows[i].id;
		v->account_id = (char *)q->account_id;
		v->email = rows[i].email;
		v->role = (Usher__V1__Role)rows[i].role;
		v->state = USHER__V1__INVITATION_STATE__INVITATION_PENDING;
		v->last_sent_at = rows[i].last_sent_at;
		v->expires_at = rows[i].expires_at;
		v->send_count = (uint32_t)rows[i].send_count;
	}
	out->invitations = items;
	out->n_invitations = shown;
	if (n > want) {
		us_page_cursor last = {.created_us = rows[want - 1].created_us};
		snprintf(last.id, sizeof(last.id), "%s", rows[want - 1].id);
		out->next_page_token = page_token(call, q, &last);
	}
	return out->next_page_token != NULL ? US_OK : US_EEXHAUSTED;
}

us_err invitation_list_invitations(us_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **reply)
{
	const Usher__V1__ListInvitationsRequest *req = (const Usher__V1__ListInvitationsRequest *)request;
	us_arena *a = us_call_arena(call);
	const char *actor;
	us_err rc = need_actor(call, &actor);
	if (rc != US_OK)
		return rc;
	invitation_list_query q;
	us_page_cursor after;
	char email[256] = "";
	validate_list(call, req, &q, &after, email, sizeof(email));
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	/* Account-wide, the actor sees everything; within a subaccount only, what
	 * GetInvitation would show them: invitations scoped to it, never the organization's. */
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	/* A service principal's account was checked against its scope already: it sees the
	 * account's invitations as an account-wide member would. */
	bool account_wide = us_call_principal(call) != NULL, in_subaccount = false;
	if (!account_wide)
		rc = invitation_peer_check(&p, actor, req->account_id, "", "invitation.list", &account_wide);
	if (rc == US_OK && !account_wide && q.subaccount_id != NULL)
		rc = invitation_peer_check(&p, actor, req->account_id, q.subaccount_id, "invitation.list",
		                &in_subaccount);
	if (rc != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "checking permissions");
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	if (!account_wide && !in_subaccount)
		return us_call_error(call, US_EDENIED, "you cannot see this account's invitations");
	q.subaccounts_only = !account_wide;

	/* One row more than the page tells whether another page follows. */
	unsigned want = q.page_size;
	q.page_size = want + 1;
	Usher__V1__ListInvitationsReply *out = US_ARENA_NEW(a, Usher__V1__ListInvitationsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_invitations_reply__init(out);
	rc = req->summary_only ? list_summaries(call, &q, want, out) : list_rows(call, &q, want, out);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}
