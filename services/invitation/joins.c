#include "joins.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "links.h"
#include "log.h"
#include "peers.h"
#include "permalink.h"
#include "state.h"
#include "store.h"
#include "upstream.h"
#include "validate.h"

/* Is email's domain among domains (none listed: any)? */
static bool domain_among(char *const *domains, size_t n, const char *email)
{
	if (n == 0)
		return true;
	const char *domain = us_email_domain(email);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(domains[i], domain) == 0)
			return true;
	}
	return false;
}

/* The link's domain limit and the account's allowed_email_domains, both, for email. */
static us_err admit_address(us_call *call, const link_row *link,
                            const Usher__V1__Account *account, const char *email)
{
	if (!domain_among(link->domains, link->n_domains, email))
		return us_call_error(call, US_EDENIED, "this invitation link is only for some email domains");
	if (!domain_among(account->allowed_email_domains, account->n_allowed_email_domains, email))
		return us_call_error(call, US_EDENIED,
		                     "%s only admits email addresses at some domains", account->name);
	return US_OK;
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

/* "link:<link id>:<hash of what>": idempotency keys of a join's steps, bounded in length.
 * The hash is keyed (a sign-up's key covers its password), so the stored key tells
 * nothing. */
static char *join_key(us_arena *a, const char *link_id, const char *what)
{
	uint8_t h[16];
	char hex[33];
	crypto_generichash(h, sizeof(h), (const uint8_t *)what, strlen(what), inv.token_key,
	                   sizeof(inv.token_key));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return us_arena_printf(a, "link:%s:%s", link_id, hex);
}

/* A new user with the address they gave, unverified: a shared link proves nothing about
 * it. A verified user with the address must sign in instead; a mere claim does not stop
 * anyone (identityd moves it to the newest claimant). */
static us_err new_user(us_call *call, peer_ctx *p, const link_row *link,
                       const Usher__V1__LinkNewUser *profile, const char *email,
                       Usher__V1__User **user)
{
	Usher__V1__LookupEmailsReply *users;
	us_err rc = peer_lookup_emails(p, (char **)&email, 1, &users);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "looking up the address");
	if (users->n_matches > 0 && users->matches[0]->email_verified)
		return us_call_error(call, US_EPRECONDITION,
		                     "an account already exists for %s; sign in to join", email);
	Usher__V1__CreateUserRequest create = USHER__V1__CREATE_USER_REQUEST__INIT;
	create.email = (char *)email;
	create.name = profile->name;
	create.phone = profile->phone;
	create.password = profile->password;
	/* The same sign-up resent gets the same user; another sign-up, another key. */
	char *what = us_arena_printf(p->arena, "%s\n%s\n%s\n%s", email, profile->name,
	                             profile->phone, profile->password);
	if (what == NULL)
		return US_EEXHAUSTED;
	rc = peer_create_user(p, join_key(p->arena, link->id, what), &create, user);
	sodium_memzero(what, strlen(what));
	if (rc == US_EEXISTS)
		return us_call_error(call, US_EPRECONDITION,
		                     "an account already exists for %s; sign in to join", email);
	if (rc == US_EINVAL || rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "%s", p->status.message);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "creating the user");
	return US_OK;
}

static us_err refuse_member(us_call *call, peer_ctx *p, const link_row *link, const char *user_id)
{
	Usher__V1__MembersAmongReply *members;
	us_err rc = peer_members_among(p, link->account_id, (char **)&user_id, 1, &members);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "looking up members");
	if (members->n_user_ids > 0)
		return us_call_error(call, US_EEXISTS, "you are already a member of %s",
		                     link->account_name);
	return US_OK;
}

/* The refusal a joiner reads when the link's creator may no longer grant through it. */
static us_err link_lapsed(us_call *call, const peer_ctx *p)
{
	us_log_fields(US_LOG_INFO, "link's creator may no longer grant through it", "reason",
	              p->status.message, NULL);
	return us_call_error(call, US_EPRECONDITION,
	                     "this invitation link no longer works; ask whoever shared it for a "
	                     "new one");
}

/* Grants member on the link's scope, with the account's products its creator holds, as
 * the link's creator (whose right to grant it tenancyd checks again), under key. */
