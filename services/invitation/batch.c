#include "batch.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "access.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/validate.h"
#include "disposable.h"
#include "links.h"
#include "peers.h"
#include "settings.h"
#include "store.h"
#include "upstream.h"
#include "view.h"

#define MAX_GIVEN_EMAIL 320
#define MAX_SUBACCOUNTS 100
#define MAX_FLAGS 16

typedef invitation_address address;

static bool token_chars(const char *s, size_t max, const char *extra)
{
	size_t len = strlen(s);
	if (len == 0 || len > max)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return false;
	}
	return true;
}

/* Request-level checks; per-address problems become outcomes instead. */
static void validate(us_call *call, const Usher__V1__CreateInvitationsRequest *req)
{
	const char *why = us_uuid_check(req->account_id);
	if (why != NULL)
		us_call_violation(call, "account_id", "%s", why);
	if (req->role < USHER__V1__ROLE__ROLE_MEMBER || req->role > USHER__V1__ROLE__ROLE_OWNER)
		us_call_violation(call, "role", "must be member, moderator, admin or owner");
	const Usher__V1__Scope *scope = req->scope;
	if (scope == NULL || scope->organization == (scope->n_subaccount_ids > 0)) {
		us_call_violation(call, "scope", "must be either the organization or a list of subaccounts");
	} else if (scope->n_subaccount_ids > MAX_SUBACCOUNTS) {
		us_call_violation(call, "scope.subaccount_ids", "must list at most %d subaccounts",
		                  MAX_SUBACCOUNTS);
	} else {
		for (size_t i = 0; i < scope->n_subaccount_ids; i++) {
			if (us_uuid_check(scope->subaccount_ids[i]) != NULL) {
				char field[64];
				snprintf(field, sizeof(field), "scope.subaccount_ids[%zu]", i);
				us_call_violation(call, field, "must be a UUID");
			}
		}
	}
	if (req->n_products > US_PRODUCTS_MAX)
		us_call_violation(call, "products", "must list at most %d products", US_PRODUCTS_MAX);
	for (size_t i = 0; i < req->n_products && i < US_PRODUCTS_MAX; i++) {
		if (!token_chars(req->products[i], US_PRODUCT_NAME_MAX_BYTES, "_.-")) {
			char field[32];
			snprintf(field, sizeof(field), "products[%zu]", i);
			us_call_violation(call, field, "must be 1-%d of a-z, 0-9, '_', '.', '-'",
			                  US_PRODUCT_NAME_MAX_BYTES);
		}
	}
	if (req->n_flags > MAX_FLAGS)
		us_call_violation(call, "flags", "must list at most %d flags", MAX_FLAGS);
	for (size_t i = 0; i < req->n_flags && i < MAX_FLAGS; i++) {
		if (!token_chars(req->flags[i], 64, "_.")) {
			char field[32];
			snprintf(field, sizeof(field), "flags[%zu]", i);
			us_call_violation(call, field, "must be 1-64 of a-z, 0-9, '_', '.'");
		}
	}
	if (req->n_emails == 0)
		us_call_violation(call, "emails", "must list at least one address");
	else if (req->n_emails > US_BATCH_MAX)
		us_call_violation(call, "emails", "must list at most %d addresses", US_BATCH_MAX);
	if (req->expires_in_hours > 720)
		us_call_violation(call, "expires_in_hours", "must be at most 720 (30 days)");
	if (req->redirect_url[0] != '\0' && (why = invitation_url_check(req->redirect_url)) != NULL)
		us_call_violation(call, "redirect_url", "%s", why);
	if (req->metadata[0] != '\0' && (why = invitation_metadata_check(req->metadata)) != NULL)
		us_call_violation(call, "metadata", "%s", why);
	if ((why = invitation_locale_check(req->locale)) != NULL)
		us_call_violation(call, "locale", "%s", why);
}

/* A redirect_url off the account's allow-list (its delivery settings) is refused before
 * anything is written. */
static us_err check_redirect(us_call *call, const Usher__V1__CreateInvitationsRequest *req,
                             const invitation_account_settings *settings)
{
	if (req->redirect_url[0] != '\0' &&
	    !invitation_redirect_allowed(settings->redirect_urls, settings->n_redirect_urls,
	                                 req->redirect_url)) {
		us_call_violation(call, "redirect_url",
		                  settings->n_redirect_urls == 0
		                          ? "is not allowed: the account has no redirect allow-list "
		                            "(SetInvitationSettings redirect_urls)"
		                          : "is not on the account's redirect allow-list");
		return us_call_invalid(call);
	}
	return US_OK;
}

