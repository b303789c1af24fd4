/* usher.v1.AuditService for tenancyd's own audit rows: memberships and account settings
 * (common/audit.h). */
#ifndef TENANCY_AUDIT_H
#define TENANCY_AUDIT_H

#include "common/rpc_server.h"

/* With an actor: they need audit.view account-wide. */
us_rpc_handler tenancy_list_audit;

#endif
