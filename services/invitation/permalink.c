#include "permalink.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

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

/* The scope a link grants: the organization, or its one subaccount. */
static Usher__V1__Scope *link_scope(us_arena *a, const char *subaccount_id)
{
	Usher__V1__Scope *scope = US_ARENA_NEW(a, Usher__V1__Scope);
	char **subs = US_ARENA_ARRAY(a, char *, 1);
	if (scope == NULL || subs == NULL)
		return NULL;
	usher__v1__scope__init(scope);
	subs[0] = (char *)subaccount_id;
	scope->organization = subaccount_id[0] == '\0';
	scope->subaccount_ids = scope->organization ? NULL : subs;
	scope->n_subaccount_ids = scope->organization ? 0 : 1;
	return scope;
}

/* The actor must be signed in and hold link.manage where the link applies. A link grants
 * member in its scope, so managing one is granting there too (ceiling): at organization
 * level only owners do it. Reading who joined needs link.manage alone. */
static us_err authorize(us_call *call, peer_ctx *p, const char *account_id,
                        const char *subaccount_id, bool grants)
{
	const char *actor = us_call_actor_user_id(call);
	if (actor[0] == '\0')
		return us_call_error(call, US_EUNAUTHENTICATED, "sign in to manage invitation links");
	bool allowed = false;
	us_err rc = peer_check(p, actor, account_id, subaccount_id, "link.manage", &allowed);
	if (rc == US_OK && allowed && grants) {
		Usher__V1__Scope *scope = link_scope(p->arena, subaccount_id);
		Usher__V1__CheckGrantReply *answer;
		if (scope == NULL)
			return US_EEXHAUSTED;
		rc = peer_check_grant(p, actor, account_id, USHER__V1__ROLE__ROLE_MEMBER, scope, NULL, 0,
		                      &answer);
		allowed = rc == US_OK && answer->allowed;
		if (rc == US_EINVAL) /* a subaccount that is not the account's */
			rc = US_OK;
	}
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
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id, true);
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
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id, true);
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
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id, true);
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

/* "link:<link id>:<short hash of what>": idempotency keys of a join's steps, bounded in
 * length whatever the address. */
static char *join_key(us_arena *a, const char *link_id, const char *what)
{
	uint8_t h[12];
	char hex[25];
	crypto_generichash(h, sizeof(h), (const uint8_t *)what, strlen(what), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return us_arena_printf(a, "link:%s:%s", link_id, hex);
}

/* The user joining: signed in, or created now with the email they gave (unverified:
 * a shared link proves nothing about the address). */
static us_err joining_user(us_call *call, peer_ctx *p, const Usher__V1__AcceptLinkRequest *req,
                           const link_row *link, const char *email, Usher__V1__User **user,
                           bool *created)
{
	*created = false;
	if (req->new_user == NULL) {
		us_err rc = peer_resolve_session(p, req->session_token, user);
		if (rc == US_EUNAUTHENTICATED)
			return us_call_error(call, US_EUNAUTHENTICATED, "your session has ended; sign in again");
		if (rc != US_OK)
			return inv_upstream_error(call, p, rc, "checking the session");
		if (link->n_domains > 0 && (!(*user)->email_verified || !domain_allowed(link, (*user)->email)))
			return us_call_error(call, US_EDENIED,
			                     "this invitation link is only for some email domains");
		/* A member changes nothing, and spends no use. */
		Usher__V1__MembersAmongReply *members;
		rc = peer_members_among(p, link->account_id, &(*user)->id, 1, &members);
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
	Usher__V1__CreateUserRequest create = USHER__V1__CREATE_USER_REQUEST__INIT;
	create.email = (char *)email;
	create.name = req->new_user->name;
	create.phone = req->new_user->phone;
	create.password = req->new_user->password;
	rc = peer_create_user(p, join_key(p->arena, link->id, email), &create, user);
	if (rc == US_EEXISTS)
		return us_call_error(call, US_EPRECONDITION,
		                     "an account already exists for %s; sign in to join", email);
	if (rc == US_EINVAL || rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "%s", p->status.message);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "creating the user");
	*created = true;
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
 * the link's creator (whose right to grant it tenancyd checks again). */
static us_err grant(us_call *call, peer_ctx *p, const link_row *link, const char *user_id,
                    unsigned use, Usher__V1__Membership **membership)
{
	Usher__V1__Scope *scope = link_scope(p->arena, link->subaccount_id);
	if (scope == NULL)
		return US_EEXHAUSTED;
	Usher__V1__CheckGrantReply *answer;
	us_err rc = peer_check_grant(p, link->created_by, link->account_id,
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
	/* Keyed by this use of the link: a member who left and comes back is granted anew. */
	char *what = us_arena_printf(p->arena, "%s:%u", user_id, use);
	rc = peer_grant_membership(p, join_key(p->arena, link->id, what), &g, membership);
	if (rc == US_EEXISTS)
		return us_call_error(call, US_EEXISTS, "you are already a member of %s", link->account_name);
	if (rc == US_EDENIED || rc == US_EPRECONDITION || rc == US_EINVAL)
		return link_lapsed(call, p);
	if (rc != US_OK)
		return inv_upstream_error(call, p, rc, "granting the membership");
	return US_OK;
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
	if (rc == US_OK)
		rc = refuse_unless_usable(call, &link);
	if (rc != US_OK)
		return rc;

	peer_ctx p;
	peer_ctx_from_call(&p, call);
	Usher__V1__User *user = NULL;
	bool created = false;
	bool taken = false;
	unsigned use = 0;
	Usher__V1__Membership *membership = NULL;
	rc = joining_user(call, &p, req, &link, email, &user, &created);
	if (rc == US_OK)
		rc = store_link_take_use(db, link.id, &taken, &use);
	if (rc == US_OK && !taken)
		rc = us_call_error(call, US_EPRECONDITION, "this invitation link is no longer usable");
	if (rc == US_OK)
		rc = grant(call, &p, &link, user->id, use, &membership);
	if (rc == US_OK)
		rc = store_link_record_join(db, link.id, user->id, user->email, membership->id);
	if (rc != US_OK && taken && store_link_give_back_use(db, link.id) != US_OK)
		us_warn("could not give back an unused link use");
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
	us_err rc = authorize(call, &p, req->account_id, "", false);
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
