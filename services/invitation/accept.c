#include "accept.h"

#include <string.h>

#include "common/db.h"
#include "common/fault.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/validate.h"
#include "links.h"
#include "peers.h"
#include "saga.h"
#include "settings.h"
#include "store.h"
#include "upstream.h"
#include "view.h"

/* The invitation a link's token opens. A malformed token and an unknown one get the same
 * NOT_FOUND: the reply tells nothing about which tokens exist. */
static us_err load_by_token(us_call *call, const char *token, invitation_row *row)
{
	us_token_hashes hashes;
	if (strlen(token) > INVITATION_TOKEN_MAX ||
	    invitation_link_hashes(us_call_service_ctx(call), token, &hashes) != US_OK)
		return us_call_error(call, US_ENOTFOUND, "invitation not found");
	/* Under the current key, else a previous one still in its time (a rotation). */
	us_err rc = US_ENOTFOUND;
	for (size_t i = 0; i < hashes.n && rc == US_ENOTFOUND; i++)
		rc = invitation_store_get_by_token(us_call_db(call), us_call_arena(call), hashes.hash[i], row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "invitation not found");
	return rc;
}

/* The invitation a request names: by its link's token, or by id (My accounts, where the
 * invitee proves who they are by their session instead). An unknown id is answered as an
 * unknown token. */
static us_err load_named(us_call *call, const char *token, const char *invitation_id,
                         invitation_row *row)
{
	if (invitation_id[0] == '\0')
		return load_by_token(call, token, row);
	us_err rc = invitation_store_get_by_id(us_call_db(call), us_call_arena(call), invitation_id,
	                                       row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "invitation not found");
	return rc;
}

/* Exactly one of a token and an invitation id. */
static void validate_named(us_call *call, const char *token, const char *invitation_id)
{
	if ((token[0] == '\0') == (invitation_id[0] == '\0'))
		us_call_violation(call, "token", "give either the link's token or the invitation's id");
	else if (invitation_id[0] != '\0' && us_uuid_check(invitation_id) != NULL)
		us_call_violation(call, "invitation_id", "must be a UUID");
}

/* Refuses, saying why, a link that can no longer be used. */
static us_err refuse_unless_open(us_call *call, const invitation_row *row)
{
	switch (invitation_view_state(row)) {
	case USHER__V1__INVITATION_STATE__INVITATION_PENDING:
		return US_OK;
	case USHER__V1__INVITATION_STATE__INVITATION_ACCEPTING:
		return us_call_error(call, US_EABORTED,
		                     "this invitation is being accepted; try again in a moment");
	case USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED:
		return us_call_error(call, US_EPRECONDITION, "this invitation has already been accepted");
	case USHER__V1__INVITATION_STATE__INVITATION_DECLINED:
		return us_call_error(call, US_EPRECONDITION, "this invitation was declined");
	case USHER__V1__INVITATION_STATE__INVITATION_REVOKED:
		return us_call_error(call, US_EPRECONDITION, "this invitation was revoked");
	case USHER__V1__INVITATION_STATE__INVITATION_EXPIRED:
		return us_call_error(call, US_EPRECONDITION,
		                     "this invitation has expired; ask %s to send a new one",
		                     row->inviter_name);
	default:
		return us_call_error(call, US_EINTERNAL, "internal error");
	}
}

/* After a lost race for the claim, the reason the link is no longer open. */
static us_err refuse_after_race(us_call *call, const char *token, const char *invitation_id)
{
	invitation_row now;
	us_err rc = load_named(call, token, invitation_id, &now);
	if (rc != US_OK)
		return rc;
	rc = refuse_unless_open(call, &now);
	return rc != US_OK ? rc
	                   : us_call_error(call, US_EABORTED, "this invitation changed; try again");
}

