/* What every Usher daemon does around its services: reads its settings, answers --help,
 * --version and --print-config, applies its migrations (at start-up, or alone with the
 * `migrate` subcommand), serves RPC until SIGTERM or SIGINT, then drains and exits 0.
 * A daemon's main() is one call to us_daemon_main(). */
#ifndef US_DAEMON_H
#define US_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "common/admin_http.h"
#include "common/config.h"
#include "common/err.h"
#include "common/housekeeping.h"
#include "common/migrate.h"
#include "common/rpc_server.h"

#define US_DAEMON_RETENTION_MAX 8

/* The settings every daemon has. */
typedef struct us_daemon_config {
	char *database_url;
	char *rpc_listen;
	int64_t rpc_workers;
	int64_t rpc_max_message_bytes;
	int64_t rpc_default_timeout_ms;
	int64_t idempotency_retention_hours;
	int64_t audit_retention_days;
	char *log_level;
	char *rpc_signing_key;
	char *rpc_callers_file;
	int64_t rpc_auth_window_s;
	int64_t rpc_replay_cache_max;
	int64_t principal_cache_ttl_s;
	char *admin_listen;
	int64_t drain_delay_ms;
} us_daemon_config;

typedef struct us_daemon_spec {
	const char *name;    /* "usher-identityd" */
	const char *summary; /* one line for --help */
	const char *schema;  /* its Postgres schema; NULL for a daemon without a database */
	const us_migration *migrations;
	const us_rpc_service *services;
	size_t n_services;
	/* The daemon's own settings, loaded into config_struct after the common ones. */
	const us_config_var *config;
	size_t n_config;
	void *config_struct;
	/* When the daemon's requests can hold secrets (passwords), a key its start hook fills
	 * in, so the hashes the idempotency table keeps of requests are keyed. */
	const uint8_t *request_hash_key;
	/* How the daemon finds service principals by key (caller_auth.h), or NULL when it
	 * knows none; lookup_ctx may point at something the start hook fills in. */
	us_principal_lookup *principal_lookup;
	void *principal_lookup_ctx;
	/* Idempotent methods whose replies hold a secret (rpc_server.h). */
	const us_rpc_reply_secret *reply_secrets;
	size_t n_reply_secrets;
	/* Its growing tables' retention (housekeeping.h), at most US_DAEMON_RETENTION_MAX;
	 * the audit log's is common (AUDIT_RETENTION_DAYS). */
	const us_retention_rule *retention;
	size_t n_retention;
	/* The daemon's state (its <svc>_ctx, built in main()), handed to every hook. */
	void *ctx;
	/* Optional hooks: start runs before serving (a failure stops the daemon with err),
	 * stop after the server has drained, reload on SIGHUP (after the caller policy). */
	us_err (*start)(void *ctx, const us_daemon_config *cfg, char *err, size_t err_size);
	void (*stop)(void *ctx);
	void (*reload)(void *ctx);
	/* What reload rereads, for --help ("PERMISSION_MATRIX_FILE"); NULL without a reload
	 * hook. SIGHUP always rereads RPC_CALLERS_FILE (every daemon; ut_system_trust()
	 * waits for each to log it). */
	const char *reload_help;
	/* Admin HTTP (admin_http.h): ADMIN_LISTEN's default ("127.0.0.1:9101"), the peers
	 * /readyz requires (their clients filled in by start), and the hook refreshing the
	 * daemon's own gauges (called with ctx). */
	const char *admin_listen;
	const us_admin_peer *peers;
	size_t n_peers;
	void (*collect)(void *ctx, PGconn *db);
} us_daemon_spec;

/* Runs the daemon; returns the process exit status: 0 after a clean stop, 1 when it
 * could not start or run, 2 for bad usage or settings. */
int us_daemon_main(const us_daemon_spec *spec, int argc, char **argv);

#endif
