/* usher.v1.AuditService for invitationd's own audit rows: invitations and permanent
 * links (common/audit.h). */
#ifndef INVITATION_AUDIT_H
#define INVITATION_AUDIT_H

#include "common/rpc_server.h"

/* With an actor: tenancyd must allow them audit.view account-wide. */
us_rpc_handler invitation_list_audit;

#endif
