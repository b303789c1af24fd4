#include "grants.h"

#include <stdio.h>
#include <string.h>

#include "context.h"
#include "common/audit.h"
#include "guard.h"
#include "input.h"
#include "common/log.h"
#include "permissions.h"
#include "common/principal_lookup.h"
#include "roles.h"
#include "store.h"
#include "common/validate.h"

#define SYSTEM_REASON_MAX 200
#define PRINCIPAL_LOOKUP_MS 3000

/* Checks a role, scope and products as asked of a grant, recording violations: owners
 * must be organization-level. */
static void grant_input(us_call *call, int role, const Usher__V1__Scope *scope,
                        char *const *products, size_t n_products)
{
	tenancy_input_role(call, "role", role);
	tenancy_input_scope(call, "scope", scope);
	tenancy_input_names(call, "products", products, n_products, US_PRODUCTS_MAX,
	                    US_PRODUCT_NAME_MAX_BYTES);
	if (role == USHER__V1__ROLE__ROLE_OWNER && scope != NULL && !scope->organization &&
	    scope->n_subaccount_ids > 0)
		us_call_violation(call, "scope", "must be organization for an owner");
}

static bool has_product(const Usher__V1__Account *account, const char *product)
{
	for (size_t i = 0; i < account->n_products; i++) {
		if (strcmp(account->products[i], product) == 0)
			return true;
	}
	return false;
}

/* Records the violations of a grant's products and subaccounts (missing: indexes of the
 * scope's subaccount ids not in the account). */
static us_err fit_violations(us_call *call, const Usher__V1__Account *account,
                             char *const *products, size_t n_products, const size_t *missing,
                             size_t n_missing)
{
	char field[64];
	for (size_t i = 0; i < n_products; i++) {
		if (!has_product(account, products[i])) {
			snprintf(field, sizeof(field), "products[%zu]", i);
			us_call_violation(call, field, "is not enabled for this account");
		}
	}
	for (size_t i = 0; i < n_missing; i++) {
		snprintf(field, sizeof(field), "scope.subaccount_ids[%zu]", missing[i]);
		us_call_violation(call, field, "is not a subaccount of this account");
	}
	return us_call_has_violations(call) ? us_call_invalid(call) : US_OK;
}

us_err tenancy_grants_fit_account(us_call *call, const Usher__V1__Account *account,
                                  const Usher__V1__Scope *scope, char *const *products,
                                  size_t n_products)
{
	size_t *missing = NULL, n_missing = 0;
	if (!scope->organization) {
		us_err rc = tenancy_store_subaccounts_missing(us_call_db(call), us_call_arena(call),
		                                              account->id, scope->subaccount_ids,
		                                              scope->n_subaccount_ids, &missing,
		                                              &n_missing);
		if (rc != US_OK)
			return rc;
	}
	return fit_violations(call, account, products, n_products, missing, n_missing);
}

/* May the service principal grant role in the account now? Asked of usher-identityd
 * each time, not cached: a revoked principal's pending invitations stop granting at once. */
static us_err principal_decision(us_call *call, const Usher__V1__Account *account,
                                 const char *principal_id, int role, tenancy_decision *d)
{
	tenancy_ctx *ctx = us_call_service_ctx(call);
	int64_t left = us_call_remaining_ms(call);
	us_principal *p;
	us_err rc = us_principal_by_id(ctx->identity, principal_id,
	                               (uint32_t)(left < PRINCIPAL_LOOKUP_MS ? left : PRINCIPAL_LOOKUP_MS),
	                               us_call_arena(call), &p);
	if (rc == US_ENOTFOUND) {
		*d = (tenancy_decision){false, "the service principal is revoked or unknown"};
		return US_OK;
	}
	if (rc != US_OK)
		return us_call_error(call, US_EUNAVAILABLE, "could not check the service principal; "
		                                            "try again");
	if (account->status == USHER__V1__ACCOUNT_STATUS__ACCOUNT_SUSPENDED)
		*d = (tenancy_decision){false, "account is suspended"};
	else if (!us_principal_covers(p, account->id))
		*d = (tenancy_decision){false, "the service principal may not act in this account"};
	else if (role > p->max_role)
		*d = (tenancy_decision){false, us_arena_printf(us_call_arena(call),
		                                               "cannot grant %s, above the service "
		                                               "principal's ceiling",
		                                               tenancy_role_name(role))};
	else
		*d = (tenancy_decision){true, "within the service principal's scope"};
	return US_OK;
}

/* Exactly one granter: a person who may grant this now (granter: their membership, NULL
 * when none), a service principal whose scope covers it, or Usher itself with a reason
 * (the method is for the system alone). */
