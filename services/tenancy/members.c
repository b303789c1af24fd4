#include "members.h"

#include <string.h>

#include "grants.h"
#include "guard.h"
#include "input.h"
#include "permissions.h"
#include "roles.h"
#include "store.h"
#include "common/audit.h"

/* The parties to a change: the account (locked), the actor and the member acted on. */
typedef struct parties {
	const char *actor_id;
	Usher__V1__Account *account;
	Usher__V1__Membership *actor;
	Usher__V1__Membership *target;
	int action_min;
} parties;

/* The change to p's member in the audit log, in the change's transaction. */
static us_err audit(us_call *call, const parties *p, const char *action, const char *detail)
{
	return us_audit_record(call, &(us_audit_entry){.account_id = p->account->id,
	                                               .action = action,
	                                               .subject_type = "user",
	                                               .subject_id = p->target->user_id,
	                                               .detail = detail});
}

/* items joined by commas, "" when none, for the audit log; NULL when out of memory. */
static const char *joined(us_arena *a, char *const *items, size_t n)
{
	const char *out = "";
	for (size_t i = 0; i < n && out != NULL; i++)
		out = us_arena_printf(a, "%s%s%s", out, i ? "," : "", items[i]);
	return out;
}

/* "organization" or "subaccounts a,b", and the products, for the audit log. */
static const char *scope_text(us_arena *a, const Usher__V1__Scope *scope, char **products,
                              size_t n_products)
{
	const char *subs = joined(a, scope->subaccount_ids, scope->n_subaccount_ids);
	const char *prods = joined(a, products, n_products);
	if (subs == NULL || prods == NULL)
		return NULL;
	return us_arena_printf(a, "scope %s%s; products %s",
	                       scope->organization ? "organization" : "subaccounts ",
	                       scope->organization ? "" : subs, n_products ? prods : "none");
}

/* The ids every such request names. */
static void check_ids(us_call *call, const char *account_id, const char *user_id)
{
	tenancy_input_uuid(call, "account_id", account_id);
	tenancy_input_uuid(call, "user_id", user_id);
}

/* Loads the parties and applies the rules shared by every change: the actor's
 * permission for action over the target's scope, and the role ceiling. */
static us_err load_parties(us_call *call, const char *account_id, const char *user_id,
                           const char *action, parties *p)
{
	p->actor_id = us_call_actor_user_id(call);
	us_err rc = tenancy_guard_change(call, p->actor_id, account_id, TENANCY_STORE_UPDATE,
	                                 &p->account, &p->actor);
	if (rc == US_OK)
		rc = tenancy_guard_membership(call, account_id, user_id, &p->target);
	if (rc == US_OK && p->target == NULL)
		rc = us_call_error(call, US_ENOTFOUND, "the user is not a member of this account");
	if (rc == US_OK)
		rc = tenancy_guard_min_role(call, action, &p->action_min);
	if (rc != US_OK)
		return rc;
	return tenancy_guard_allowed(call, tenancy_access_manage(us_call_arena(call), p->account,
	                                                         p->actor, p->action_min, p->target));
}

static bool acts_on_self(const parties *p)
{
	return strcmp(p->actor_id, p->target->user_id) == 0;
}

/* Refuses a change that would take the primary owner's rights away, unless they make
 * it themselves. */
static us_err spare_primary_owner(us_call *call, const parties *p, const char *done)
{
	if (strcmp(p->target->user_id, p->account->primary_owner_id) == 0 && !acts_on_self(p))
		return us_call_error(call, US_EDENIED, "the primary owner can be %s only by themselves",
		                     done);
	return US_OK;
}

/* Refuses a change that would leave the account without an active owner. */
static us_err keep_an_owner(us_call *call, const parties *p, const char *what)
{
	if (p->target->role != USHER__V1__ROLE__ROLE_OWNER)
		return US_OK;
	long others = 0;
	us_err rc = tenancy_store_other_active_owners(us_call_db(call), p->target, &others);
	if (rc != US_OK)
		return rc;
	if (others == 0)
		return us_call_error(call, US_EPRECONDITION, "cannot %s the last owner", what);
	return US_OK;
}

static us_err member_reply(us_call *call, Usher__V1__Membership *m, ProtobufCMessage **reply)
{
	Usher__V1__MemberReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__MemberReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__member_reply__init(out);
	out->membership = m;
	*reply = &out->base;
	return US_OK;
}

