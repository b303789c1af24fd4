#include "permalink.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "fault.h"
#include "join.h"
#include "links.h"
#include "log.h"
#include "peers.h"
#include "state.h"
#include "store.h"
#include "upstream.h"
#include "validate.h"

#define MAX_DOMAINS 50
#define MAX_EXPIRY_HOURS 8760
#define MAX_USES 1000000
#define LIMIT_DEFAULT 100
#define LIMIT_MAX 500

static const char *domain_check(us_arena *a, const char *domain)
{
	/* A domain is valid when an address at it is. */
	char *address = us_arena_printf(a, "x@%s", domain);
	if (address == NULL || strlen(domain) > 253)
		return "must be a domain like example.com";
	return us_email_check(address) == NULL ? NULL : "must be a domain like example.com";
}

static void validate_scope(us_call *call, const char *account_id, const char *subaccount_id)
{
	if (us_uuid_check(account_id) != NULL)
		us_call_violation(call, "account_id", "must be a UUID");
	if (subaccount_id[0] != '\0' && us_uuid_check(subaccount_id) != NULL)
		us_call_violation(call, "subaccount_id", "must be a UUID");
}

/* The actor must be signed in and hold link.manage where the link applies. */
static us_err authorize(us_call *call, peer_ctx *p, const char *account_id,
                        const char *subaccount_id)
{
	const char *actor = us_call_actor_user_id(call);
	if (actor[0] == '\0')
		return us_call_error(call, US_EUNAUTHENTICATED, "sign in to manage invitation links");
	bool allowed = false;
	us_err rc = peer_check(p, actor, account_id, subaccount_id, "link.manage", &allowed);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "checking permissions");
	if (!allowed)
		return us_call_error(call, US_EDENIED, "you cannot manage this account's invitation links");
	return US_OK;
}

static Usher__V1__LinkState link_state(const link_row *l)
{
	if (!l->active)
		return USHER__V1__LINK_STATE__LINK_DELETED;
	if (l->expired)
		return USHER__V1__LINK_STATE__LINK_EXPIRED;
	if (l->used_up)
		return USHER__V1__LINK_STATE__LINK_USED_UP;
	return USHER__V1__LINK_STATE__LINK_ACTIVE;
}

/* The link as the API shows it; the URL only while it is active. */
static Usher__V1__InvitationLink *view(us_arena *a, const link_row *l)
{
	Usher__V1__InvitationLink *v = US_ARENA_NEW(a, Usher__V1__InvitationLink);
	if (v == NULL)
		return NULL;
	usher__v1__invitation_link__init(v);
	v->id = l->id;
	v->account_id = l->account_id;
	v->subaccount_id = l->subaccount_id;
	v->state = link_state(l);
	v->created_by = l->created_by;
	v->created_at = l->created_at;
	v->expires_at = l->expires_at;
	v->max_uses = l->max_uses;
	v->uses = l->uses;
	v->allowed_email_domains = l->domains;
	v->n_allowed_email_domains = l->n_domains;
	v->url = "";
	if (l->active) {
		char *token = inv_link_unseal(a, l->sealed_token);
		v->url = token != NULL ? inv_link_url(a, "l", token) : NULL;
	}
	return v->url != NULL ? v : NULL;
}

static us_err reply_link(us_call *call, const link_row *l, ProtobufCMessage **reply)
{
	Usher__V1__LinkReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__LinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__link_reply__init(out);
	out->link = view(us_call_arena(call), l);
	*reply = &out->base;
	return out->link != NULL ? US_OK : US_EEXHAUSTED;
}

