/* The rules of who may do what, as pure functions of an account, memberships and the
 * matrix's minimum role: no database, so every rule is unit-tested on its own. A NULL
 * membership means "not a member". Reasons are for humans and logs ("role admin is
 * below owner"); they live in the arena or are static. */
#ifndef TENANCY_ACCESS_H
#define TENANCY_ACCESS_H

#include <stdbool.h>

#include "common/arena.h"
#include "usher/v1/tenancy.pb-c.h"

typedef struct tenancy_decision {
	bool allowed;
	const char *reason;
} tenancy_decision;

/* May m's holder do an action needing min_role in subaccount_id ("" = account-wide,
 * which needs organization scope)? subaccount_in_account says whether that subaccount
 * belongs to the account. product ("" = none) is the product the action is done in: the
 * account must have it and the membership include it. The primary_owner minimum is met
 * only by the primary owner while they are an owner. */
tenancy_decision tenancy_access_check(us_arena *a, const Usher__V1__Account *account,
                                      const Usher__V1__Membership *m, int min_role,
                                      const char *subaccount_id, bool subaccount_in_account,
                                      const char *product);

/* Does m hold product? Owners hold every product the account has. */
bool tenancy_access_holds(const Usher__V1__Account *account, const Usher__V1__Membership *m,
                          const char *product);

/* May actor grant role with scope and products? action_min is the matrix's minimum for
 * the granting action (member.invite; member.role.change when a role or scope is
 * changed). On top of it the ceiling, which no matrix lifts: moderators and members never
 * grant, nobody grants above their own role, only owners grant at organization level,
 * others only into subaccounts within their own scope, and nobody grants a product they
 * do not hold. */
tenancy_decision tenancy_access_grant(us_arena *a, const Usher__V1__Account *account,
                                      const Usher__V1__Membership *actor, int action_min,
                                      int role, const Usher__V1__Scope *scope,
                                      char *const *products, size_t n_products);

/* May actor grant (or take away) flags? Owners hold every flag; anyone else only grants
 * the flags their own membership holds. */
tenancy_decision tenancy_access_grant_flags(us_arena *a, const Usher__V1__Membership *actor,
                                            char *const *flags, size_t n_flags);

/* May actor act on target's membership with an action needing action_min? The actor's
 * scope must cover the target's, and nobody touches a role above their own. */
tenancy_decision tenancy_access_manage(us_arena *a, const Usher__V1__Account *account,
                                       const Usher__V1__Membership *actor, int action_min,
                                       const Usher__V1__Membership *target);

#endif