static us_err change_role_reply(us_call *call, Usher__V1__Membership *m, ProtobufCMessage **reply)
{
	Usher__V1__ChangeRoleReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__ChangeRoleReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__change_role_reply__init(out);
	out->membership = m;
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_change_role(us_call *call, const ProtobufCMessage *request,
                           ProtobufCMessage **reply)
{
	const Usher__V1__ChangeRoleRequest *req = (const Usher__V1__ChangeRoleRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	check_ids(call, req->account_id, req->user_id);
	tenancy_input_role(call, "role", (int)req->role);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	parties p;
	rc = load_parties(call, req->account_id, req->user_id, TENANCY_ACTION_ROLE_CHANGE, &p);
	if (rc != US_OK)
		return rc;
	int role = (int)req->role;
	/* Owners are organization-level by definition, so promotion widens the scope. */
	Usher__V1__Scope scope = *p.target->scope;
	if (role == USHER__V1__ROLE__ROLE_OWNER) {
		scope.organization = true;
		scope.n_subaccount_ids = 0;
	}
	/* The new role is granted over the member's scope as a new membership would be:
	 * nobody above their own role, and only owners at organization level. */
	rc = tenancy_guard_allowed(call, tenancy_access_grant(us_call_arena(call), p.account, p.actor,
	                                                      p.action_min, role, &scope, NULL, 0));
	if (rc != US_OK)
		return rc;
	if (role == (int)p.target->role)
		return change_role_reply(call, p.target, reply);
	if (role < (int)p.target->role) {
		rc = spare_primary_owner(call, &p, "demoted");
		if (rc == US_OK)
			rc = keep_an_owner(call, &p, "demote");
		if (rc != US_OK)
			return rc;
	}
	Usher__V1__Membership *m;
	rc = tenancy_store_membership_set_role(us_call_db(call), us_call_arena(call), p.target,
	                                       role, scope.organization, &m);
	if (rc == US_OK)
		rc = audit(call, &p, "member.role.change",
		           us_arena_printf(us_call_arena(call), "role %s -> %s",
		                           tenancy_role_name((int)p.target->role),
		                           tenancy_role_name(role)));
	if (rc != US_OK)
		return rc;
	return change_role_reply(call, m, reply);
}

us_err tenancy_set_scope(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__SetScopeRequest *req = (const Usher__V1__SetScopeRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	check_ids(call, req->account_id, req->user_id);
	tenancy_input_scope(call, "scope", req->scope);
	tenancy_input_names(call, "products", req->products, req->n_products, US_PRODUCTS_MAX,
	                    US_PRODUCT_NAME_MAX_BYTES);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	parties p;
	rc = load_parties(call, req->account_id, req->user_id, TENANCY_ACTION_ROLE_CHANGE, &p);
	if (rc == US_OK)
		rc = tenancy_grants_fit_account(call, p.account, req->scope, req->products,
		                                req->n_products);
	if (rc != US_OK)
		return rc;
	if (p.target->role == USHER__V1__ROLE__ROLE_OWNER && !req->scope->organization)
		return us_call_error(call, US_EPRECONDITION, "owners are organization-level");
	/* The new scope is granted as a new membership would be. */
	rc = tenancy_guard_allowed(call, tenancy_access_grant(us_call_arena(call), p.account, p.actor,
	                                                      p.action_min, (int)p.target->role,
	                                                      req->scope, req->products,
	                                                      req->n_products));
	if (rc != US_OK)
		return rc;

	Usher__V1__SetScopeReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__SetScopeReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__set_scope_reply__init(out);
	rc = tenancy_store_membership_set_scope(us_call_db(call), us_call_arena(call), p.target,
	                                        req->scope, req->products, req->n_products,
	                                        &out->membership);
	if (rc == US_OK)
		rc = audit(call, &p, "member.scope.change",
		           us_arena_printf(us_call_arena(call), "%s (was %s)",
		                           scope_text(us_call_arena(call), req->scope, req->products,
		                                      req->n_products),
		                           scope_text(us_call_arena(call), p.target->scope,
		                                      p.target->products, p.target->n_products)));
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

/* Whether item is among items. */
static bool among(char *const *items, size_t n, const char *item)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(items[i], item) == 0)
			return true;
	}
	return false;
}

/* The flags that would change: those added and those taken away, in the arena. */
static char **changed_flags(us_arena *a, const Usher__V1__Membership *target, char *const *flags,
                            size_t n_flags, size_t *n)
{
	char **out = US_ARENA_ARRAY(a, char *, n_flags + target->n_flags + 1);
	*n = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n_flags; i++) {
		if (!among(target->flags, target->n_flags, flags[i]))
			out[(*n)++] = flags[i];
	}
	for (size_t i = 0; i < target->n_flags; i++) {
		if (!among(flags, n_flags, target->flags[i]))
			out[(*n)++] = target->flags[i];
	}
	return out;
}

