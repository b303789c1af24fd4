/* Test support: a fresh database per test in the throwaway cluster that `./usher test`
 * starts, the daemons as real processes against it, and helpers to run the CLI. */
#ifndef UT_HARNESS_H
#define UT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

typedef struct ut_db {
	char name[64];
	char host[256];
	char port[16];
	char admin_password[128];
	char role_password[128];
} ut_db;

/* Creates a database named after prefix with the four service schemas and roles'
 * grants (scripts/sql/database.sql). Fails the test when the cluster is not there. */
void ut_db_create(ut_db *db, const char *prefix);

/* Drops the database. */
void ut_db_drop(ut_db *db);

/* "postgresql://usher_<role>:...@/<db>?host=...": the connection URL of a service role. */
void ut_db_role_url(const ut_db *db, const char *role, char *out, size_t size);

/* A superuser connection to the database (PQfinish it). */
PGconn *ut_db_admin(const ut_db *db);

/* Runs sql as the superuser; fails the test on error. */
void ut_db_admin_exec(const ut_db *db, const char *sql);

enum {
	UT_IDENTITY,
	UT_TENANCY,
	UT_INVITATION,
	UT_NOTIFICATION,
	UT_GATEWAY,
	UT_N_DAEMONS,
};

typedef struct ut_daemon {
	const char *name;   /* "identity" */
	char url[160];      /* its RPC address */
	char log_path[256];
	pid_t pid;          /* 0 when not running */
} ut_daemon;

typedef struct ut_system {
	ut_db db;
	char dir[128];      /* sockets and logs */
	ut_daemon daemons[UT_N_DAEMONS];
	const char *extra_env[16]; /* "NAME=value" added to every daemon, NULL-terminated */
	/* A random IDENTITY_TOKEN_KEY for this system's usher-identityd (kept across its
	 * restarts), unless extra_env gives one. */
	char identity_token_key[65];
} ut_system;

/* Creates a database and a directory for the system; starts nothing. */
void ut_system_init(ut_system *sys, const char *prefix);

/* Starts the daemon as a process and waits until its Health/Check says SERVING. */
void ut_system_start(ut_system *sys, int which);

/* Starts all five. */
void ut_system_start_all(ut_system *sys);

/* Sends sig and waits up to timeout_ms for the process to end; returns its wait status
 * (or -1 when it did not end) and the time it took in *took_ms. */
int ut_system_signal(ut_system *sys, int which, int sig, int timeout_ms, int64_t *took_ms);

/* Stops whatever runs (SIGTERM, then SIGKILL), drops the database, removes the
 * directory unless the test failed. */
void ut_system_teardown(ut_system *sys);

/* Puts the daemons' addresses into this process's environment (IDENTITY_RPC_URL, ...). */
void ut_system_export_urls(const ut_system *sys);

/* Runs argv (argv[0] a path) with envp (NULL: this process's environment), its stdout
 * (and stderr too when with_stderr) captured into a malloc'd *out (out may be NULL);
 * returns the exit status, or -1 when it did not exit normally. */
int ut_run(char *const argv[], char *const envp[], bool with_stderr, char **out);

/* Path of a built binary: $USHER_BIN_DIR/name. */
void ut_bin(const char *name, char *out, size_t size);

#endif
