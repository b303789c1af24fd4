#include "common/daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <sodium.h>

#include "common/audit.h"
#include "common/caller_auth.h"
#include "common/caller_key.h"
#include "common/db.h"
#include "common/housekeeping.h"
#include "common/log.h"
#include "common/sd_notify.h"
#include "common/socket_close.h"

#ifndef USHER_VERSION
#define USHER_VERSION "0.0.0"
#endif

#define MIB (1024 * 1024)

#define VAR(name, type, field, flags, fallback, min, max, check, help)                           \
	{name, type, offsetof(us_daemon_config, field), flags, fallback, min, max, check, help}

static const us_config_var common_vars[] = {
	VAR("DATABASE_URL", US_CONFIG_STRING, database_url, US_CONFIG_REQUIRED | US_CONFIG_SECRET,
	    NULL, 1, 0, NULL, "libpq connection URI for this daemon's own role"),
	VAR("RPC_LISTEN", US_CONFIG_STRING, rpc_listen, US_CONFIG_REQUIRED, NULL, 1, 0,
	    us_config_check_nng_url, "NNG address to serve RPC on, e.g. tcp://127.0.0.1:7001"),
	VAR("RPC_WORKERS", US_CONFIG_INT, rpc_workers, 0, "8", 1, 256, NULL,
	    "worker threads, each with its own database connection"),
	VAR("RPC_MAX_MESSAGE_BYTES", US_CONFIG_INT, rpc_max_message_bytes, 0, "16777216", 4096,
	    256 * MIB, NULL, "largest request accepted"),
	VAR("RPC_DEFAULT_TIMEOUT_MS", US_CONFIG_INT, rpc_default_timeout_ms, 0, "30000", 1,
	    600000, NULL, "deadline of a request that sets none"),
	VAR("LOG_LEVEL", US_CONFIG_STRING, log_level, 0, "info", 1, 5, NULL,
	    "debug, info, warn or error"),
	VAR("RPC_SIGNING_KEY", US_CONFIG_STRING, rpc_signing_key,
	    US_CONFIG_REQUIRED | US_CONFIG_SECRET, NULL, 64, 68, us_caller_key_check,
	    "64 hex digits: the Ed25519 seed this daemon signs its calls with (its public key "
	    "goes into the other daemons' RPC_CALLERS_FILE)"),
	VAR("RPC_CALLERS_FILE", US_CONFIG_STRING, rpc_callers_file, US_CONFIG_REQUIRED, NULL, 1,
	    4096, NULL, "the callers this daemon trusts: NAME PUBLIC_KEY [RIGHT...] per line "
	                "(docs/security.md); reread on SIGHUP"),
	VAR("RPC_AUTH_WINDOW_S", US_CONFIG_INT, rpc_auth_window_s, 0, "60", 5, 600, NULL,
	    "a signed request is refused when issued further than this from now"),
	VAR("RPC_REPLAY_CACHE_MAX", US_CONFIG_INT, rpc_replay_cache_max, 0, "2000000", 1000,
	    100000000, NULL, "request nonces remembered within the window (32 bytes each); "
	                     "beyond, requests are refused with RESOURCE_EXHAUSTED"),
	VAR("PRINCIPAL_CACHE_TTL_S", US_CONFIG_INT, principal_cache_ttl_s, 0, "30", 1, 3600, NULL,
	    "how long a service principal's key is trusted without asking usher-identityd again: "
	    "a revocation reaches this daemon within this time"),
	VAR("AUDIT_RETENTION_DAYS", US_CONFIG_INT, audit_retention_days, 0, "730", 0, 36500, NULL,
	    "how long audit log entries are kept (0: for ever)"),
	VAR("IDEMPOTENCY_RETENTION_HOURS", US_CONFIG_INT, idempotency_retention_hours, 0, "168", 1,
	    8760, NULL, "how long a mutating request's key and reply are kept for retries"),
};
#define N_COMMON (sizeof(common_vars) / sizeof(common_vars[0]))

/* The admin settings: ADMIN_LISTEN's default is the daemon's own (a port of its own). */
#define N_ADMIN 2
static void admin_vars(const us_daemon_spec *spec, us_config_var out[N_ADMIN])
{
	const us_config_var vars[N_ADMIN] = {
		VAR("ADMIN_LISTEN", US_CONFIG_STRING, admin_listen, 0,
		    spec->admin_listen != NULL ? spec->admin_listen : "127.0.0.1:0", 1, 64,
		    us_admin_check_listen,
		    "HOST:PORT or [IPv6]:PORT to serve /livez, /readyz and /metrics on "
		    "(docs/operations.md)"),
		VAR("DRAIN_DELAY_MS", US_CONFIG_INT, drain_delay_ms, 0, "0", 0, 60000, NULL,
		    "after SIGTERM, /readyz answers 503 this long before the RPC socket closes, so "
		    "load balancers stop sending first"),
	};
	memcpy(out, vars, sizeof(vars));
}