us_err inv_enable_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__EnableLinkRequest *req = (const Usher__V1__EnableLinkRequest *)request;
	us_arena *a = us_call_arena(call);
	validate_scope(call, req->account_id, req->subaccount_id);
	if (req->expires_in_hours > MAX_EXPIRY_HOURS)
		us_call_violation(call, "expires_in_hours", "must be at most %d (a year)", MAX_EXPIRY_HOURS);
	if (req->max_uses > MAX_USES)
		us_call_violation(call, "max_uses", "must be at most %d", MAX_USES);
	if (req->n_allowed_email_domains > MAX_DOMAINS)
		us_call_violation(call, "allowed_email_domains", "must list at most %d domains",
		                  MAX_DOMAINS);
	char **domains = US_ARENA_ARRAY(a, char *, req->n_allowed_email_domains + 1);
	for (size_t i = 0; domains && i < req->n_allowed_email_domains && i < MAX_DOMAINS; i++) {
		domains[i] = us_arena_strdup(a, req->allowed_email_domains[i]);
		if (domains[i] == NULL || us_email_normalize(domains[i], domains[i], strlen(domains[i]) + 1) != 0)
			return US_EEXHAUSTED;
		const char *why = domain_check(a, domains[i]);
		if (why != NULL)
			us_call_violation(call, us_arena_printf(a, "allowed_email_domains[%zu]", i), "%s", why);
	}
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	if (domains == NULL)
		return US_EEXHAUSTED;

	peer_ctx p;
	peer_ctx_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id);
	Usher__V1__Account *account = NULL;
	if (rc == US_OK && (rc = peer_get_account(&p, req->account_id, &account)) != US_OK)
		rc = inv_upstream_error(call, &p, rc, "reading the account");
	peer_ctx_clear(&p);
	inv_link secret;
	if (rc == US_OK)
		rc = inv_link_new(a, &secret);
	if (rc != US_OK)
		return rc;
	link_new l = {
		.account_id = req->account_id,
		.subaccount_id = req->subaccount_id[0] ? req->subaccount_id : NULL,
		.account_name = account->name,
		.created_by = us_call_actor_user_id(call),
		.token_hash_hex = secret.hash_hex,
		.sealed_token = secret.sealed,
		.expires_in_hours = req->expires_in_hours,
		.max_uses = req->max_uses,
		.domains = domains,
		.n_domains = req->n_allowed_email_domains,
	};
	link_row row;
	rc = store_link_enable(us_call_db(call), a, &l, &row);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "invitation link enabled", "link_id", row.id, NULL);
	return reply_link(call, &row, reply);
}

us_err inv_get_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__LinkRef *req = (const Usher__V1__LinkRef *)request;
	validate_scope(call, req->account_id, req->subaccount_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id);
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	link_row row;
	rc = store_link_get(us_call_db(call), us_call_arena(call), req->account_id,
	                    req->subaccount_id[0] ? req->subaccount_id : NULL, &row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "no invitation link is enabled here");
	if (rc != US_OK)
		return rc;
	return reply_link(call, &row, reply);
}

us_err inv_delete_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__LinkRef *req = (const Usher__V1__LinkRef *)request;
	us_arena *a = us_call_arena(call);
	validate_scope(call, req->account_id, req->subaccount_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id);
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	link_row row;
	rc = store_link_delete(us_call_db(call), a, req->account_id,
	                       req->subaccount_id[0] ? req->subaccount_id : NULL, &row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "no invitation link is enabled here");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "invitation link deleted", "link_id", row.id, NULL);
	Usher__V1__DeleteLinkReply *out = US_ARENA_NEW(a, Usher__V1__DeleteLinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__delete_link_reply__init(out);
	out->link = view(a, &row);
	*reply = &out->base;
	return out->link != NULL ? US_OK : US_EEXHAUSTED;
}

/* The link a token opens; malformed and unknown tokens alike are NOT_FOUND. */
static us_err load_by_token(us_call *call, const char *token, link_row *row)
{
	uint8_t hash[US_TOKEN_HASH_BYTES];
	if (strlen(token) > 100 || inv_link_hash(token, hash) != US_OK)
		return us_call_error(call, US_ENOTFOUND, "invitation link not found");
	us_err rc = store_link_by_token(us_call_db(call), us_call_arena(call), hash, row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "invitation link not found");
	return rc;
}

static us_err refuse_unless_usable(us_call *call, const link_row *l)
{
	switch (link_state(l)) {
	case USHER__V1__LINK_STATE__LINK_ACTIVE:
		return US_OK;
	case USHER__V1__LINK_STATE__LINK_DELETED:
		return us_call_error(call, US_EPRECONDITION, "this invitation link has been turned off");
	case USHER__V1__LINK_STATE__LINK_EXPIRED:
		return us_call_error(call, US_EPRECONDITION, "this invitation link has expired");
	default:
		return us_call_error(call, US_EPRECONDITION,
		                     "this invitation link has been used as many times as it may be");
	}
}

