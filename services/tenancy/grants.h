/* Granting memberships: GrantMembership, and CheckGrant, which asks the same question
 * without the change (invitationd asks it before it invites, as CheckInvite). */
#ifndef TENANCY_GRANTS_H
#define TENANCY_GRANTS_H

#include <stddef.h>

#include "common/rpc_server.h"
#include "usher/v1/tenancy.pb-c.h"

us_rpc_handler tenancy_grant_membership;
us_rpc_handler tenancy_check_grant;
/* CheckGrant, GetAccount and MembersAmong for CreateInvitations in one call (internal). */
us_rpc_handler tenancy_check_invite;

/* Checks them against the account: products among its own, subaccounts its own.
 * INVALID_ARGUMENT when they are not. */
US_MUST_USE us_err tenancy_grants_fit_account(us_call *call, const Usher__V1__Account *account,
                                              const Usher__V1__Scope *scope,
                                              char *const *products, size_t n_products);

#endif