static bool domain_allowed(const Usher__V1__Account *account, const char *email)
{
	if (account->n_allowed_email_domains == 0)
		return true;
	const char *domain = us_email_domain(email);
	for (size_t i = 0; i < account->n_allowed_email_domains; i++) {
		if (strcmp(account->allowed_email_domains[i], domain) == 0)
			return true;
	}
	return false;
}

us_err invitation_batch_classify(us_arena *a, char **emails, size_t n,
                                 const Usher__V1__Account *account,
                                 const invitation_disposable *disposable, address *addrs)
{
	us_strmap *seen = us_strmap_new(n);
	if (seen == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n; i++) {
		address *ad = &addrs[i];
		*ad = (address){0};
		ad->given = emails[i];
		ad->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED;
		size_t len = strlen(ad->given);
		if (len > MAX_GIVEN_EMAIL) {
			ad->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID;
			ad->reason = "must be at most " US_LIMIT_TEXT(US_EMAIL_MAX) " characters";
			continue;
		}
		ad->email = us_arena_alloc(a, len + 1);
		if (ad->email == NULL) {
			us_strmap_free(seen);
			return US_EEXHAUSTED;
		}
		if (us_email_normalize(ad->given, ad->email, len + 1) != 0 ||
		    (ad->reason = us_email_check(ad->email)) != NULL) {
			ad->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID;
			continue;
		}
		int added = us_strmap_put(seen, ad->email, NULL);
		if (added < 0) {
			us_strmap_free(seen);
			return US_EEXHAUSTED;
		}
		if (added == 0)
			ad->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_DUPLICATE_IN_BATCH;
		else if (invitation_disposable_has(disposable, us_email_domain(ad->email)))
			ad->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_DISPOSABLE_DOMAIN;
		else if (account != NULL && !domain_allowed(account, ad->email))
			ad->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED;
	}
	us_strmap_free(seen);
	return US_OK;
}

/* The account's domain allow-list, once the account is known (classified without it):
 * an address it refuses was never an existing user's as far as the reply says. */
static void mark_domains(const Usher__V1__Account *account, address *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].outcome == USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED &&
		    !domain_allowed(account, addrs[i].email)) {
			addrs[i].outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED;
			addrs[i].user_id = NULL;
		}
	}
}

/* The addresses still headed for "created", gathered for a batched call. */
static char **still_open(us_arena *a, address *addrs, size_t n, address ***which, size_t *count)
{
	*count = 0;
	char **emails = US_ARENA_ARRAY(a, char *, n ? n : 1);
	*which = US_ARENA_ARRAY(a, address *, n ? n : 1);
	if (emails == NULL || *which == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].outcome == USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED) {
			emails[*count] = addrs[i].email;
			(*which)[(*count)++] = &addrs[i];
		}
	}
	return emails;
}

/* identityd's answer for the addresses in which (count of them): each with a verified user
 * gets its user_id, and *user_ids lists those users. Only verified addresses belong to
 * their users: an address merely claimed is invited as a new user (whose sign-up takes it
 * over), never found already a member. */
static us_err match_users(us_arena *a, const Usher__V1__LookupEmailsReply *users,
                          address **which, size_t count, char ***user_ids, size_t *n_users)
{
	*n_users = 0;
	us_strmap *user_of = us_strmap_new(users->n_matches);
	*user_ids = US_ARENA_ARRAY(a, char *, users->n_matches ? users->n_matches : 1);
	if (user_of == NULL || *user_ids == NULL) {
		us_strmap_free(user_of);
		return US_EEXHAUSTED;
	}
	for (size_t i = 0; i < users->n_matches; i++) {
		if (!users->matches[i]->email_verified)
			continue;
		us_strmap_put(user_of, users->matches[i]->email, users->matches[i]->user_id);
		(*user_ids)[(*n_users)++] = users->matches[i]->user_id;
	}
	for (size_t i = 0; i < count; i++) {
		void *user_id;
		if (us_strmap_get(user_of, which[i]->email, &user_id))
			which[i]->user_id = user_id;
	}
	us_strmap_free(user_of);
	return US_OK;
}