us_err inv_preview_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__PreviewLinkRequest *req = (const Usher__V1__PreviewLinkRequest *)request;
	link_row row;
	us_err rc = load_by_token(call, req->token, &row);
	if (rc != US_OK)
		return rc;
	Usher__V1__PreviewLinkReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__PreviewLinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__preview_link_reply__init(out);
	out->account_name = row.account_name;
	out->role = USHER__V1__ROLE__ROLE_MEMBER;
	out->state = link_state(&row);
	out->allowed_email_domains = row.domains;
	out->n_allowed_email_domains = row.n_domains;
	*reply = &out->base;
	return US_OK;
}

static bool domain_allowed(const link_row *l, const char *email)
{
	if (l->n_domains == 0)
		return true;
	const char *domain = us_email_domain(email);
	for (size_t i = 0; i < l->n_domains; i++) {
		if (strcmp(l->domains[i], domain) == 0)
			return true;
	}
	return false;
}

static void validate_accept(us_call *call, const Usher__V1__AcceptLinkRequest *req, char *email,
                            size_t email_size)
{
	bool has_profile = req->new_user != NULL;
	bool has_session = req->session_token[0] != '\0';
	if (has_profile == has_session)
		us_call_violation(call, "new_user",
		                  "give either a new user's profile or an existing user's session");
	if (has_session && strlen(req->session_token) > 100)
		us_call_violation(call, "session_token", "is too long");
	if (!has_profile)
		return;
	const Usher__V1__LinkNewUser *u = req->new_user;
	const char *why;
	if (strlen(u->email) >= email_size || us_email_normalize(u->email, email, email_size) != 0)
		us_call_violation(call, "new_user.email", "must be at most 254 characters");
	else if ((why = us_email_check(email)) != NULL)
		us_call_violation(call, "new_user.email", "%s", why);
	if ((why = us_name_check(u->name, 200)) != NULL)
		us_call_violation(call, "new_user.name", "%s", why);
	if (u->phone[0] != '\0' && (why = us_phone_check(u->phone)) != NULL)
		us_call_violation(call, "new_user.phone", "%s", why);
	size_t len = strlen(u->password);
	if (len < 8 || len > 1024)
		us_call_violation(call, "new_user.password", "must be 8 to 1024 characters");
}

/* What knows this request again when it is retried: the token and the new user's profile,
 * or the session. */
static void join_request_hash(const Usher__V1__AcceptLinkRequest *req, const char *email,
                              char out[INV_REQUEST_HASH_HEX])
{
	const Usher__V1__LinkNewUser *u = req->new_user;
	const char *fields[] = {"join", req->token, u ? "new" : "session", u ? email : "",
	                        u ? u->name : "", u ? u->phone : "",
	                        u ? u->password : req->session_token};
	inv_request_hash(fields, sizeof(fields) / sizeof(fields[0]), out);
}

/* The signed-in joiner, who must be allowed by the link's domains. */
static us_err signed_in_joiner(us_call *call, peer_ctx *p, const char *session,
                               const link_row *link, Usher__V1__User **user)
{
	us_err rc = peer_resolve_session(p, session, user);
	if (rc == US_EUNAUTHENTICATED)
		return us_call_error(call, US_EUNAUTHENTICATED, "your session has ended; sign in again");
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "checking the session");
	if (link->n_domains > 0 && (!(*user)->email_verified || !domain_allowed(link, (*user)->email)))
		return us_call_error(call, US_EDENIED, "this invitation link is only for some email domains");
	return US_OK;
}

/* Whether the join can start: a new user's address has no user yet; a signed-in user is
 * not a member yet (a member changes nothing, and spends no use). */
static us_err may_join(us_call *call, peer_ctx *p, const Usher__V1__AcceptLinkRequest *req,
                       const link_row *link, const char *email, Usher__V1__User *user)
{
	if (req->new_user == NULL) {
		Usher__V1__MembersAmongReply *members;
		us_err rc = peer_members_among(p, link->account_id, &user->id, 1, &members);
		if (rc != US_OK)
			return inv_upstream_error(call, p, rc, "looking up members");
		if (members->n_user_ids > 0)
			return us_call_error(call, US_EEXISTS, "you are already a member of %s",
			                     link->account_name);
		return US_OK;
	}
	if (!domain_allowed(link, email))
		return us_call_error(call, US_EDENIED, "this invitation link is only for some email domains");
	Usher__V1__LookupEmailsReply *users;
	us_err rc = peer_lookup_emails(p, (char **)&email, 1, &users);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "looking up the address");
	if (users->n_matches > 0)
		return us_call_error(call, US_EPRECONDITION,
		                     "an account already exists for %s; sign in to join", email);
	return US_OK;
}