/* A daemon without a database skips DATABASE_URL (the first setting) and the audit and
 * idempotency retentions (the last two). */
static const us_config_var *vars_of(const us_daemon_spec *spec, size_t *n)
{
	*n = spec->schema != NULL ? N_COMMON : N_COMMON - 3;
	return spec->schema != NULL ? common_vars : common_vars + 1;
}

static void usage(const us_daemon_spec *spec, FILE *out)
{
	size_t n;
	const us_config_var *vars = vars_of(spec, &n);
	fprintf(out, "%s %s: %s\n\n", spec->name, USHER_VERSION, spec->summary);
	fprintf(out, "usage: %s [--help | --version | --print-config]\n", spec->name);
	if (spec->schema != NULL)
		fprintf(out, "       %s migrate    apply pending migrations and exit\n", spec->name);
	fprintf(out, "\nSettings are read from the environment:\n");
	us_config_usage(out, vars, n);
	us_config_var admin[N_ADMIN];
	admin_vars(spec, admin);
	us_config_usage(out, admin, N_ADMIN);
	if (spec->n_config > 0)
		us_config_usage(out, spec->config, spec->n_config);
	fprintf(out, "\nSIGTERM or SIGINT: finish in-flight requests and exit 0. SIGHUP: reread "
	             "RPC_CALLERS_FILE%s%s.\n"
	             "Exit status: 0 stopped cleanly, 1 could not start or run, 2 bad usage or "
	             "settings.\n",
	        spec->reload_help != NULL ? ", " : "",
	        spec->reload_help != NULL ? spec->reload_help : "");
}

static void free_settings(const us_daemon_spec *spec, us_daemon_config *cfg);

static int load_settings(const us_daemon_spec *spec, us_daemon_config *cfg)
{
	size_t n;
	const us_config_var *vars = vars_of(spec, &n);
	char err[512];
	if (us_config_load(vars, n, cfg, err, sizeof(err)) != US_OK) {
		fprintf(stderr, "%s: %s\n", spec->name, err);
		return -1;
	}
	us_config_var admin[N_ADMIN];
	admin_vars(spec, admin);
	if (us_config_load(admin, N_ADMIN, cfg, err, sizeof(err)) != US_OK) {
		us_config_free(vars, n, cfg);
		fprintf(stderr, "%s: %s\n", spec->name, err);
		return -1;
	}
	if (spec->n_config > 0 &&
	    us_config_load(spec->config, spec->n_config, spec->config_struct, err, sizeof(err)) != US_OK) {
		us_config_free(vars, n, cfg);
		us_config_free(admin, N_ADMIN, cfg);
		fprintf(stderr, "%s: %s\n", spec->name, err);
		return -1;
	}
	us_log_level level;
	if (us_log_level_parse(cfg->log_level, &level) != 0) {
		fprintf(stderr, "%s: LOG_LEVEL: must be debug, info, warn or error, got \"%s\"\n",
		        spec->name, cfg->log_level);
		free_settings(spec, cfg);
		return -1;
	}
	us_log_init(spec->name, level);
	return 0;
}

static void free_settings(const us_daemon_spec *spec, us_daemon_config *cfg)
{
	size_t n;
	const us_config_var *vars = vars_of(spec, &n);
	us_config_free(vars, n, cfg);
	us_config_var admin[N_ADMIN];
	admin_vars(spec, admin);
	us_config_free(admin, N_ADMIN, cfg);
	if (spec->n_config > 0)
		us_config_free(spec->config, spec->n_config, spec->config_struct);
}

static int migrate(const us_daemon_spec *spec, const us_daemon_config *cfg)
{
	char err[512];
	PGconn *conn;
	if (us_db_connect(cfg->database_url, spec->schema, &conn, err, sizeof(err)) != US_OK) {
		us_error("could not connect to the database: %s", err);
		return -1;
	}
	int applied = 0;
	us_err rc = us_migrate(conn, spec->schema, spec->migrations, &applied, err, sizeof(err));
	PQfinish(conn);
	if (rc != US_OK) {
		us_error("%s", err);
		return -1;
	}
	us_info("schema \"%s\" is up to date (%d migrations applied now)", spec->schema, applied);
	return 0;
}