/* Of the addresses still headed for "created", those whose user is among members. */
static us_err mark_members(char **members, size_t n_members, address *addrs, size_t n)
{
	if (n_members == 0)
		return US_OK;
	us_strmap *member = us_strmap_new(n_members);
	if (member == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n_members; i++)
		us_strmap_put(member, members[i], NULL);
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].outcome == USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED &&
		    addrs[i].user_id != NULL && us_strmap_get(member, addrs[i].user_id, NULL))
			addrs[i].outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_MEMBER;
	}
	us_strmap_free(member);
	return US_OK;
}

/* Of the addresses in which (count of them, each pending[i] when it has an open
 * invitation), those still headed for "created" are already pending. */
static void mark_pending(address **which, const bool *pending, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (pending[i] && which[i]->outcome == USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED)
			which[i]->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_PENDING;
	}
}

/* Addresses are written in chunks of this many, each with memory of its own freed
 * after it: a 50,000-address batch never holds all its links, arrays and results at once. */
#define WRITE_CHUNK 5000

/* Links and rows for one chunk, written with one statement. */
static us_err write_chunk(us_call *call, const invitation_batch *batch, const char *batch_id,
                          const char *audit_detail, address **which, size_t n)
{
	us_arena *scratch = us_arena_new();
	invitation_new *rows = scratch ? US_ARENA_ARRAY(scratch, invitation_new, n) : NULL;
	if (rows == NULL) {
		us_arena_free(scratch);
		return US_EEXHAUSTED;
	}
	us_err rc = US_OK;
	for (size_t i = 0; i < n && rc == US_OK; i++) {
		invitation_link_secret link;
		rc = invitation_link_new(us_call_service_ctx(call), scratch, &link);
		rows[i].email = which[i]->email;
		rows[i].token_hash_hex = us_arena_strdup(scratch, link.hash_hex);
		rows[i].sealed_token = link.sealed;
		rows[i].existing_user = which[i]->user_id != NULL;
		if (rc == US_OK && rows[i].token_hash_hex == NULL)
			rc = US_EEXHAUSTED;
		/* The caller delivers it: the link goes into the reply, in the call's memory. */
		which[i]->link = NULL;
		if (rc == US_OK && !batch->send_email &&
		    (which[i]->link = invitation_link_url(us_call_service_ctx(call), us_call_arena(call),
		                                          "i", link.token)) == NULL)
			rc = US_EEXHAUSTED;
		sodium_memzero(link.token, sizeof(link.token));
	}
	if (rc == US_OK)
		rc = invitation_store_batch_add(us_call_db(call), scratch, us_call_arena(call), batch_id,
		                                batch, us_call_caller_name(call), audit_detail, rows, n);
	/* An address invited by a concurrent batch since we looked gets no id. */
	for (size_t i = 0; rc == US_OK && i < n; i++) {
		which[i]->invitation_id = rows[i].id;
		if (rows[i].id == NULL) {
			which[i]->outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_PENDING;
			which[i]->link = NULL;
		}
	}
	us_arena_free(scratch);
	return rc;
}

/* Writes the batch: a link per address still headed for "created". */
static us_err write_batch(us_call *call, const invitation_batch *batch, address *addrs, size_t n,
                          bool lapsed, char **batch_id)
{
	us_arena *a = us_call_arena(call);
	address **which;
	size_t count;
	char **emails = still_open(a, addrs, n, &which, &count);
	if (emails == NULL)
		return US_EEXHAUSTED;
	us_err rc = invitation_store_batch_begin(us_call_db(call), a, batch, emails, count, lapsed,
	                                         batch_id);
	const char *detail = rc == US_OK ? us_arena_printf(a, "role %s; batch %s",
	                                                   invitation_view_role_name(batch->role),
	                                                   *batch_id)
	                                 : NULL;
	if (rc == US_OK && detail == NULL)
		rc = US_EEXHAUSTED;
	for (size_t start = 0; rc == US_OK && start < count; start += WRITE_CHUNK)
		rc = write_chunk(call, batch, *batch_id, detail, which + start,
		                 count - start < WRITE_CHUNK ? count - start : WRITE_CHUNK);
	return rc;
}