/* The join's steps after its use was taken: the user (created, for a new joiner), the
 * membership, and the join recorded in the claim's place. Each step is keyed, so a retry
 * repeats none. A refusal gives the use back; a failed service leaves the claim for the
 * retry or the recovery loop. */
static us_err finish_join(us_call *call, peer_ctx *p, const Usher__V1__AcceptLinkRequest *req,
                          const link_row *link, const char *email, unsigned use,
                          Usher__V1__User **user, Usher__V1__Membership **membership)
{
	PGconn *db = us_call_db(call);
	us_err rc = US_OK;
	if (req->new_user != NULL) {
		rc = inv_join_create_user(p, link, req->new_user, email, user);
		if (rc == US_OK)
			us_fault_point("link.after_user");
	}
	bool granting = rc == US_OK;
	if (granting)
		rc = inv_join_grant(p, link, (*user)->id, use, membership);
	if (rc == US_OK) {
		us_fault_point("link.after_membership");
		return store_link_complete(db, link->id, email, (*user)->id, (*membership)->id);
	}
	if (!inv_join_refused(rc))
		return inv_upstream_error(call, p, rc,
		                          granting ? "granting the membership" : "creating the user");
	us_err release = store_link_release(db, link->id, email);
	if (release != US_OK)
		return release;
	if (!granting && rc == US_EEXISTS)
		return us_call_error(call, US_EPRECONDITION,
		                     "an account already exists for %s; sign in to join", email);
	if (!granting)
		return us_call_error(call, rc, "%s", p->status.message);
	if (rc == US_EEXISTS)
		return us_call_error(call, US_EEXISTS, "you are already a member of %s", link->account_name);
	return us_call_error(call, US_EPRECONDITION, "this invitation link no longer works: %s",
	                     p->status.message);
}

/* This request joined, or began to, before (its answer was lost, say when invitationd
 * died): its join is finished, or its success replayed, under the claim's lock, apart from
 * the recovery loop. *handled is false when there is nothing of it to go on from. */
static us_err join_again(us_call *call, peer_ctx *p, const Usher__V1__AcceptLinkRequest *req,
                         const link_row *link, const char *email, const char *hash,
                         Usher__V1__User **user, Usher__V1__Membership **membership,
                         bool *handled)
{
	PGconn *db = us_call_db(call);
	us_arena *a = us_call_arena(call);
	*handled = false;
	us_err rc = us_db_begin(db);
	if (rc == US_OK)
		rc = us_db_set_local_timeout(db, us_call_remaining_ms(call));
	link_claim_row claim;
	if (rc == US_OK) {
		rc = store_link_claim_get(db, a, link->id, email, true, &claim);
		if (rc == US_ENOTFOUND) {
			rc = store_link_join_get(db, a, link->id, email, &claim);
			/* A finished join is replayed only while its membership lasts. */
			if (rc == US_OK && *user != NULL) {
				Usher__V1__MembersAmongReply *members;
				rc = peer_members_among(p, link->account_id, &(*user)->id, 1, &members);
				if (rc == US_OK && members->n_user_ids == 0)
					rc = US_ENOTFOUND;
				else if (rc != US_OK)
					rc = inv_upstream_error(call, p, rc, "looking up members");
			}
		} else if (rc == US_OK && !inv_request_hash_equal(claim.request_hash, hash)) {
			us_db_rollback(db);
			*handled = true;
			return us_call_error(call, US_EABORTED,
			                     "someone is joining with %s right now; try again in a moment",
			                     email);
		}
	}
	if (rc == US_ENOTFOUND || (rc == US_OK && !inv_request_hash_equal(claim.request_hash, hash))) {
		us_db_rollback(db);
		return US_OK;
	}
	*handled = true;
	if (rc == US_OK)
		rc = finish_join(call, p, req, link, email, claim.use_number, user, membership);
	/* Committed whatever the outcome: a refusal gave the use back. (A failed statement
	 * left the transaction aborted, and COMMIT then rolls it back.) */
	us_err end = us_db_commit(db);
	if (rc == US_OK)
		rc = end;
	if (rc == US_OK)
		us_log_fields(US_LOG_INFO, "retried join answered", "link_id", link->id, NULL);
	return rc;
}