static us_err grant(us_call *call, peer_ctx *p, const link_row *link, const char *user_id,
                    const char *key, Usher__V1__Membership **membership)
{
	Usher__V1__Scope *scope = inv_link_scope(p->arena, link->subaccount_id);
	if (scope == NULL || key == NULL)
		return US_EEXHAUSTED;
	Usher__V1__CheckGrantReply *answer;
	us_err rc = peer_check_grant(p, link->created_by, "", link->account_id,
	                             USHER__V1__ROLE__ROLE_MEMBER, scope, NULL, 0, &answer);
	if (rc == US_EINVAL || (rc == US_OK && !answer->allowed))
		return link_lapsed(call, p);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "checking the link's creator");
	Usher__V1__GrantMembershipRequest g = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	g.account_id = link->account_id;
	g.user_id = (char *)user_id;
	g.role = USHER__V1__ROLE__ROLE_MEMBER;
	g.scope = scope;
	g.products = answer->grantable_products;
	g.n_products = answer->n_grantable_products;
	g.source = us_arena_printf(p->arena, "link:%s", link->id);
	g.granted_by = link->created_by;
	rc = peer_grant_membership(p, key, &g, membership);
	if (rc == US_EEXISTS)
		return us_call_error(call, US_EEXISTS, "you are already a member of %s", link->account_name);
	if (rc == US_EDENIED || rc == US_EPRECONDITION || rc == US_EINVAL)
		return link_lapsed(call, p);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "granting the membership");
	return US_OK;
}

/* Joins at once: a use of the link, the membership, the record. */
static us_err join_now(us_call *call, peer_ctx *p, const link_row *link,
                       const Usher__V1__User *user, Usher__V1__Membership **membership)
{
	PGconn *db = us_call_db(call);
	bool taken = false;
	unsigned use = 0;
	us_err rc = store_link_take_use(db, link->id, &taken, &use);
	if (rc == US_OK && !taken)
		rc = us_call_error(call, US_EPRECONDITION, "this invitation link is no longer usable");
	/* Keyed by this use of the link: a member who left and comes back is granted anew. */
	if (rc == US_OK)
		rc = grant(call, p, link, user->id,
		           join_key(p->arena, link->id, us_arena_printf(p->arena, "%s:%u", user->id, use)),
		           membership);
	if (rc == US_OK)
		rc = store_link_record_join(db, link->id, user->id, user->email, (*membership)->id);
	if (rc != US_OK && taken && store_link_give_back_use(db, link->id) != US_OK)
		us_warn("could not give back an unused link use");
	return rc;
}

/* The join waits for its address to be proven: a pending request, and its confirmation
 * link emailed to the address, in one transaction (no email, no request). */
static us_err ask_confirmation(us_call *call, peer_ctx *p, const link_row *link,
                               const Usher__V1__User *user)
{
	us_arena *a = us_call_arena(call);
	PGconn *db = us_call_db(call);
	inv_link secret;
	join_request_row req;
	us_err rc = inv_link_new(a, &secret);
	if (rc == US_OK)
		rc = us_db_begin(db);
	if (rc != US_OK)
		return rc;
	rc = store_join_request_open(db, a, link->id, user->id, user->email, secret.hash_hex,
	                             (unsigned)inv.cfg.link_join_confirm_hours, &req);
	Usher__V1__TemplateVariable vars[3], *var_ptrs[3];
	const char *values[3][2] = {{"account_name", link->account_name},
	                            {"link", inv_link_url(a, "j", secret.token)},
	                            {"expires_at", rc == US_OK ? req.expires_text : ""}};
	for (int i = 0; i < 3; i++) {
		usher__v1__template_variable__init(&vars[i]);
		vars[i].name = (char *)values[i][0];
		vars[i].value = (char *)values[i][1];
		var_ptrs[i] = &vars[i];
	}
	Usher__V1__Email email = USHER__V1__EMAIL__INIT;
	email.idempotency_key = rc == US_OK ? us_arena_printf(a, "join:%s", req.id) : NULL;
	email.template_ = "link_join_confirmation";
	email.recipient = user->email;
	email.variables = var_ptrs;
	email.n_variables = 3;
	email.reference = us_arena_printf(a, "link:%s", link->id);
	if (rc == US_OK && (email.idempotency_key == NULL || email.reference == NULL ||
	                    values[1][1] == NULL))
		rc = US_EEXHAUSTED;
	if (rc == US_OK && (rc = peer_send_email(p, &email)) != US_OK)
		rc = inv_upstream_error(call, p, rc, "sending the confirmation email");
	sodium_memzero(secret.token, sizeof(secret.token));
	if (rc == US_OK)
		rc = us_db_commit(db);
	if (rc != US_OK) {
		us_db_rollback(db);
		return rc;
	}
	us_log_fields(US_LOG_INFO, "link join waits for its address to be confirmed", "link_id",
	              link->id, "user_id", user->id, NULL);
	return US_OK;
}

