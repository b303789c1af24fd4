/* usher-identityd's RPC services: the dispatch tables, with the daemon's context. */
#ifndef IDENTITY_SERVER_H
#define IDENTITY_SERVER_H

#include "common/rpc_server.h"
#include "context.h"

#define IDENTITY_N_SERVICES 4

/* IdentityService and PrincipalService, each handing ctx to its handlers. */
void identity_server_services(identity_ctx *ctx, us_rpc_service out[IDENTITY_N_SERVICES]);

#endif