us_err inv_accept_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__AcceptLinkRequest *req = (const Usher__V1__AcceptLinkRequest *)request;
	PGconn *db = us_call_db(call);
	char email[US_EMAIL_MAX + 1] = "";
	validate_accept(call, req, email, sizeof(email));
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	link_row link;
	us_err rc = load_by_token(call, req->token, &link);
	if (rc != US_OK)
		return rc;
	char hash[INV_REQUEST_HASH_HEX];
	join_request_hash(req, email, hash);

	peer_ctx p;
	peer_ctx_from_call(&p, call);
	Usher__V1__User *user = NULL;
	Usher__V1__Membership *membership = NULL;
	if (req->new_user == NULL) {
		rc = signed_in_joiner(call, &p, req->session_token, &link, &user);
		if (rc == US_OK)
			snprintf(email, sizeof(email), "%s", user->email);
	}
	/* The use is taken before anything is created: a link with uses to spare makes no user
	 * it cannot let in. */
	bool handled = false;
	if (rc == US_OK)
		rc = join_again(call, &p, req, &link, email, hash, &user, &membership, &handled);
	bool taken = false;
	unsigned use = 0;
	if (rc == US_OK && !handled) {
		rc = refuse_unless_usable(call, &link);
		if (rc == US_OK)
			rc = may_join(call, &p, req, &link, email, user);
		if (rc == US_OK) {
			rc = store_link_claim(db, link.id, email, user != NULL ? user->id : NULL, hash,
			                      &taken, &use);
			if (rc == US_EEXISTS)
				rc = us_call_error(call, US_EABORTED,
				                   "someone is joining with %s right now; try again in a moment",
				                   email);
		}
		if (rc == US_OK && !taken) {
			/* Used up, expired or turned off since it was read: say which. */
			rc = load_by_token(call, req->token, &link);
			if (rc == US_OK && (rc = refuse_unless_usable(call, &link)) == US_OK)
				rc = us_call_error(call, US_EPRECONDITION, "this invitation link is no longer usable");
		}
		if (rc == US_OK) {
			us_fault_point("link.after_use");
			rc = finish_join(call, &p, req, &link, email, use, &user, &membership);
		}
	}
	bool created = req->new_user != NULL;
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "joined through an invitation link", "link_id", link.id, "user_id",
	              user->id, NULL);
	Usher__V1__AcceptLinkReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__AcceptLinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__accept_link_reply__init(out);
	out->membership = membership;
	out->user = user;
	out->user_created = created;
	*reply = &out->base;
	return US_OK;
}

us_err inv_list_link_joins(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__ListLinkJoinsRequest *req = (const Usher__V1__ListLinkJoinsRequest *)request;
	us_arena *a = us_call_arena(call);
	validate_scope(call, req->account_id, "");
	if (req->limit > LIMIT_MAX)
		us_call_violation(call, "limit", "must be at most %d", LIMIT_MAX);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, "");
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	link_join_row *rows;
	size_t n;
	rc = store_link_joins(us_call_db(call), a, req->account_id, req->limit ? req->limit : LIMIT_DEFAULT,
	                      &rows, &n);
	if (rc != US_OK)
		return rc;
	Usher__V1__ListLinkJoinsReply *out = US_ARENA_NEW(a, Usher__V1__ListLinkJoinsReply);
	Usher__V1__LinkJoin *joins = US_ARENA_ARRAY(a, Usher__V1__LinkJoin, n ? n : 1);
	Usher__V1__LinkJoin **ptrs = US_ARENA_ARRAY(a, Usher__V1__LinkJoin *, n ? n : 1);
	if (out == NULL || joins == NULL || ptrs == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_link_joins_reply__init(out);
	for (size_t i = 0; i < n; i++) {
		usher__v1__link_join__init(&joins[i]);
		joins[i].link_id = rows[i].link_id;
		joins[i].user_id = rows[i].user_id;
		joins[i].email = rows[i].email;
		joins[i].membership_id = rows[i].membership_id;
		joins[i].joined_at = rows[i].joined_at;
		joins[i].subaccount_id = rows[i].subaccount_id;
		ptrs[i] = &joins[i];
	}
	out->joins = ptrs;
	out->n_joins = n;
	*reply = &out->base;
	return US_OK;
}