static us_err check_granter(us_call *call, const Usher__V1__Account *account,
                            const Usher__V1__Membership *granter,
                            const Usher__V1__GrantMembershipRequest *req)
{
	if (req->granted_by_principal[0] != '\0') {
		tenancy_decision d;
		us_err rc = principal_decision(call, account, req->granted_by_principal, (int)req->role,
		                               &d);
		if (rc != US_OK || d.allowed)
			return rc;
		return us_call_error(call, US_EDENIED, "granted_by_principal may not grant this: %s",
		                     d.reason);
	}
	if (req->granted_by[0] == '\0') {
		us_log_fields(US_LOG_INFO, "membership granted by the system", "caller",
		              us_call_caller_name(call), "reason", req->system_reason, NULL);
		return US_OK;
	}
	int min_role;
	us_err rc = tenancy_guard_min_role(call, TENANCY_ACTION_INVITE, &min_role);
	if (rc != US_OK)
		return rc;
	tenancy_decision d = tenancy_access_grant(us_call_arena(call), account, granter, min_role,
	                                          (int)req->role, req->scope, req->products,
	                                          req->n_products);
	if (d.allowed)
		d = tenancy_access_grant_flags(us_call_arena(call), granter, req->flags, req->n_flags);
	if (d.allowed)
		return US_OK;
	/* Callers (invitationd) tell the person in their own words; this is for them and logs. */
	return us_call_error(call, US_EDENIED, "the granter may no longer grant this membership: %s",
	                     d.reason);
}

us_err tenancy_grant_membership(us_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **reply)
{
	const Usher__V1__GrantMembershipRequest *req =
	        (const Usher__V1__GrantMembershipRequest *)request;
	tenancy_input_uuid(call, "account_id", req->account_id);
	tenancy_input_uuid(call, "user_id", req->user_id);
	grant_input(call, (int)req->role, req->scope, req->products, req->n_products);
	tenancy_input_names(call, "flags", req->flags, req->n_flags, TENANCY_FLAGS_MAX,
	                    TENANCY_FLAG_MAX);
	tenancy_input_source(call, "source", req->source);
	tenancy_input_optional_uuid(call, "granted_by", req->granted_by);
	tenancy_input_optional_uuid(call, "granted_by_principal", req->granted_by_principal);
	int granters = (req->granted_by[0] != '\0') + (req->granted_by_principal[0] != '\0') +
	               (req->system_reason[0] != '\0');
	if (granters != 1)
		us_call_violation(call, "granted_by", "give exactly one of granted_by, "
		                                      "granted_by_principal and system_reason");
	if (req->system_reason[0] != '\0' &&
	    us_name_check(req->system_reason, SYSTEM_REASON_MAX) != NULL)
		us_call_violation(call, "system_reason", "must be 1 to %d characters of text",
		                  SYSTEM_REASON_MAX);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__GrantMembershipReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                    Usher__V1__GrantMembershipReply);
	us_db_stmt audit;
	us_err rc = us_audit_stmt(call, &(us_audit_entry){
	        .account_id = req->account_id, .action = "member.add", .subject_type = "user",
	        .subject_id = req->user_id,
	        .detail = us_arena_printf(us_call_arena(call), "role %s; source %s",
	                                  tenancy_role_name((int)req->role), req->source)},
	        &audit);
	if (rc != US_OK || out == NULL)
		return US_EEXHAUSTED;
	usher__v1__grant_membership_reply__init(out);
	tenancy_store_new_membership in = {
		.account_id = req->account_id,
		.user_id = req->user_id,
		.role = (int)req->role,
		.scope = req->scope,
		.products = req->products,
		.n_products = req->n_products,
		.flags = req->flags,
		.n_flags = req->n_flags,
		.source = req->source,
	};
	/* Everything is read and written in one round trip, optimistically: the checks below
	 * judge what was read (the granter's membership as it stood under the account's share
	 * lock), and a refusal rolls the insert and its audit row back. */
	bool by_person = req->granted_by[0] != '\0';
	tenancy_store_grant_facts f;
	rc = tenancy_store_grant(us_call_db(call), us_call_arena(call), &in,
	                         by_person ? req->granted_by : NULL, &audit, &f);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "account not found");
	if (rc == US_OK)
		rc = fit_violations(call, f.account, req->products, req->n_products, f.missing,
		                    f.n_missing);
	if (rc == US_OK)
		rc = check_granter(call, f.account, f.granter, req);
	if (rc == US_OK && f.membership == NULL)
		return us_call_error(call, US_EEXISTS, "the user is already a member of this account");
	if (rc != US_OK)
		return rc;
	out->membership = f.membership;
	*reply = &out->base;
	return US_OK;
}

/* The account's products the granter may grant: every one for a service principal
 * (all), those granter holds for a person (none when they hold no membership). */
