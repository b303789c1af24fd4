#ifndef TENANCY_SERVER_H
#define TENANCY_SERVER_H

#include "common/rpc_server.h"
#include "context.h"

/* The daemon's RPC service, handing ctx to its handlers (for us_daemon_main()). */
us_rpc_service tenancy_server_service(tenancy_ctx *ctx);
/* Its usher.v1.AuditService (audit.h), likewise. */
us_rpc_service tenancy_server_audit_service(tenancy_ctx *ctx);

#endif
