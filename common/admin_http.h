/* Every daemon's admin HTTP server (ADMIN_LISTEN, loopback by default), for probes and
 * Prometheus, apart from the RPC socket and the gateway's public port:
 *
 *   GET /livez    200 "ok" while the process serves HTTP at all;
 *   GET /readyz   200 "ready", or 503 with the reasons, one per line: ready only when the
 *                 daemon's Postgres answers, its migrations are all applied, every
 *                 required peer answers Health/Check SERVING, and it is not draining;
 *   GET /metrics  the Prometheus text format (metrics.h; docs/operations.md).
 *
 * A thread checks readiness every US_ADMIN_CHECK_PERIOD_MS, so a failure shows within
 * about a period plus a check's timeout; draining (SIGTERM) shows at once. */
#ifndef US_ADMIN_HTTP_H
#define US_ADMIN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/err.h"
#include "common/migrate.h"
#include "common/rpc_client.h"

#define US_ADMIN_CHECK_PERIOD_MS 500
/* How long a peer's Health/Check may take before it counts as not answering. */
#define US_ADMIN_PEER_TIMEOUT_MS 500

/* A daemon this one cannot serve without: client points at the daemon's own client
 * (filled by its start hook, read by the readiness thread afterwards). */
typedef struct us_admin_peer {
	const char *name; /* "usher-tenancyd" */
	us_rpc_client *const *client;
} us_admin_peer;

typedef struct us_admin_opts {
	const char *listen;      /* HOST:PORT or [IPv6]:PORT (port 0: any, logged) */
	const char *service;     /* the service label: "usher-identityd" */
	const char *version;
	const char *database_url; /* NULL: no database to check */
	const char *schema;
	const us_migration *migrations;
	const us_admin_peer *peers; /* borrowed */
	size_t n_peers;
	/* Refreshes the daemon's own gauges (outbox, email queue) with the readiness thread's
	 * connection, every few periods while the database answers; may be NULL. */
	void (*collect)(void *ctx, PGconn *db);
	void *collect_ctx;
} us_admin_opts;

typedef struct us_admin_http us_admin_http;

/* NULL when value is a valid ADMIN_LISTEN, else the reason. */
const char *us_admin_check_listen(const char *value);

/* Starts the server and the readiness thread; *out is owned (us_admin_http_stop()). */
US_MUST_USE us_err us_admin_http_start(const us_admin_opts *opts, us_admin_http **out, char *err,
                                       size_t err_size);

/* Marks the daemon draining: /readyz answers 503 from now on. */
void us_admin_http_set_draining(us_admin_http *a);

/* Stops the thread and the server. Takes NULL. */
void us_admin_http_stop(us_admin_http *a);

/* The process's readiness as /readyz last judged it (false before the first check): the
 * gateway's public /readyz says the same. */
bool us_admin_ready(void);

#endif
