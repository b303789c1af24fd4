#include "permalink.h"

#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "common/audit.h"
#include "links.h"
#include "manage.h"
#include "common/limits.h"
#include "common/log.h"
#include "peers.h"
#include "store.h"
#include "upstream.h"
#include "common/validate.h"

#define MAX_DOMAINS 50
#define MAX_EXPIRY_HOURS 8760
#define MAX_USES 1000000

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

Usher__V1__Scope *invitation_permalink_scope(us_arena *a, const char *subaccount_id)
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
static us_err authorize(us_call *call, invitation_peer *p, const char *account_id,
                        const char *subaccount_id, bool grants)
{
	const char *actor = us_call_actor_user_id(call);
	if (actor[0] == '\0')
		return us_call_error(call, US_EUNAUTHENTICATED, "sign in to manage invitation links");
	bool allowed = false;
	us_err rc = invitation_peer_check(p, actor, account_id, subaccount_id, "link.manage", &allowed);
	if (rc == US_OK && allowed && grants) {
		Usher__V1__Scope *scope = invitation_permalink_scope(p->arena, subaccount_id);
		Usher__V1__CheckGrantReply *answer;
		if (scope == NULL)
			return US_EEXHAUSTED;
		rc = invitation_peer_check_grant(p, actor, "", account_id, USHER__V1__ROLE__ROLE_MEMBER, scope,
		                      NULL, 0, NULL, 0, &answer);
		allowed = rc == US_OK && answer->allowed;
		if (rc == US_EINVAL) /* a subaccount that is not the account's */
			rc = US_OK;
	}
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "checking permissions");
	if (!allowed)
		return us_call_error(call, US_EDENIED, "you cannot manage this account's invitation links");
	return US_OK;
}

Usher__V1__LinkState invitation_permalink_state(const invitation_link_row *l)
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
static Usher__V1__InvitationLink *view(const invitation_ctx *ctx, us_arena *a,
                                       const invitation_link_row *l)
{
	Usher__V1__InvitationLink *v = US_ARENA_NEW(a, Usher__V1__InvitationLink);
	if (v == NULL)
		return NULL;
	usher__v1__invitation_link__init(v);
	v->id = l->id;
	v->account_id = l->account_id;
	v->subaccount_id = l->subaccount_id;
	v->state = invitation_permalink_state(l);
	v->created_by = l->created_by;
	v->created_at = l->created_at;
	v->expires_at = l->expires_at;
	v->max_uses = l->max_uses;
	v->uses = l->uses;
	v->allowed_email_domains = l->domains;
	v->n_allowed_email_domains = l->n_domains;
	v->url = "";
	if (l->active) {
		char *token = invitation_link_unseal(ctx, a, l->sealed_token);
		v->url = token != NULL ? invitation_link_url(ctx, a, "l", token) : NULL;
	}
	return v->url != NULL ? v : NULL;
}

static us_err reply_link(us_call *call, const invitation_link_row *l, ProtobufCMessage **reply)
{
	Usher__V1__LinkReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__LinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__link_reply__init(out);
	out->link = view(us_call_service_ctx(call), us_call_arena(call), l);
	*reply = &out->base;
	return out->link != NULL ? US_OK : US_EEXHAUSTED;
}

us_err invitation_enable_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
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

	invitation_peer p;
	invitation_peer_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id, true);
	Usher__V1__Account *account = NULL;
	if (rc == US_OK && (rc = invitation_peer_get_account(&p, req->account_id, &account)) != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "reading the account");
	invitation_peer_clear(&p);
	invitation_link_secret secret;
	if (rc == US_OK)
		rc = invitation_link_new(us_call_service_ctx(call), a, &secret);
	if (rc != US_OK)
		return rc;
	invitation_link_spec l = {
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
	invitation_link_row row;
	rc = invitation_store_link_enable(us_call_db(call), a, &l, &row);
	if (rc == US_OK)
		rc = us_audit_record(call, &(us_audit_entry){
		        .account_id = req->account_id, .action = "link.enable", .subject_type = "link",
		        .subject_id = row.id,
		        .detail = us_arena_printf(a, "%s%s; expires in %u hours (0: never); max uses %u "
		                                     "(0: any); allowed domains %zu",
		                                  row.subaccount_id[0] ? "subaccount " : "organization",
		                                  row.subaccount_id, req->expires_in_hours, req->max_uses,
		                                  req->n_allowed_email_domains)});
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "invitation link enabled", "link_id", row.id, NULL);
	return reply_link(call, &row, reply);
}

/* The URL holds the link's token: it never goes into the stored idempotent reply. */
static void strip_link_url(ProtobufCMessage *reply)
{
	Usher__V1__LinkReply *r = (Usher__V1__LinkReply *)reply;
	if (r->link != NULL)
		r->link->url = "";
}

/* A repeat of an EnableLink: the link it made, with its URL again if it is still the
 * active one and the actor may still manage links (as GetLink would show it); once
 * replaced or deleted, the stored reply marked deleted, without a URL. */