us_err tenancy_set_flags(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__SetFlagsRequest *req = (const Usher__V1__SetFlagsRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	check_ids(call, req->account_id, req->user_id);
	tenancy_input_names(call, "flags", req->flags, req->n_flags, TENANCY_FLAGS_MAX,
	                    TENANCY_FLAG_MAX);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	parties p;
	rc = load_parties(call, req->account_id, req->user_id, TENANCY_ACTION_ROLE_CHANGE, &p);
	if (rc != US_OK)
		return rc;
	us_arena *a = us_call_arena(call);
	/* Flags are granted as with a new membership: the member's role and scope again (the
	 * grant's ceiling on the actor), and only flags the actor holds, added or taken away. */
	size_t n_changed;
	char **changed = changed_flags(a, p.target, req->flags, req->n_flags, &n_changed);
	if (changed == NULL)
		return US_EEXHAUSTED;
	tenancy_decision d = tenancy_access_grant(a, p.account, p.actor, p.action_min,
	                                          (int)p.target->role, p.target->scope, NULL, 0);
	if (d.allowed)
		d = tenancy_access_grant_flags(a, p.actor, changed, n_changed);
	rc = tenancy_guard_allowed(call, d);
	if (rc != US_OK)
		return rc;

	Usher__V1__SetFlagsReply *out = US_ARENA_NEW(a, Usher__V1__SetFlagsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__set_flags_reply__init(out);
	rc = tenancy_store_membership_set_flags(us_call_db(call), a, p.target, req->flags,
	                                        req->n_flags, &out->membership);
	if (rc == US_OK)
		rc = audit(call, &p, "member.flags.change",
		           us_arena_printf(a, "%s (was %s)", joined(a, req->flags, req->n_flags),
		                           joined(a, p.target->flags, p.target->n_flags)));
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

/* Deactivate and Reactivate: sets the target's status. */
static us_err set_status(us_call *call, const ProtobufCMessage *request, int status,
                         ProtobufCMessage **reply)
{
	const Usher__V1__MemberRequest *req = (const Usher__V1__MemberRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	check_ids(call, req->account_id, req->user_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	parties p;
	rc = load_parties(call, req->account_id, req->user_id, TENANCY_ACTION_DEACTIVATE, &p);
	if (rc != US_OK)
		return rc;
	if ((int)p.target->status == status)
		return member_reply(call, p.target, reply);
	if (status == USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED) {
		rc = spare_primary_owner(call, &p, "deactivated");
		if (rc == US_OK)
			rc = keep_an_owner(call, &p, "deactivate");
		if (rc != US_OK)
			return rc;
	}
	Usher__V1__Membership *m;
	rc = tenancy_store_membership_set_status(us_call_db(call), us_call_arena(call), p.target,
	                                         status, &m);
	if (rc == US_OK)
		rc = audit(call, &p,
		           status == USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED
		                   ? "member.deactivate"
		                   : "member.reactivate",
		           NULL);
	if (rc != US_OK)
		return rc;
	return member_reply(call, m, reply);
}

us_err tenancy_deactivate(us_call *call, const ProtobufCMessage *request,
                          ProtobufCMessage **reply)
{
	return set_status(call, request, USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED, reply);
}

us_err tenancy_reactivate(us_call *call, const ProtobufCMessage *request,
                          ProtobufCMessage **reply)
{
	return set_status(call, request, USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE, reply);
}

us_err tenancy_remove(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__MemberRequest *req = (const Usher__V1__MemberRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	check_ids(call, req->account_id, req->user_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	parties p;
	rc = load_parties(call, req->account_id, req->user_id, TENANCY_ACTION_REMOVE, &p);
	if (rc == US_OK)
		rc = spare_primary_owner(call, &p, "removed");
	if (rc == US_OK)
		rc = keep_an_owner(call, &p, "remove");
	if (rc == US_OK)
		rc = tenancy_store_membership_delete(us_call_db(call), p.target);
	if (rc == US_OK)
		rc = audit(call, &p, "member.remove",
		           us_arena_printf(us_call_arena(call), "role %s",
		                           tenancy_role_name((int)p.target->role)));
	if (rc != US_OK)
		return rc;
	Usher__V1__RemoveReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__RemoveReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__remove_reply__init(out);
	out->membership = p.target;
	*reply = &out->base;
	return US_OK;
}