us_err invitation_preview(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__PreviewRequest *req = (const Usher__V1__PreviewRequest *)request;
	us_arena *a = us_call_arena(call);
	invitation_row row;
	us_err rc = load_by_token(call, req->token, &row);
	if (rc != US_OK)
		return rc;
	/* Whether to offer sign-in or sign-up is decided now, not when it was sent. */
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	Usher__V1__LookupEmailsReply *users;
	rc = invitation_peer_lookup_emails(&p, &row.email, 1, &users);
	if (rc != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "looking up the invitee");
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	Usher__V1__PreviewReply *out = US_ARENA_NEW(a, Usher__V1__PreviewReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__preview_reply__init(out);
	out->account_name = row.account_name;
	out->inviter_name = row.inviter_name;
	out->role = (Usher__V1__Role)row.role;
	out->state = invitation_view_state(&row);
	out->email = row.email;
	out->expires_at = row.expires_at;
	/* Only a proven address makes its user the invitee: a mere claim is offered sign-up,
	 * which takes the address over. */
	out->existing_user = users->n_matches > 0 && users->matches[0]->email_verified;
	out->products = row.products;
	out->n_products = row.n_products;
	*reply = &out->base;
	return US_OK;
}

static void validate_accept(us_call *call, const Usher__V1__AcceptRequest *req)
{
	bool has_profile = req->new_user != NULL;
	bool has_session = req->session_token[0] != '\0';
	validate_named(call, req->token, req->invitation_id);
	if (req->invitation_id[0] != '\0' && !has_session)
		us_call_violation(call, "session_token", "accepting by id is for the signed-in invitee");
	if (has_profile == has_session)
		us_call_violation(call, "new_user",
		                  "give either a new user's profile or an existing user's session");
	if (has_session && strlen(req->session_token) > US_SESSION_TOKEN_MAX)
		us_call_violation(call, "session_token", "is too long");
	if (!has_profile)
		return;
	const Usher__V1__NewUserProfile *u = req->new_user;
	const char *why = us_name_check(u->name, US_NAME_MAX_BYTES);
	if (why != NULL)
		us_call_violation(call, "new_user.name", "%s", why);
	if (u->phone[0] != '\0' && (why = us_phone_check(u->phone)) != NULL)
		us_call_violation(call, "new_user.phone", "%s", why);
	/* The password is identityd's to judge (CreateUser): its word comes back as
	 * new_user.password. */
}

/* The signed-in user, who must be the one invited (resolved: how resolving the session
 * went, *user its user when US_OK). Nothing is consumed otherwise. One
 * who only claimed the address proves it now: they hold the link that was mailed to it. */
static us_err existing_user(us_call *call, invitation_peer *p, us_err resolved, const invitation_row *row,
                            bool by_id, Usher__V1__User **user)
{
	us_err rc = resolved;
	if (rc == US_EUNAUTHENTICATED)
		return us_call_error(call, US_EUNAUTHENTICATED, "your session has ended; sign in again");
	if (rc == US_EINVAL) /* not a session token at all: identityd says which field */
		return invitation_upstream_invalid(call, p, "");
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "checking the session");
	if (strcmp((*user)->email, row->email) != 0)
		return us_call_error(call, US_EDENIED, "invited as %s, signed in as %s", row->email,
		                     (*user)->email[0] ? (*user)->email : "an account without an email");
	if ((*user)->email_verified)
		return US_OK;
	/* Without the link, nothing proves the address is theirs. */
	if (by_id)
		return us_call_error(call, US_EDENIED, "confirm your email address first, or accept "
		                                      "with the link in the invitation's email");
	char *key = us_arena_printf(p->arena, "accept:%s:verify", row->id);
	rc = key != NULL ? invitation_peer_confirm_email_ownership(p, key, (*user)->id, row->email, user)
	                 : US_EEXHAUSTED;
	if (rc == US_EPRECONDITION)
		return us_call_error(call, US_EDENIED, "invited as %s, signed in as someone else",
		                     row->email);
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "confirming the address");
	return US_OK;
}

/* Creates the invitee's user (verified: the link proved the address, and identityd takes
 * it from anyone who only claimed it). On a failure that leaves no user behind, the claim
 * is released so the link works again. */
