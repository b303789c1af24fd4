/* usher.v1.Admin (internal): what an operator asks a daemon about its database, today
 * MigrationStatus. The RPC server binds it for every daemon with a database; it is a
 * service like the daemons' own, kept out of the RPC core. */
#ifndef US_ADMIN_SERVICE_H
#define US_ADMIN_SERVICE_H

#include "common/migrate.h"
#include "common/rpc_server.h"

typedef struct us_admin_ctx {
	const char *schema;              /* the daemon's schema */
	const us_migration *migrations;  /* the daemon's own */
} us_admin_ctx;

/* The service, its handlers reading ctx (borrowed for the server's life). */
us_rpc_service us_admin_service(const us_admin_ctx *ctx);

#endif