static us_err reply_join(us_call *call, Usher__V1__Membership *membership, Usher__V1__User *user,
                         bool created, ProtobufCMessage **reply)
{
	Usher__V1__AcceptLinkReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__AcceptLinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__accept_link_reply__init(out);
	out->membership = membership;
	out->user = user;
	out->user_created = created;
	out->awaiting_confirmation = membership == NULL;
	*reply = &out->base;
	return US_OK;
}

us_err inv_accept_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__AcceptLinkRequest *req = (const Usher__V1__AcceptLinkRequest *)request;
	char email[US_EMAIL_MAX + 1] = "";
	validate_accept(call, req, email, sizeof(email));
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	link_row link;
	us_err rc = inv_link_load(call, req->token, &link);
	if (rc == US_OK)
		rc = inv_link_usable(call, &link);
	if (rc != US_OK)
		return rc;

	peer_ctx p;
	peer_ctx_from_call(&p, call);
	Usher__V1__Account *account = NULL;
	Usher__V1__User *user = NULL;
	Usher__V1__Membership *membership = NULL;
	bool created = req->new_user != NULL;
	if ((rc = peer_get_account(&p, link.account_id, &account)) != US_OK)
		rc = inv_upstream_error(call, &p, rc, "reading the account");
	if (rc == US_OK && created) {
		rc = admit_address(call, &link, account, email);
		if (rc == US_OK)
			rc = new_user(call, &p, &link, req->new_user, email, &user);
	} else if (rc == US_OK) {
		rc = peer_resolve_session(&p, req->session_token, &user);
		if (rc == US_EUNAUTHENTICATED)
			rc = us_call_error(call, US_EUNAUTHENTICATED, "your session has ended; sign in again");
		else if (rc != US_OK)
			rc = inv_upstream_error(call, &p, rc, "checking the session");
		if (rc == US_OK && user->email[0] == '\0')
			rc = us_call_error(call, US_EPRECONDITION,
			                   "your account has no email address any more; sign up again");
		if (rc == US_OK)
			rc = admit_address(call, &link, account, user->email);
		if (rc == US_OK)
			rc = refuse_member(call, &p, &link, user->id);
	}
	/* Only a proven address joins at once. */
	if (rc == US_OK && user->email_verified)
		rc = join_now(call, &p, &link, user, &membership);
	else if (rc == US_OK)
		rc = ask_confirmation(call, &p, &link, user);
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	if (membership != NULL)
		us_log_fields(US_LOG_INFO, "joined through an invitation link", "link_id", link.id,
		              "user_id", user->id, NULL);
	return reply_join(call, membership, user, created, reply);
}

/* The join request a confirmation token opens: NOT_FOUND alike for a malformed and an
 * unknown one. With lock, only a pending one. */
static us_err load_request(us_call *call, const char *token, bool lock, join_request_row *out)
{
	uint8_t hash[US_TOKEN_HASH_BYTES];
	if (strlen(token) > 100 || inv_link_hash(token, hash) != US_OK)
		return us_call_error(call, US_ENOTFOUND, "this confirmation link is unknown");
	us_err rc = store_join_request_by_token(us_call_db(call), us_call_arena(call), hash, lock,
	                                        out);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND,
		                     lock ? "this confirmation link is unknown, used or expired"
		                          : "this confirmation link is unknown");
	return rc;
}