us_err invitation_batch_reply(us_arena *a, const address *addrs, size_t n, const char *batch_id,
                              Usher__V1__CreateInvitationsReply **out)
{
	Usher__V1__CreateInvitationsReply *r = US_ARENA_NEW(a, Usher__V1__CreateInvitationsReply);
	Usher__V1__AddressResult *results = US_ARENA_ARRAY(a, Usher__V1__AddressResult, n);
	Usher__V1__AddressResult **ptrs = US_ARENA_ARRAY(a, Usher__V1__AddressResult *, n);
	if (r == NULL || results == NULL || ptrs == NULL)
		return US_EEXHAUSTED;
	usher__v1__create_invitations_reply__init(r);
	r->batch_id = (char *)(batch_id ? batch_id : "");
	r->results = ptrs;
	r->n_results = n;
	for (size_t i = 0; i < n; i++) {
		const address *ad = &addrs[i];
		Usher__V1__AddressResult *res = &results[i];
		usher__v1__address_result__init(res);
		res->index = (uint32_t)i;
		res->email = (char *)(ad->outcome == USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID || !ad->email
		                              ? ad->given
		                              : ad->email);
		res->outcome = ad->outcome;
		res->reason = (char *)(ad->reason ? ad->reason : "");
		res->invitation_id = (char *)(ad->invitation_id ? ad->invitation_id : "");
		res->existing_user = ad->user_id != NULL;
		res->link = (char *)(ad->link ? ad->link : "");
		ptrs[i] = res;
		switch (ad->outcome) {
		case USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED: r->created++; break;
		case USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID: r->invalid++; break;
		case USHER__V1__ADDRESS_OUTCOME__OUTCOME_DUPLICATE_IN_BATCH: r->duplicate_in_batch++; break;
		case USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_MEMBER: r->already_member++; break;
		case USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_PENDING: r->already_pending++; break;
		case USHER__V1__ADDRESS_OUTCOME__OUTCOME_DISPOSABLE_DOMAIN: r->disposable_domain++; break;
		case USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED: r->domain_not_allowed++; break;
		default: break;
		}
	}
	*out = r;
	return US_OK;
}

