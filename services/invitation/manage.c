#include "manage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "access.h"
#include "links.h"
#include "log.h"
#include "peers.h"
#include "state.h"
#include "store.h"
#include "upstream.h"
#include "validate.h"
#include "view.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 500

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
static us_err load_for_actor(us_call *call, peer_ctx *p, const char *id, const char *action,
                             const char **actor, inv_row *row)
{
	us_err rc = need_actor(call, actor);
	if (rc != US_OK)
		return rc;
	if (us_uuid_check(id) != NULL) {
		us_call_violation(call, "invitation_id", "must be a UUID");
		return us_call_invalid(call);
	}
	rc = store_get_by_id(us_call_db(call), us_call_arena(call), id, row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "invitation not found");
	if (rc != US_OK)
		return rc;
	return inv_authorize_on(call, p, *actor, row, action);
}

/* The invitation as it is now, for a reply. */
static us_err current(us_call *call, const char *id, Usher__V1__Invitation **out)
{
	inv_row row;
	us_err rc = store_get_by_id(us_call_db(call), us_call_arena(call), id, &row);
	if (rc != US_OK)
		return rc;
	*out = inv_view(us_call_arena(call), &row);
	return *out != NULL ? US_OK : US_EEXHAUSTED;
}

us_err inv_get_invitation(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__InvitationRef *req = (const Usher__V1__InvitationRef *)request;
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	const char *actor;
	inv_row row;
	us_err rc = load_for_actor(call, &p, req->invitation_id, "invitation.list", &actor, &row);
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	Usher__V1__GetInvitationReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                  Usher__V1__GetInvitationReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__get_invitation_reply__init(out);
	out->invitation = inv_view(us_call_arena(call), &row);
	if (out->invitation == NULL)
		return US_EEXHAUSTED;
	*reply = &out->base;
	return US_OK;
}

/* The refusal for acting on an invitation that is no longer open. */
static us_err refuse_closed(us_call *call, const inv_row *row, const char *verb)
{
	return us_call_error(call, US_EPRECONDITION, "cannot %s an invitation that was %s", verb,
	                     row->state);
}

us_err inv_revoke(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__InvitationRef *req = (const Usher__V1__InvitationRef *)request;
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	const char *actor;
	inv_row row;
	us_err rc = load_for_actor(call, &p, req->invitation_id, "invitation.revoke", &actor, &row);
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	bool done = false;
	rc = store_revoke(us_call_db(call), row.id, "revoked by an admin", &done);
	if (rc != US_OK)
		return rc;
	if (!done)
		return refuse_closed(call, &row, "revoke");
	us_log_fields(US_LOG_INFO, "invitation revoked", "invitation_id", row.id, NULL);
	Usher__V1__RevokeReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__RevokeReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__revoke_reply__init(out);
	rc = current(call, row.id, &out->invitation);
	*reply = &out->base;
	return rc;
}

us_err inv_reinvite(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__InvitationRef *req = (const Usher__V1__InvitationRef *)request;
	us_arena *a = us_call_arena(call);
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	const char *actor;
	inv_row row;
	us_err rc = load_for_actor(call, &p, req->invitation_id, "invitation.resend", &actor, &row);
	if (rc != US_OK)
		goto out;
	if (strcmp(row.state, "pending") != 0 && strcmp(row.state, "expired") != 0) {
		rc = refuse_closed(call, &row, "resend");
		goto out;
	}
	/* Resending grants again: the actor must still be allowed to grant what it grants. */
	rc = inv_authorize_grant(call, &p, actor, row.account_id, (Usher__V1__Role)row.role,
	                         inv_view_scope(a, &row), row.products, row.n_products);
	Usher__V1__Account *account = NULL;
	if (rc == US_OK)
		rc = inv_account_for_invite(call, &p, row.account_id, 0, &account);
	Usher__V1__LookupEmailsReply *users = NULL;
	if (rc == US_OK && (rc = peer_lookup_emails(&p, &row.email, 1, &users)) != US_OK)
		rc = inv_upstream_error(call, &p, rc, "looking up the invitee");
	inv_link link;
	if (rc == US_OK)
		rc = inv_link_new(a, &link);
	inv_reinvite_result result = REINVITE_DONE;
	if (rc == US_OK)
		rc = store_reinvite(us_call_db(call), row.id, link.hash_hex, link.sealed,
		                    users->n_matches > 0 && users->matches[0]->email_verified,
		                    (int)account->invitation_expiry_hours,
		                    inv.cfg.reinvite_min_interval_s, &result);
	if (rc != US_OK)
		goto out;
	switch (result) {
	case REINVITE_DONE:
		break;
	case REINVITE_TOO_SOON:
		rc = us_call_error(call, US_EEXHAUSTED,
		                   "this invitation was sent less than %lld seconds ago; try again later",
		                   (long long)inv.cfg.reinvite_min_interval_s);
		goto out;
	case REINVITE_SUPERSEDED:
		rc = us_call_error(call, US_EEXISTS, "a newer invitation to this address is pending");
		goto out;
	case REINVITE_NOT_OPEN:
		rc = refuse_closed(call, &row, "resend");
		goto out;
	}
	us_log_fields(US_LOG_INFO, "invitation resent", "invitation_id", row.id, NULL);
	Usher__V1__ReinviteReply *out = US_ARENA_NEW(a, Usher__V1__ReinviteReply);
	if (out == NULL) {
		rc = US_EEXHAUSTED;
		goto out;
	}
	usher__v1__reinvite_reply__init(out);
	rc = current(call, row.id, &out->invitation);
	*reply = &out->base;
out:
	peer_ctx_clear(&p);
	return rc;
}

