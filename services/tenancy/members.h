/* Managing memberships: ChangeRole, SetScope, Deactivate, Reactivate, Remove. The actor
 * needs the action's permission over the member's whole scope and may not touch a role
 * above their own; the account never loses its last active owner, and nobody but the
 * primary owner demotes, deactivates or removes the primary owner. */
#ifndef TENANCY_MEMBERS_H
#define TENANCY_MEMBERS_H

#include "common/rpc_server.h"

us_rpc_handler tenancy_change_role;
us_rpc_handler tenancy_set_scope;
us_rpc_handler tenancy_set_flags;
us_rpc_handler tenancy_deactivate;
us_rpc_handler tenancy_reactivate;
us_rpc_handler tenancy_remove;

#endif