us_err invitation_create_invitations(us_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **reply)
{
	const Usher__V1__CreateInvitationsRequest *req =
	        (const Usher__V1__CreateInvitationsRequest *)request;
	us_arena *a = us_call_arena(call);
	const char *actor = us_call_actor_user_id(call);
	/* A service principal invites as itself, within its scope. */
	const us_principal *principal = us_call_principal(call);
	if (actor[0] == '\0' && principal == NULL)
		return us_call_error(call, US_EUNAUTHENTICATED, "sign in to invite people");
	validate(call, req);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	/* One call to each daemon, both in flight at once: identityd (the inviter, the
	 * addresses' users) and tenancyd (may the inviter invite so, the account), with the
	 * addresses classified before the account's domain allow-list is known; meanwhile our
	 * own database's part (the delivery settings, which addresses are pending already).
	 * Their answers are judged in the order the checks always ran: the grant, the delivery
	 * settings, the account's expiry policy, the inviter, the users, and which users are
	 * members already (asked of tenancyd only when identityd named some). */
	address *addrs = US_ARENA_ARRAY(a, address, req->n_emails);
	if (addrs == NULL)
		return US_EEXHAUSTED;
	us_err rc = invitation_batch_classify(
	        a, req->emails, req->n_emails, NULL,
	        ((const invitation_ctx *)us_call_service_ctx(call))->disposable, addrs);
	if (rc != US_OK)
		return rc;
	address **which;
	size_t count;
	char **emails = still_open(a, addrs, req->n_emails, &which, &count);
	bool *pending = US_ARENA_ARRAY(a, bool, count ? count : 1);
	if (emails == NULL || pending == NULL)
		return US_EEXHAUSTED;
	const char *inviter_id = principal == NULL ? actor : NULL;
	bool ask_users = count > 0 || inviter_id != NULL;
	invitation_peer users_peer, p;
	invitation_peer_from_call(&users_peer, call);
	invitation_peer_from_call(&p, call);
	us_rpc_pending *users_call =
	        ask_users ? invitation_peer_lookup_invitees_start(&users_peer, inviter_id, emails, count)
	                  : NULL;
	us_rpc_pending *grant_call = invitation_authorize_invite_start(call, &p, actor, req);

	/* lapsed may come of an address refused later (its domain, a member): the write's
	 * expire UPDATE then finds nothing to do. */
	invitation_account_settings settings;
	bool lapsed = false;
	us_err ours_rc = invitation_store_settings_get(us_call_db(call), a, req->account_id, &settings);
	if (ours_rc == US_OK)
		ours_rc = invitation_store_open_emails(us_call_db(call), a, req->account_id, emails,
		                                       count, pending, &lapsed);

	Usher__V1__LookupEmailsReply *users = NULL;
	us_err users_rc = ask_users ? invitation_peer_lookup_invitees_finish(&users_peer, users_call,
	                                                                     inviter_id, &users)
	                            : US_OK;
	Usher__V1__CheckInviteReply *checked = NULL;
	rc = invitation_authorize_invite_finish(call, &p, grant_call, &checked);
	if (rc == US_OK)
		rc = ours_rc == US_OK ? check_redirect(call, req, &settings) : ours_rc;
	Usher__V1__Account *account = rc == US_OK ? checked->account : NULL;
	if (rc == US_OK)
		rc = invitation_account_expiry_fits(call, account, req->expires_in_hours);
	if (rc == US_OK && users_rc != US_OK)
		rc = invitation_upstream_error(call, &users_peer, users_rc,
		                               principal == NULL ? "looking up the inviter"
		                                                 : "looking up users");
	Usher__V1__User *inviter = users != NULL ? users->user : NULL;
	char **user_ids = NULL;
	size_t n_users = 0;
	if (rc == US_OK && users != NULL)
		rc = match_users(a, users, which, count, &user_ids, &n_users);
	if (rc == US_OK)
		mark_domains(account, addrs, req->n_emails);
	if (rc == US_OK && n_users > 0) {
		Usher__V1__MembersAmongReply *members;
		us_err members_rc = invitation_peer_members_among(&p, req->account_id, user_ids, n_users,
		                                                  &members);
		rc = members_rc != US_OK
		             ? invitation_upstream_error(call, &p, members_rc, "looking up members")
		             : mark_members(members->user_ids, members->n_user_ids, addrs, req->n_emails);
	}
	if (rc == US_OK)
		mark_pending(which, pending, count);

	char *batch_id = NULL;
	if (rc == US_OK && !req->dry_run) {
		invitation_batch batch = {
			.account_id = req->account_id,
			.account_name = account->name,
			.invited_by = principal == NULL ? actor : NULL,
			.invited_by_principal = principal != NULL ? principal->id : NULL,
			.inviter_name = principal != NULL ? principal->name : inviter->name,
			.inviter_email = principal != NULL ? "" : inviter->email,
			.role = req->role,
			.organization = req->scope->organization,
			.subaccount_ids = req->scope->subaccount_ids,
			.n_subaccount_ids = req->scope->n_subaccount_ids,
			.products = req->products,
			.n_products = req->n_products,
			.flags = req->flags,
			.n_flags = req->n_flags,
			.expires_in_hours = req->expires_in_hours ? (int)req->expires_in_hours
			                                          : (int)account->invitation_expiry_hours,
			.send_email = req->email_case !=
			                      USHER__V1__CREATE_INVITATIONS_REQUEST__EMAIL_SEND_EMAIL ||
			              req->send_email,
			.redirect_url = req->redirect_url,
			.metadata = req->metadata,
			.locale = req->locale[0] != '\0' ? req->locale : settings.email_locale,
		};
		rc = write_batch(call, &batch, addrs, req->n_emails, lapsed, &batch_id);
	}
	Usher__V1__CreateInvitationsReply *out = NULL;
	if (rc == US_OK)
		rc = invitation_batch_reply(a, addrs, req->n_emails, batch_id, &out);
	invitation_peer_clear(&p);
	invitation_peer_clear(&users_peer);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, req->dry_run ? "invitations checked (dry run)" : "invitations created",
	              "account_id", req->account_id, "batch_id", out->batch_id, NULL);
	*reply = &out->base;
	return US_OK;
}

void invitation_batch_strip_links(ProtobufCMessage *reply)
{
	Usher__V1__CreateInvitationsReply *r = (Usher__V1__CreateInvitationsReply *)reply;
	for (size_t i = 0; i < r->n_results; i++)
		r->results[i]->link = (char *)"";
}

us_err invitation_batch_replay(us_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage *stored, ProtobufCMessage **reply)
{
	(void)call;
	(void)request;
	*reply = stored;
	return US_OK;
}
