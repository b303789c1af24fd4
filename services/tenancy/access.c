#include "access.h"

#include <string.h>

#include "roles.h"

static tenancy_decision allow(const char *reason)
{
	return (tenancy_decision){true, reason};
}

static tenancy_decision deny(const char *reason)
{
	return (tenancy_decision){false, reason};
}

/* True when scope is organization-level or lists subaccount_id. */
static bool scope_has(const Usher__V1__Scope *scope, const char *subaccount_id)
{
	if (scope == NULL)
		return false;
	if (scope->organization)
		return true;
	for (size_t i = 0; i < scope->n_subaccount_ids; i++) {
		if (strcmp(scope->subaccount_ids[i], subaccount_id) == 0)
			return true;
	}
	return false;
}

/* True when every subaccount inner reaches, outer reaches too. */
static bool scope_covers(const Usher__V1__Scope *outer, const Usher__V1__Scope *inner)
{
	if (outer != NULL && outer->organization)
		return true;
	if (inner == NULL || inner->organization)
		return false;
	for (size_t i = 0; i < inner->n_subaccount_ids; i++) {
		if (!scope_has(outer, inner->subaccount_ids[i]))
			return false;
	}
	return true;
}

/* What every decision starts with: a standing member of a standing account. */
static bool in_good_standing(const Usher__V1__Account *account, const Usher__V1__Membership *m,
                             tenancy_decision *d)
{
	if (m == NULL)
		*d = deny("not a member");
	else if (m->status != USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE)
		*d = deny("membership is deactivated");
	else if (account->status == USHER__V1__ACCOUNT_STATUS__ACCOUNT_SUSPENDED)
		*d = deny("account is suspended");
	else
		return true;
	return false;
}

/* Does m's role meet min_role? Sets a denial when not. */
static bool meets(us_arena *a, const Usher__V1__Account *account, const Usher__V1__Membership *m,
                  int min_role, tenancy_decision *d)
{
	if (min_role == TENANCY_ROLE_PRIMARY_OWNER) {
		/* Recorded as primary owner is not enough: one who stepped down from owner has
		 * handed their rights back. */
		if (strcmp(m->user_id, account->primary_owner_id) == 0 &&
		    m->role == USHER__V1__ROLE__ROLE_OWNER)
			return true;
		*d = deny("only the account's primary owner may do this");
		return false;
	}
	if ((int)m->role >= min_role)
		return true;
	*d = deny(us_arena_printf(a, "role %s is below %s", tenancy_role_name((int)m->role),
	                          tenancy_role_name(min_role)));
	return false;
}

static bool listed(char *const *items, size_t n, const char *item)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(items[i], item) == 0)
			return true;
	}
	return false;
}

bool tenancy_access_holds(const Usher__V1__Account *account, const Usher__V1__Membership *m,
                          const char *product)
{
	if (!listed(account->products, account->n_products, product))
		return false;
	return m->role == USHER__V1__ROLE__ROLE_OWNER ||
	       listed(m->products, m->n_products, product);
}

tenancy_decision tenancy_access_check(us_arena *a, const Usher__V1__Account *account,
                                      const Usher__V1__Membership *m, int min_role,
                                      const char *subaccount_id, bool subaccount_in_account,
                                      const char *product)
{
	tenancy_decision d;
	if (!in_good_standing(account, m, &d) || !meets(a, account, m, min_role, &d))
		return d;
	if (product[0] != '\0') {
		if (!listed(account->products, account->n_products, product))
			return deny(us_arena_printf(a, "product \"%s\" is not enabled for this account",
			                            product));
		if (!tenancy_access_holds(account, m, product))
			return deny(us_arena_printf(a, "the membership does not include product \"%s\"",
			                            product));
	}
	if (subaccount_id[0] == '\0') {
		if (!m->scope->organization)
			return deny("an account-wide action needs organization scope");
		return allow(us_arena_printf(a, "role %s meets %s at organization scope",
		                             tenancy_role_name((int)m->role), tenancy_role_name(min_role)));
	}
	if (!subaccount_in_account)
		return deny("subaccount is not in this account");
	if (!scope_has(m->scope, subaccount_id))
		return deny("scope does not include subaccount");
	return allow(us_arena_printf(a, "role %s meets %s in scope", tenancy_role_name((int)m->role),
	                             tenancy_role_name(min_role)));
}

tenancy_decision tenancy_access_grant(us_arena *a, const Usher__V1__Account *account,
                                      const Usher__V1__Membership *actor, int action_min,
                                      int role, const Usher__V1__Scope *scope,
                                      char *const *products, size_t n_products)
{
	tenancy_decision d;
	if (!in_good_standing(account, actor, &d))
		return d;
	if (actor->role < USHER__V1__ROLE__ROLE_ADMIN)
		return deny(us_arena_printf(a, "role %s cannot grant memberships",
		                            tenancy_role_name((int)actor->role)));
	if (!meets(a, account, actor, action_min, &d))
		return d;
	if (role > (int)actor->role)
		return deny(us_arena_printf(a, "cannot grant %s, above own role %s",
		                            tenancy_role_name(role), tenancy_role_name((int)actor->role)));
	if (scope->organization && actor->role != USHER__V1__ROLE__ROLE_OWNER)
		return deny("only owners grant at organization level");
	if (!scope_covers(actor->scope, scope))
		return deny("scope includes a subaccount outside your own");
	for (size_t i = 0; i < n_products; i++) {
		if (!tenancy_access_holds(account, actor, products[i]))
			return deny(us_arena_printf(a, "cannot grant product \"%s\", which you do not hold",
			                            products[i]));
	}
	return allow(us_arena_printf(a, "role %s may grant %s in this scope",
	                             tenancy_role_name((int)actor->role), tenancy_role_name(role)));
}

tenancy_decision tenancy_access_grant_flags(us_arena *a, const Usher__V1__Membership *actor,
                                            char *const *flags, size_t n_flags)
{
	for (size_t i = 0; actor->role != USHER__V1__ROLE__ROLE_OWNER && i < n_flags; i++) {
		if (!listed(actor->flags, actor->n_flags, flags[i]))
			return deny(us_arena_printf(a, "cannot grant flag \"%s\", which you do not hold",
			                            flags[i]));
	}
	return allow("may grant these flags");
}

tenancy_decision tenancy_access_manage(us_arena *a, const Usher__V1__Account *account,
                                       const Usher__V1__Membership *actor, int action_min,
                                       const Usher__V1__Membership *target)
{
	tenancy_decision d;
	if (!in_good_standing(account, actor, &d) || !meets(a, account, actor, action_min, &d))
		return d;
	if (!scope_covers(actor->scope, target->scope))
		return deny("the member's scope is outside your own");
	if (target->role > actor->role)
		return deny(us_arena_printf(a, "the member's role %s is above own role %s",
		                            tenancy_role_name((int)target->role),
		                            tenancy_role_name((int)actor->role)));
	return allow("allowed");
}