/* Page tokens are base64url("<created micros>.<id>"): opaque to callers, checked here. */
static char *page_token(us_arena *a, const inv_row *last)
{
	char *raw = us_arena_printf(a, "%s.%s", last->created_micros, last->id);
	size_t len = sodium_base64_ENCODED_LEN(strlen(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = us_arena_alloc(a, len);
	if (raw == NULL || out == NULL)
		return NULL;
	sodium_bin2base64(out, len, (const unsigned char *)raw, strlen(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

static int parse_page_token(us_arena *a, const char *token, char **micros, char **id)
{
	char raw[96];
	size_t len = 0;
	if (strlen(token) > 120 || !us_base64_chars(token, strlen(token)) ||
	    sodium_base642bin((unsigned char *)raw, sizeof(raw) - 1, token, strlen(token), NULL, &len,
	                      NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	raw[len] = '\0';
	char *dot = strchr(raw, '.');
	if (dot == NULL || dot == raw || dot - raw > 19 || us_uuid_check(dot + 1) != NULL)
		return -1;
	for (char *p = raw; p < dot; p++) {
		if (*p < '0' || *p > '9')
			return -1;
	}
	*dot = '\0';
	*micros = us_arena_strdup(a, raw);
	*id = us_arena_strdup(a, dot + 1);
	return *micros != NULL && *id != NULL ? 0 : -1;
}

static void validate_list(us_call *call, const Usher__V1__ListInvitationsRequest *req,
                          inv_list_query *q, char *email_buf, size_t email_size)
{
	if (us_uuid_check(req->account_id) != NULL)
		us_call_violation(call, "account_id", "must be a UUID");
	if ((int)req->state < 0 || req->state > USHER__V1__INVITATION_STATE__INVITATION_EXPIRED)
		us_call_violation(call, "state", "is not an invitation state");
	if (strlen(req->email_contains) > 254 ||
	    us_email_normalize(req->email_contains, email_buf, email_size) != 0)
		us_call_violation(call, "email_contains", "must be at most 254 characters");
	if (req->subaccount_id[0] != '\0' && us_uuid_check(req->subaccount_id) != NULL)
		us_call_violation(call, "subaccount_id", "must be a UUID");
	if (req->page_size > PAGE_MAX)
		us_call_violation(call, "page_size", "must be at most %d", PAGE_MAX);
	char *micros = NULL, *id = NULL;
	if (req->page_token[0] != '\0' &&
	    parse_page_token(us_call_arena(call), req->page_token, &micros, &id) != 0)
		us_call_violation(call, "page_token", "is not a token from a previous page");
	q->account_id = req->account_id;
	q->state = (int)req->state;
	q->email_contains = email_buf[0] != '\0' ? email_buf : NULL;
	q->subaccount_id = req->subaccount_id[0] != '\0' ? req->subaccount_id : NULL;
	q->subaccounts_only = false;
	q->page_size = req->page_size ? req->page_size : PAGE_DEFAULT;
	q->after_created = micros;
	q->after_id = id;
}

us_err inv_list_invitations(us_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **reply)
{
	const Usher__V1__ListInvitationsRequest *req = (const Usher__V1__ListInvitationsRequest *)request;
	us_arena *a = us_call_arena(call);
	const char *actor;
	us_err rc = need_actor(call, &actor);
	if (rc != US_OK)
		return rc;
	inv_list_query q;
	char email[256] = "";
	validate_list(call, req, &q, email, sizeof(email));
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	/* Account-wide, the actor sees everything; within a subaccount only, what
	 * GetInvitation would show them: invitations scoped to it, never the organization's. */
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	/* A service principal's account was checked against its scope already: it sees the
	 * account's invitations as an account-wide member would. */
	bool account_wide = us_call_principal(call) != NULL, in_subaccount = false;
	if (!account_wide)
		rc = peer_check(&p, actor, req->account_id, "", "invitation.list", &account_wide);
	if (rc == US_OK && !account_wide && q.subaccount_id != NULL)
		rc = peer_check(&p, actor, req->account_id, q.subaccount_id, "invitation.list",
		                &in_subaccount);
	if (rc != US_OK)
		rc = inv_upstream_error(call, &p, rc, "checking permissions");
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	if (!account_wide && !in_subaccount)
		return us_call_error(call, US_EDENIED, "you cannot see this account's invitations");
	q.subaccounts_only = !account_wide;

	/* One row more than the page tells whether another page follows. */
	unsigned want = q.page_size;
	q.page_size = want + 1;
	inv_row *rows;
	size_t n;
	rc = store_list(us_call_db(call), a, &q, &rows, &n);
	if (rc != US_OK)
		return rc;
	Usher__V1__ListInvitationsReply *out = US_ARENA_NEW(a, Usher__V1__ListInvitationsReply);
	size_t shown = n > want ? want : n;
	Usher__V1__Invitation **items = US_ARENA_ARRAY(a, Usher__V1__Invitation *, shown ? shown : 1);
	if (out == NULL || items == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_invitations_reply__init(out);
	for (size_t i = 0; i < shown; i++) {
		if ((items[i] = inv_view(a, &rows[i])) == NULL)
			return US_EEXHAUSTED;
	}
	out->invitations = items;
	out->n_invitations = shown;
	out->next_page_token = n > want ? page_token(a, &rows[want - 1]) : "";
	if (out->next_page_token == NULL)
		return US_EEXHAUSTED;
	*reply = &out->base;
	return US_OK;
}