/* Waits for a stop signal, reloading on SIGHUP. */
static void wait_for_stop(const us_daemon_spec *spec, us_auth *auth, const sigset_t *signals)
{
	for (;;) {
		int sig = 0;
		if (sigwait(signals, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			char err[512];
			us_info("reload requested");
			if (us_auth_reload(auth, err, sizeof(err)) != US_OK)
				us_error("caller policy not reloaded, keeping the current one: %s", err);
			else
				us_info("caller policy reloaded");
			if (spec->reload != NULL)
				spec->reload(spec->ctx);
			continue;
		}
		us_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
}

/* The caller policy and the key every client of this daemon signs with. */
static us_err start_auth(const us_daemon_spec *spec, const us_daemon_config *cfg, us_auth **out,
                         char *err, size_t err_size)
{
	us_caller_key key;
	if (us_caller_key_parse(cfg->rpc_signing_key, &key) != 0) {
		snprintf(err, err_size, "RPC_SIGNING_KEY: %s", us_caller_key_check(cfg->rpc_signing_key));
		return US_EINVAL;
	}
	us_rpc_client_set_default_key(&key);
	us_auth_opts opts = {
		.server_key = &key, /* copied */
		.callers_file = cfg->rpc_callers_file,
		.window_ms = cfg->rpc_auth_window_s * 1000,
		.replay_max = (size_t)cfg->rpc_replay_cache_max,
		.lookup = spec->principal_lookup,
		.lookup_ctx = spec->principal_lookup_ctx,
		.principal_ttl_ms = cfg->principal_cache_ttl_s * 1000,
	};
	char why[400];
	us_err rc = us_auth_new(&opts, out, why, sizeof(why));
	us_caller_key_wipe(&key);
	if (rc != US_OK) {
		snprintf(err, err_size, "RPC_CALLERS_FILE: %s", why);
		return US_EINVAL;
	}
	char count[24];
	snprintf(count, sizeof(count), "%zu", us_auth_caller_count(*out));
	us_log_fields(US_LOG_INFO, "caller policy loaded", "file", cfg->rpc_callers_file, "callers",
	              count, NULL);
	return US_OK;
}

static us_err start_admin(const us_daemon_spec *spec, const us_daemon_config *cfg,
                          us_admin_http **out, char *err, size_t err_size)
{
	us_admin_opts opts = {
		.listen = cfg->admin_listen,
		.service = spec->name,
		.version = USHER_VERSION,
		.database_url = spec->schema != NULL ? cfg->database_url : NULL,
		.schema = spec->schema,
		.migrations = spec->migrations,
		.peers = spec->peers,
		.n_peers = spec->n_peers,
		.collect = spec->collect,
		.collect_ctx = spec->ctx,
	};
	return us_admin_http_start(&opts, out, err, err_size);
}

static int serve(const us_daemon_spec *spec, const us_daemon_config *cfg, const sigset_t *signals)
{
	char err[512];
	us_auth *auth = NULL;
	if (start_auth(spec, cfg, &auth, err, sizeof(err)) != US_OK) {
		us_error("could not start: %s", err);
		return 1;
	}
	if (spec->start != NULL && spec->start(spec->ctx, cfg, err, sizeof(err)) != US_OK) {
		us_error("could not start: %s", err);
		us_auth_free(auth);
		return 1;
	}
	us_rpc_server_opts opts = {
		.listen_url = cfg->rpc_listen,
		.workers = (int)cfg->rpc_workers,
		.max_message_bytes = (size_t)cfg->rpc_max_message_bytes,
		.default_timeout_ms = (uint32_t)cfg->rpc_default_timeout_ms,
		.database_url = spec->schema != NULL ? cfg->database_url : NULL,
		.schema = spec->schema,
		.migrations = spec->migrations,
		.request_hash_key = spec->request_hash_key,
		.auth = auth,
		.service = spec->name,
		.reply_secrets = spec->reply_secrets,
		.n_reply_secrets = spec->n_reply_secrets,
	};
	us_rpc_server *srv;
	us_housekeeping *upkeep = NULL;
	if (us_rpc_server_start(&opts, spec->services, spec->n_services, &srv, err, sizeof(err)) != US_OK) {
		us_error("could not start the RPC server: %s", err);
		if (spec->stop != NULL)
			spec->stop(spec->ctx);
		us_auth_free(auth);
		return 1;
	}
	/* Every schema has an audit log; the daemon's own tables follow. */
	us_retention_rule rules[1 + US_DAEMON_RETENTION_MAX] = {
		{"audit log entries", us_audit_purge_sql, &cfg->audit_retention_days},
	};
	size_t n_rules = 1;
	for (size_t i = 0; i < spec->n_retention && i < US_DAEMON_RETENTION_MAX; i++)
		rules[n_rules++] = spec->retention[i];
	if (spec->schema != NULL &&
	    us_housekeeping_start(cfg->database_url, spec->schema, cfg->idempotency_retention_hours,
	                          rules, n_rules, &upkeep, err, sizeof(err)) != US_OK)
		us_warn("no housekeeping: %s", err);
	us_admin_http *admin = NULL;
	if (start_admin(spec, cfg, &admin, err, sizeof(err)) != US_OK) {
		us_error("could not start: %s", err);
		us_housekeeping_stop(upkeep);
		us_rpc_server_stop(srv);
		if (spec->stop != NULL)
			spec->stop(spec->ctx);
		us_auth_free(auth);
		return 1;
	}
	us_log_fields(US_LOG_INFO, "serving", "listen", us_rpc_server_url(srv), "version", USHER_VERSION, NULL);
	/* Only now, every listener up: systemd's Type=notify units count as started. */
	if (us_sd_notify("READY=1") < 0)
		us_warn("NOTIFY_SOCKET: could not tell systemd the daemon is ready: %s", strerror(errno));

	wait_for_stop(spec, auth, signals);
	(void)us_sd_notify("STOPPING=1");
	/* Unready first, so probes and load balancers stop sending before the socket closes. */
	us_admin_http_set_draining(admin);
	if (cfg->drain_delay_ms > 0) {
		struct timespec pause = {cfg->drain_delay_ms / 1000,
		                         (cfg->drain_delay_ms % 1000) * 1000000L};
		while (nanosleep(&pause, &pause) != 0)
			;
	}
	us_housekeeping_stop(upkeep);
	us_rpc_server_stop(srv);
	us_admin_http_stop(admin); /* before stop closes the peers' clients it checks */
	if (spec->stop != NULL)
		spec->stop(spec->ctx);
	us_auth_free(auth);
	us_rpc_client_set_default_key(NULL);
	/* Every socket is closed: let nng finish reaping its pipes and free its own state,
	 * rather than exit with a pipe whose last reference lives in the kernel's epoll set
	 * (LeakSanitizer saw those as leaks of nng's listener, now and then, at a stop).
	 * Not after a close nng never finished: nng_fini would wait for it for ever. */
	if (us_socket_close_all_finished())
		nng_fini();
	us_info("stopped");
	return 0;
}

int us_daemon_main(const us_daemon_spec *spec, int argc, char **argv)
{
	/* Before any thread exists, so every thread inherits the mask and the signals
	 * reach sigwait() alone. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	enum { RUN, MIGRATE, PRINT_CONFIG } mode = RUN;
	if (argc > 2) {
		usage(spec, stderr);
		return 2;
	}
	if (argc == 2) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			usage(spec, stdout);
			return 0;
		} else if (strcmp(argv[1], "--version") == 0) {
			printf("%s %s\n", spec->name, USHER_VERSION);
			return 0;
		} else if (strcmp(argv[1], "--print-config") == 0) {
			mode = PRINT_CONFIG;
		} else if (strcmp(argv[1], "migrate") == 0 && spec->schema != NULL) {
			mode = MIGRATE;
		} else {
			fprintf(stderr, "%s: unknown argument \"%s\"; see --help\n", spec->name, argv[1]);
			return 2;
		}
	}

	us_daemon_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	if (load_settings(spec, &cfg) != 0)
		return 2;
	if (sodium_init() < 0) {
		us_error("could not initialise libsodium");
		free_settings(spec, &cfg);
		return 1;
	}

	int status = 0;
	if (mode == PRINT_CONFIG) {
		size_t n;
		const us_config_var *vars = vars_of(spec, &n);
		us_config_print(stdout, vars, n, &cfg);
		us_config_var admin[N_ADMIN];
		admin_vars(spec, admin);
		us_config_print(stdout, admin, N_ADMIN, &cfg);
		if (spec->n_config > 0)
			us_config_print(stdout, spec->config, spec->n_config, spec->config_struct);
	} else if (spec->schema != NULL && migrate(spec, &cfg) != 0) {
		status = 1;
	} else if (mode == RUN) {
		status = serve(spec, &cfg, &signals);
	}
	free_settings(spec, &cfg);
	return status;
}