static us_err create_user(us_call *call, invitation_peer *p, const Usher__V1__NewUserProfile *profile,
                          const invitation_row *row, Usher__V1__User **user)
{
	PGconn *db = us_call_db(call);
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = row->email;
	req.name = profile->name;
	req.phone = profile->phone;
	req.password = profile->password;
	req.email_verified = true;
	char *key = invitation_saga_key(p->arena, row->id);
	if (key == NULL)
		return US_EEXHAUSTED;
	us_err rc = invitation_peer_create_user(p, key, &req, user);
	if (rc == US_OK) {
		us_fault_point("accept.after_identity");
		return US_OK;
	}
	if (rc == US_EUNAVAILABLE || rc == US_EDEADLINE) {
		/* Whether the user was created is unknown: the recovery loop will find out. */
		return invitation_upstream_error(call, p, rc, "creating the user");
	}
	us_err release = invitation_store_release(db, row->id);
	if (release != US_OK)
		return release;
	if (rc == US_EEXISTS)
		return us_call_error(call, US_EPRECONDITION,
		                     "an account already exists for %s; sign in to accept", row->email);
	if (rc == US_EINVAL)
		return invitation_upstream_invalid(call, p, "new_user.");
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "%s", p->status.message);
	return invitation_upstream_error(call, p, rc, "creating the user");
}