us_err inv_preview_link_join(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__PreviewLinkJoinRequest *req = (const Usher__V1__PreviewLinkJoinRequest *)request;
	join_request_row r;
	us_err rc = load_request(call, req->token, false, &r);
	if (rc != US_OK)
		return rc;
	Usher__V1__PreviewLinkJoinReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                    Usher__V1__PreviewLinkJoinReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__preview_link_join_reply__init(out);
	out->account_name = r.link.account_name;
	out->email = r.email;
	out->pending = strcmp(r.state, "pending") == 0 && !r.expired;
	out->expires_at = r.expires_at;
	*reply = &out->base;
	return US_OK;
}

/* The steps of a confirmation, inside the transaction that locked its request. *closed
 * says the request was closed (joined, or cancelled for good), so the transaction keeps
 * that even when the reply is a refusal. */
static us_err confirm(us_call *call, peer_ctx *p, const join_request_row *r, bool *closed,
                      Usher__V1__User **user, Usher__V1__Membership **membership)
{
	PGconn *db = us_call_db(call);
	const link_row *link = &r->link;
	Usher__V1__Account *account;
	us_err rc = inv_link_usable(call, link);
	if (rc == US_OK && (rc = peer_get_account(p, link->account_id, &account)) != US_OK)
		rc = inv_upstream_error(call, p, rc, "reading the account");
	if (rc == US_OK)
		rc = admit_address(call, link, account, r->email);
	if (rc != US_OK)
		return rc;
	/* The proof: identityd marks the address verified, if it is still the user's. */
	char *key = us_arena_printf(p->arena, "join:%s:verify", r->id);
	rc = key != NULL ? peer_confirm_email_ownership(p, key, r->user_id, r->email, user)
	                 : US_EEXHAUSTED;
	if (rc == US_EPRECONDITION) {
		*closed = true;
		rc = store_join_request_close(db, r->id, "cancelled");
		return rc != US_OK ? rc
		                   : us_call_error(call, US_EPRECONDITION,
		                                   "this confirmation link no longer works: %s now "
		                                   "belongs to another account; join again from the "
		                                   "invitation link",
		                                   r->email);
	}
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "confirming the address");
	bool taken = false;
	unsigned use = 0;
	rc = store_link_take_use(db, link->id, &taken, &use);
	if (rc == US_OK && !taken)
		return us_call_error(call, US_EPRECONDITION, "this invitation link is no longer usable");
	/* Keyed by the request: a confirmation retried after a failure is granted once. */
	if (rc == US_OK)
		rc = grant(call, p, link, r->user_id,
		           join_key(p->arena, link->id, us_arena_printf(p->arena, "request:%s", r->id)),
		           membership);
	if (rc == US_EEXISTS) { /* a member already: the request is done with */
		*closed = true;
		us_err closing = store_join_request_close(db, r->id, "joined");
		return closing != US_OK ? closing : rc;
	}
	if (rc == US_OK)
		rc = store_link_record_join(db, link->id, r->user_id, r->email, (*membership)->id);
	if (rc == US_OK)
		rc = store_join_request_close(db, r->id, "joined");
	return rc;
}

us_err inv_confirm_link_join(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__ConfirmLinkJoinRequest *req = (const Usher__V1__ConfirmLinkJoinRequest *)request;
	PGconn *db = us_call_db(call);
	us_err rc = us_db_begin(db);
	if (rc != US_OK)
		return rc;
	peer_ctx p;
	peer_ctx_from_call(&p, call);
	join_request_row r;
	bool closed = false;
	Usher__V1__User *user = NULL;
	Usher__V1__Membership *membership = NULL;
	rc = load_request(call, req->token, true, &r);
	if (rc == US_OK)
		rc = confirm(call, &p, &r, &closed, &user, &membership);
	/* Anything else leaves the request as it was, to be tried again. */
	if (rc == US_OK || closed) {
		us_err committed = us_db_commit(db);
		if (committed != US_OK)
			rc = us_call_error(call, US_EUNAVAILABLE, "could not save the join; try again");
	} else {
		us_db_rollback(db);
	}
	peer_ctx_clear(&p);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "joined through an invitation link, address confirmed", "link_id",
	              r.link.id, "user_id", r.user_id, NULL);
	return reply_join(call, membership, user, false, reply);
}
