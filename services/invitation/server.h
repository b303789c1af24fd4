#ifndef INVITATION_SERVER_H
#define INVITATION_SERVER_H

#include <stddef.h>

#include "common/rpc_server.h"

/* The dispatch table of usher.v1.InvitationService; main.c serves it with the daemon's
 * context (context.h) as the service context. */
extern const us_rpc_method invitation_methods[];
extern const size_t invitation_n_methods;
/* usher.v1.AuditService (audit.h), served the same way. */
extern const us_rpc_method invitation_audit_methods[];
extern const size_t invitation_n_audit_methods;
/* usher.v1.ErasureService (erasure.h): DeleteUser and EraseUser. */
extern const us_rpc_method invitation_erasure_methods[];
extern const size_t invitation_n_erasure_methods;

#endif