static us_err grantable_products(us_arena *a, const Usher__V1__Account *account,
                                 const Usher__V1__Membership *granter, bool all,
                                 Usher__V1__CheckGrantReply *out)
{
	out->grantable_products = US_ARENA_ARRAY(a, char *, account->n_products + 1);
	if (out->grantable_products == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; (all || granter != NULL) && i < account->n_products; i++) {
		if (all || tenancy_access_holds(account, granter, account->products[i]))
			out->grantable_products[out->n_grantable_products++] = account->products[i];
	}
	return US_OK;
}

/* CheckGrant's answer in *out; *account is the account read for it (NULL for an
 * outsider, who is told only "not a member"). */
static us_err check_grant(us_call *call, const Usher__V1__CheckGrantRequest *req,
                          Usher__V1__CheckGrantReply **answer, Usher__V1__Account **account_out)
{
	const char *actor = tenancy_input_actor(call);
	bool by_principal = req->principal_id[0] != '\0';
	if (by_principal && req->actor_user_id[0] != '\0')
		us_call_violation(call, "principal_id", "give either actor_user_id or principal_id");
	else if (by_principal)
		tenancy_input_uuid(call, "principal_id", req->principal_id);
	else
		tenancy_input_uuid(call, "actor_user_id", req->actor_user_id);
	tenancy_input_uuid(call, "account_id", req->account_id);
	grant_input(call, (int)req->role, req->scope, req->products, req->n_products);
	tenancy_input_names(call, "flags", req->flags, req->n_flags, TENANCY_FLAGS_MAX,
	                    TENANCY_FLAG_MAX);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__Account *account;
	Usher__V1__Membership *reader, *granter = NULL;
	int min_role;
	us_err rc = tenancy_guard_read(call, actor, req->account_id, &account, &reader);
	if (rc == US_OK && !by_principal)
		rc = tenancy_guard_membership(call, req->account_id, req->actor_user_id, &granter);
	if (rc != US_OK)
		return rc;
	Usher__V1__CheckGrantReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__CheckGrantReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__check_grant_reply__init(out);
	*answer = out;
	*account_out = NULL;
	/* An outsider learns nothing about the account's products or subaccounts. */
	if (!by_principal && granter == NULL) {
		out->reason = "not a member";
		return US_OK;
	}
	rc = tenancy_grants_fit_account(call, account, req->scope, req->products, req->n_products);
	tenancy_decision d;
	if (rc == US_OK && by_principal) {
		rc = principal_decision(call, account, req->principal_id, (int)req->role, &d);
	} else {
		if (rc == US_OK)
			rc = tenancy_guard_min_role(call, TENANCY_ACTION_INVITE, &min_role);
		if (rc == US_OK)
			d = tenancy_access_grant(us_call_arena(call), account, granter, min_role,
			                         (int)req->role, req->scope, req->products,
			                         req->n_products);
		if (rc == US_OK && d.allowed)
			d = tenancy_access_grant_flags(us_call_arena(call), granter, req->flags,
			                               req->n_flags);
	}
	if (rc != US_OK)
		return rc;
	out->allowed = d.allowed;
	out->reason = (char *)d.reason;
	*account_out = account;
	return grantable_products(us_call_arena(call), account, granter, by_principal && d.allowed,
	                          out);
}

us_err tenancy_check_grant(us_call *call, const ProtobufCMessage *request,
                           ProtobufCMessage **reply)
{
	Usher__V1__CheckGrantReply *out;
	Usher__V1__Account *account;
	us_err rc = check_grant(call, (const Usher__V1__CheckGrantRequest *)request, &out, &account);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_check_invite(us_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **reply)
{
	const Usher__V1__CheckInviteRequest *req = (const Usher__V1__CheckInviteRequest *)request;
	if (req->grant == NULL)
		us_call_violation(call, "grant", "is required");
	tenancy_input_user_ids(call, "user_ids", req->user_ids, req->n_user_ids);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__CheckInviteReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__CheckInviteReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__check_invite_reply__init(out);
	us_err rc = check_grant(call, req->grant, &out->grant, &out->account);
	if (rc != US_OK)
		return rc;
	/* Only an allowed inviter learns the account and who is in it. */
	if (!out->grant->allowed) {
		out->account = NULL;
	} else if (req->n_user_ids > 0) {
		rc = tenancy_store_members_among(us_call_db(call), us_call_arena(call),
		                                 req->grant->account_id, req->user_ids,
		                                 req->n_user_ids, &out->member_user_ids,
		                                 &out->n_member_user_ids);
		if (rc != US_OK)
			return rc;
	}
	*reply = &out->base;
	return US_OK;
}