/* The reply, from the row as loaded and what the accept changed in it. */
static us_err reply_accepted(us_call *call, const invitation_row *row, Usher__V1__Membership *membership,
                             Usher__V1__User *user, bool created, char *decided_at,
                             char *home_url, ProtobufCMessage **reply)
{
	us_arena *a = us_call_arena(call);
	invitation_row now = *row;
	now.state = "accepted";
	now.expired = false;
	now.accepted_user_id = user->id;
	now.decided_at = decided_at != NULL ? decided_at : "";
	Usher__V1__AcceptReply *out = US_ARENA_NEW(a, Usher__V1__AcceptReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__accept_reply__init(out);
	out->invitation = invitation_view(a, &now);
	out->membership = membership;
	out->user = user;
	out->user_created = created;
	/* The finish read the home URL with itself: one round trip less. */
	if (row->redirect_url[0] == '\0' && home_url != NULL) {
		out->next_url = home_url;
	} else {
		us_err rc = invitation_next_url(call, row->account_id, row->redirect_url, &out->next_url);
		if (rc != US_OK)
			return rc;
	}
	*reply = &out->base;
	return out->invitation != NULL ? US_OK : US_EEXHAUSTED;
}

/* What knows this request again when it is retried: the token and the profile, or the
 * session. */
static void accept_request_hash(const invitation_ctx *ctx, const Usher__V1__AcceptRequest *req,
                                char out[INVITATION_REQUEST_HASH_HEX])
{
	const Usher__V1__NewUserProfile *u = req->new_user;
	const char *fields[] = {"accept", req->token, req->invitation_id, u ? "new" : "session", u ? u->name : "",
	                        u ? u->phone : "", u ? u->password : req->session_token};
	invitation_request_hash(ctx, fields, sizeof(fields) / sizeof(fields[0]), out);
}

/* Replies to a finished saga step, as the first accept and a retry alike. */
static us_err reply_to_saga(us_call *call, invitation_peer *p, const invitation_row *row, invitation_saga_result result,
                            Usher__V1__Membership *membership, Usher__V1__User *user,
                            bool new_user, char *decided_at, char *home_url,
                            ProtobufCMessage **reply)
{
	switch (result) {
	case INVITATION_SAGA_ACCEPTED:
		return reply_accepted(call, row, membership, user, new_user, decided_at, home_url, reply);
	case INVITATION_SAGA_ALREADY_MEMBER:
		return us_call_error(call, US_EEXISTS, "you are already a member of %s", row->account_name);
	case INVITATION_SAGA_REVOKED:
		/* tenancyd's reason is recorded for admins; the invitee reads what to do. */
		if (row->invited_by_principal[0] != '\0') /* a service invited: no one to ask */
			return us_call_error(call, US_EPRECONDITION,
			                     "this invitation can no longer be accepted; ask an admin of "
			                     "%s to invite you again",
			                     row->account_name);
		return us_call_error(call, US_EPRECONDITION,
		                     "this invitation can no longer be accepted: %s may no longer "
		                     "grant it; ask them or another admin of %s to invite you again",
		                     row->inviter_name, row->account_name);
	case INVITATION_SAGA_RETRY:
	default:
		return invitation_upstream_error(call, p, US_EUNAVAILABLE, "granting the membership");
	}
}

/* The invitation is accepting or accepted: by this very request (a retry whose answer was
 * lost, say when invitationd died), or by its invitee signed in again, the accept is
 * resumed or its success replayed; anybody else is refused as before. Every step is keyed
 * by the invitation, so nothing is done twice; the invitation is locked meanwhile, apart
 * from the recovery loop. */
static us_err accept_again(us_call *call, invitation_peer *p, const Usher__V1__AcceptRequest *req,
                           const char *hash, const invitation_row *row, ProtobufCMessage **reply)
{
	PGconn *db = us_call_db(call);
	us_arena *a = us_call_arena(call);
	bool new_user = req->new_user != NULL;
	Usher__V1__User *user = NULL;
	bool same;
	if (new_user) {
		same = invitation_request_hash_equal(hash, row->accept_request_hash);
	} else {
		us_err rc = invitation_peer_resolve_session(p, req->session_token, &user);
		if (rc == US_EUNAUTHENTICATED)
			return us_call_error(call, US_EUNAUTHENTICATED, "your session has ended; sign in again");
		if (rc != US_OK)
			return invitation_upstream_error(call, p, rc, "checking the session");
		same = strcmp(user->id, row->accepted_user_id) == 0;
	}
	/* Anybody else hears what they heard before: being accepted, or already accepted. */
	if (!same)
		return refuse_unless_open(call, row);

	us_err rc = us_db_begin(db);
	invitation_row now;
	if (rc == US_OK)
		rc = us_db_set_local_timeout(db, us_call_remaining_ms(call));
	if (rc == US_OK)
		rc = invitation_store_get_locked(db, a, row->id, &now);
	if (rc == US_OK && strcmp(now.state, "accepting") != 0 && strcmp(now.state, "accepted") != 0) {
		/* Released meanwhile (no user had been created): the link works again. */
		us_db_rollback(db);
		return us_call_error(call, US_EABORTED, "this invitation changed; try again");
	}
	if (rc != US_OK) {
		us_db_rollback(db);
		return rc;
	}
	bool accepted = strcmp(now.state, "accepted") == 0;
	/* A recovery loop that took this accept before leaves it to this request now. */
	if (!accepted)
		rc = invitation_store_touch(db, now.id);
	if (rc == US_OK && new_user)
		rc = create_user(call, p, req->new_user, &now, &user);
	if (rc == US_OK && accepted) {
		/* Replayed only while the membership it made lasts. */
		Usher__V1__MembersAmongReply *members;
		rc = invitation_peer_members_among(p, now.account_id, &user->id, 1, &members);
		if (rc != US_OK)
			rc = invitation_upstream_error(call, p, rc, "looking up members");
		else if (members->n_user_ids == 0 || strcmp(user->id, now.accepted_user_id) != 0)
			rc = refuse_unless_open(call, &now);
	}
	invitation_saga_result result = INVITATION_SAGA_RETRY;
	Usher__V1__Membership *membership = NULL;
	char *decided_at = NULL, *home_url = NULL;
	if (rc == US_OK)
		rc = invitation_saga_finish(db, p, &now, user->id, &result, &membership, &decided_at,
		                            &home_url);
	/* Committed whatever the outcome: a refused user released the claim. (A failed
	 * statement left the transaction aborted, and COMMIT then rolls it back.) */
	us_err end = us_db_commit(db);
	if (rc == US_OK)
		rc = end;
	if (rc != US_OK)
		return rc;
	if (result == INVITATION_SAGA_ACCEPTED)
		us_log_fields(US_LOG_INFO, "retried accept answered", "invitation_id", now.id, NULL);
	return reply_to_saga(call, p, &now, result, membership, user, new_user,
	                     decided_at != NULL ? decided_at : now.decided_at, home_url, reply);
}

/* A signed-in invitee's accept, the common case, in fewer round trips: the claim runs
 * while identityd checks the session (*resolved says how it went), and is committed only
 * when the session proves its user is the invitee, with a verified address; never on an
 * unchecked session's word. *claimed is false when that did not claim it (a link no longer
 * open, someone else's session, an address still to confirm, a retry, a previous key's
 * token): the long way then says why. */
static us_err claim_signed_in(us_call *call, invitation_peer *p, const Usher__V1__AcceptRequest *req,
                              const char *hash, invitation_row *row, Usher__V1__User **user,
                              us_err *resolved, bool *claimed)
{
	*claimed = false;
	PGconn *db = us_call_db(call);
	bool by_id = req->invitation_id[0] != '\0';
	us_token_hashes hashes;
	bool has_hash = !by_id && strlen(req->token) <= INVITATION_TOKEN_MAX &&
	                invitation_link_hashes(us_call_service_ctx(call), req->token, &hashes) ==
	                        US_OK && hashes.n > 0;
	bool ahead = (by_id || has_hash) &&
	             invitation_store_claim_ahead_send(db, by_id ? NULL : hashes.hash[0],
	                                               by_id ? req->invitation_id : NULL,
	                                               hash) == US_OK;
	*resolved = invitation_peer_resolve_session(p, req->session_token, user);
	bool proven = *resolved == US_OK && (*user)->email_verified;
	if (!ahead)
		return US_OK;
	return invitation_store_claim_ahead_end(db, us_call_arena(call), proven ? (*user)->email : NULL,
	                                        proven ? (*user)->id : NULL, row, claimed);
}

us_err invitation_accept(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__AcceptRequest *req = (const Usher__V1__AcceptRequest *)request;
	PGconn *db = us_call_db(call);
	validate_accept(call, req);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	char hash[INVITATION_REQUEST_HASH_HEX];
	accept_request_hash(us_call_service_ctx(call), req, hash);
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	invitation_row row;
	Usher__V1__User *user = NULL;
	bool new_user = req->new_user != NULL;
	bool claimed = false;
	us_err resolved = US_OK;
	us_err rc = new_user ? US_OK
	                     : claim_signed_in(call, &p, req, hash, &row, &user, &resolved, &claimed);
	if (rc != US_OK || claimed)
		goto claimed;

	rc = load_named(call, req->token, req->invitation_id, &row);
	if (rc != US_OK) {
		invitation_peer_clear(&p);
		return rc;
	}
	if (strcmp(row.state, "accepting") == 0 || strcmp(row.state, "accepted") == 0) {
		rc = accept_again(call, &p, req, hash, &row, reply);
		invitation_peer_clear(&p);
		return rc;
	}
	rc = refuse_unless_open(call, &row);

	if (rc == US_OK && new_user) {
		Usher__V1__LookupEmailsReply *users;
		rc = invitation_peer_lookup_emails(&p, &row.email, 1, &users);
		if (rc != US_OK)
			rc = invitation_upstream_error(call, &p, rc, "looking up the invitee");
		else if (users->n_matches > 0 && users->matches[0]->email_verified)
			rc = us_call_error(call, US_EPRECONDITION,
			                   "an account already exists for %s; sign in to accept", row.email);
		if (rc == US_OK)
			rc = invitation_store_claim(db, row.id, row.account_id, NULL, hash, &claimed);
	} else if (rc == US_OK) {
		rc = existing_user(call, &p, resolved, &row, req->invitation_id[0] != '\0', &user);
		if (rc == US_OK)
			rc = invitation_store_claim(db, row.id, row.account_id, user->id, hash, &claimed);
	}
	if (rc == US_OK && !claimed) {
		/* Another accept took it first: this same request's twin, or someone else's. */
		rc = load_named(call, req->token, req->invitation_id, &row);
		if (rc == US_OK && (strcmp(row.state, "accepting") == 0 || strcmp(row.state, "accepted") == 0))
			rc = accept_again(call, &p, req, hash, &row, reply);
		else if (rc == US_OK && (rc = refuse_unless_open(call, &row)) == US_OK)
			rc = us_call_error(call, US_EABORTED, "this invitation changed; try again");
		invitation_peer_clear(&p);
		return rc;
	}
claimed:
	if (rc == US_OK)
		us_fault_point("accept.after_claim");
	if (rc == US_OK && new_user)
		rc = create_user(call, &p, req->new_user, &row, &user);

	invitation_saga_result result = INVITATION_SAGA_RETRY;
	Usher__V1__Membership *membership = NULL;
	char *decided_at = NULL, *home_url = NULL;
	if (rc == US_OK)
		rc = invitation_saga_finish(db, &p, &row, user->id, &result, &membership, &decided_at,
		                            &home_url);
	if (rc == US_OK)
		rc = reply_to_saga(call, &p, &row, result, membership, user, new_user, decided_at,
		                   home_url, reply);
	invitation_peer_clear(&p);
	return rc;
}

/* Declining by id: the actor's verified address must be the invited one. Anyone else
 * hears "not found", as for an id that does not exist. */
static us_err own_invitation(us_call *call, const invitation_row *row)
{
	const char *actor = us_call_actor_user_id(call);
	if (actor[0] == '\0')
		return us_call_error(call, US_EUNAUTHENTICATED, "sign in to decline from My accounts");
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	Usher__V1__User *user;
	us_err rc = invitation_peer_get_user(&p, actor, &user);
	if (rc != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "looking up the user");
	else if (!user->email_verified || strcmp(user->email, row->email) != 0)
		rc = us_call_error(call, US_ENOTFOUND, "invitation not found");
	invitation_peer_clear(&p);
	return rc;
}

us_err invitation_decline(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__DeclineRequest *req = (const Usher__V1__DeclineRequest *)request;
	us_arena *a = us_call_arena(call);
	validate_named(call, req->token, req->invitation_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	invitation_row row;
	us_err rc = load_named(call, req->token, req->invitation_id, &row);
	if (rc == US_OK && req->invitation_id[0] != '\0')
		rc = own_invitation(call, &row);
	/* Declining twice is declining: a retry whose answer was lost gets the same answer. */
	bool declined = rc == US_OK && strcmp(row.state, "declined") == 0;
	if (rc == US_OK && !declined)
		rc = refuse_unless_open(call, &row);
	if (rc != US_OK)
		return rc;
	bool done = declined;
	if (!declined && (rc = invitation_store_decline(us_call_db(call), row.id, &done)) != US_OK)
		return rc;
	if (!done)
		return refuse_after_race(call, req->token, req->invitation_id);
	if (!declined)
		us_log_fields(US_LOG_INFO, "invitation declined", "invitation_id", row.id, NULL);
	invitation_row now;
	rc = invitation_store_get_by_id(us_call_db(call), a, row.id, &now);
	if (rc != US_OK)
		return rc;
	Usher__V1__DeclineReply *out = US_ARENA_NEW(a, Usher__V1__DeclineReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__decline_reply__init(out);
	out->invitation = invitation_view(a, &now);
	out->next_url = now.redirect_url;
	*reply = &out->base;
	return out->invitation != NULL ? US_OK : US_EEXHAUSTED;
}

us_err invitation_list_my_invitations(us_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **reply)
{
	(void)request;
	us_arena *a = us_call_arena(call);
	const char *actor = us_call_actor_user_id(call);
	if (actor[0] == '\0')
		return us_call_error(call, US_EUNAUTHENTICATED, "sign in to see your invitations");
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	Usher__V1__User *user;
	us_err rc = invitation_peer_get_user(&p, actor, &user);
	if (rc != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "looking up the user");
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	Usher__V1__ListMyInvitationsReply *out = US_ARENA_NEW(a, Usher__V1__ListMyInvitationsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_my_invitations_reply__init(out);
	*reply = &out->base;
	/* Invitations belong to an address; only a verified one proves it is theirs. */
	if (!user->email_verified)
		return US_OK;
	invitation_row *rows;
	size_t n;
	rc = invitation_store_list_for_email(us_call_db(call), a, user->email, &rows, &n);
	if (rc != US_OK)
		return rc;
	out->invitations = US_ARENA_ARRAY(a, Usher__V1__Invitation *, n ? n : 1);
	if (out->invitations == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n; i++) {
		if ((out->invitations[i] = invitation_view(a, &rows[i])) == NULL)
			return US_EEXHAUSTED;
	}
	out->n_invitations = n;
	return US_OK;
}