static us_err replay_enable_link(us_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage *stored, ProtobufCMessage **reply)
{
	const Usher__V1__EnableLinkRequest *req = (const Usher__V1__EnableLinkRequest *)request;
	Usher__V1__LinkReply *kept = (Usher__V1__LinkReply *)stored;
	if (kept->link == NULL)
		return US_EINTERNAL;
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id, true);
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	invitation_link_row row;
	rc = invitation_store_link_get(us_call_db(call), us_call_arena(call), req->account_id,
	                    req->subaccount_id[0] ? req->subaccount_id : NULL, &row);
	if (rc == US_OK && strcmp(row.id, kept->link->id) == 0)
		return reply_link(call, &row, reply);
	if (rc != US_OK && rc != US_ENOTFOUND)
		return rc;
	kept->link->state = USHER__V1__LINK_STATE__LINK_DELETED;
	kept->link->url = "";
	*reply = stored;
	return US_OK;
}

const us_rpc_reply_secret invitation_reply_secrets[] = {
	{"usher.v1.InvitationService/EnableLink", strip_link_url, replay_enable_link},
	/* Links of invitations the caller delivers itself (send_email false). */
	{"usher.v1.InvitationService/CreateInvitations", invitation_batch_strip_links,
	 invitation_batch_replay},
	{"usher.v1.InvitationService/Reinvite", invitation_reinvite_strip_link,
	 invitation_reinvite_replay},
};
const size_t invitation_n_reply_secrets = sizeof(invitation_reply_secrets) / sizeof(invitation_reply_secrets[0]);

us_err invitation_get_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__LinkRef *req = (const Usher__V1__LinkRef *)request;
	validate_scope(call, req->account_id, req->subaccount_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id, true);
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	invitation_link_row row;
	rc = invitation_store_link_get(us_call_db(call), us_call_arena(call), req->account_id,
	                    req->subaccount_id[0] ? req->subaccount_id : NULL, &row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "no invitation link is enabled here");
	if (rc != US_OK)
		return rc;
	return reply_link(call, &row, reply);
}

us_err invitation_delete_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__LinkRef *req = (const Usher__V1__LinkRef *)request;
	us_arena *a = us_call_arena(call);
	validate_scope(call, req->account_id, req->subaccount_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, req->subaccount_id, true);
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	invitation_link_row row;
	rc = invitation_store_link_delete(us_call_db(call), a, req->account_id,
	                       req->subaccount_id[0] ? req->subaccount_id : NULL, &row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "no invitation link is enabled here");
	if (rc == US_OK)
		rc = us_audit_record(call, &(us_audit_entry){
		        .account_id = req->account_id, .action = "link.delete", .subject_type = "link",
		        .subject_id = row.id,
		        .detail = us_arena_printf(a, "used %u times", row.uses)});
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "invitation link deleted", "link_id", row.id, NULL);
	Usher__V1__DeleteLinkReply *out = US_ARENA_NEW(a, Usher__V1__DeleteLinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__delete_link_reply__init(out);
	out->link = view(us_call_service_ctx(call), a, &row);
	*reply = &out->base;
	return out->link != NULL ? US_OK : US_EEXHAUSTED;
}

us_err invitation_permalink_load(us_call *call, const char *token, invitation_link_row *row)
{
	us_token_hashes hashes;
	if (strlen(token) > INVITATION_TOKEN_MAX ||
	    invitation_link_hashes(us_call_service_ctx(call), token, &hashes) != US_OK)
		return us_call_error(call, US_ENOTFOUND, "invitation link not found");
	/* Under the current key, else a previous one still in its time (a rotation). */
	us_err rc = US_ENOTFOUND;
	for (size_t i = 0; i < hashes.n && rc == US_ENOTFOUND; i++)
		rc = invitation_store_link_by_token(us_call_db(call), us_call_arena(call), hashes.hash[i], row);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "invitation link not found");
	return rc;
}

us_err invitation_permalink_usable(us_call *call, const invitation_link_row *l)
{
	switch (invitation_permalink_state(l)) {
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

us_err invitation_preview_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__PreviewLinkRequest *req = (const Usher__V1__PreviewLinkRequest *)request;
	invitation_link_row row;
	us_err rc = invitation_permalink_load(call, req->token, &row);
	if (rc != US_OK)
		return rc;
	Usher__V1__PreviewLinkReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__PreviewLinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__preview_link_reply__init(out);
	out->account_name = row.account_name;
	out->role = USHER__V1__ROLE__ROLE_MEMBER;
	out->state = invitation_permalink_state(&row);
	out->allowed_email_domains = row.domains;
	out->n_allowed_email_domains = row.n_domains;
	*reply = &out->base;
	return US_OK;
}

us_err invitation_list_link_joins(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__ListLinkJoinsRequest *req = (const Usher__V1__ListLinkJoinsRequest *)request;
	us_arena *a = us_call_arena(call);
	validate_scope(call, req->account_id, "");
	if (req->limit > US_PAGE_SIZE_MAX)
		us_call_violation(call, "limit", "must be at most %d", US_PAGE_SIZE_MAX);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	us_err rc = authorize(call, &p, req->account_id, "", false);
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	invitation_link_join_row *rows;
	size_t n;
	rc = invitation_store_link_joins(us_call_db(call), a, req->account_id, req->limit ? req->limit : US_PAGE_SIZE_DEFAULT,
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
