/* What handlers do before their own work: is there an actor, may they look at this
 * account, and what a decision means for the reply. */
#ifndef TENANCY_GUARD_H
#define TENANCY_GUARD_H

#include "access.h"
#include "common/err.h"
#include "common/rpc_server.h"
#include "store.h"
#include "usher/v1/tenancy.pb-c.h"

/* UNAUTHENTICATED when the request names no actor (methods that act for someone);
 * PERMISSION_DENIED for a service principal, which never acts for a person. */
US_MUST_USE us_err tenancy_guard_actor(us_call *call, const char *actor);

/* For a request naming no actor: US_OK from Usher itself (the "system" right) or a
 * service principal (whose account scope the RPC layer has checked); otherwise
 * UNAUTHENTICATED. */
US_MUST_USE us_err tenancy_guard_trusted(us_call *call);

/* Loads the account for a read. With an actor, the actor must hold an active
 * membership in it: otherwise PERMISSION_DENIED, the same reply whether or not the
 * account exists, so outsiders learn nothing. Without an actor the caller must be trusted
 * (tenancy_guard_trusted), and a missing account is NOT_FOUND. *member gets the actor's
 * membership (NULL without an actor). */
US_MUST_USE us_err tenancy_guard_read(us_call *call, const char *actor, const char *account_id,
                                      Usher__V1__Account **account,
                                      Usher__V1__Membership **member);

/* Loads and locks the account for a change by actor, and the actor's membership, which
 * must exist (PERMISSION_DENIED as for reads). Whether a deactivated or junior actor
 * may make the change is for the access rules. */
US_MUST_USE us_err tenancy_guard_change(us_call *call, const char *actor, const char *account_id,
                                        tenancy_store_lock lock, Usher__V1__Account **account,
                                        Usher__V1__Membership **member);

/* user_id's membership in the account, or NULL when they have none. */
US_MUST_USE us_err tenancy_guard_membership(us_call *call, const char *account_id,
                                            const char *user_id, Usher__V1__Membership **out);

/* The matrix's minimum role for action. */
US_MUST_USE us_err tenancy_guard_min_role(us_call *call, const char *action, int *out);

/* US_OK when d allows; else PERMISSION_DENIED with d's reason as the message. */
US_MUST_USE us_err tenancy_guard_allowed(us_call *call, tenancy_decision d);

#endif
