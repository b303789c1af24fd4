/* Test support: a fresh database per test in the throwaway cluster that `./usher test`
 * starts, the daemons as real processes against it, and helpers to run the CLI.
 *
 * Strict about the processes it starts (daemons, the SMTP sink):
 * - a test fails when a daemon ends in a way the test did not cause (ut_system_signal and
 *   ut_system_wait judge each end: SIGTERM must give exit 0; a death the test caused, by
 *   SIGKILL or an armed USHER_FAULT, must be SIGKILL), when one ended during the test on
 *   its own, or when its log holds a sanitizer's report (AddressSanitizer, LeakSanitizer,
 *   UndefinedBehaviorSanitizer, ThreadSanitizer, "runtime error"): ut_system_teardown
 *   says which and prints the log;
 * - every started process dies with the test program (PR_SET_PDEATHSIG, so a crash, an
 *   abort or ctest's timeout included; start them from the main thread, whose exit that
 *   signal follows), and those a failing test left behind are stopped at exit;
 * - a problem found in a fixture fails the program even where cmocka 1.1.5 only prints
 *   it (a failed group teardown): the exit status becomes 1. */
#ifndef UT_HARNESS_H
#define UT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "common/caller_auth.h"
#include "common/caller_key.h"

typedef struct ut_db {
	char name[64];
	char host[256];
	char port[16];
	char admin_password[128];
	char role_password[128];
} ut_db;

/* Creates a database named after prefix with the four service schemas and roles'
 * grants (scripts/sql/database.sql) in the default cluster (USHER_TEST_PGHOST). Fails the
 * test when the cluster is not there. A ut_system has one per service instead
 * (ut_system_db). */
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
	UT_N_SERVICES = UT_GATEWAY, /* the four with a database of their own */
};

typedef struct ut_daemon {
	const char *name;   /* "identity" */
	char url[160];      /* its RPC address */
	int admin_port;     /* its ADMIN_LISTEN port on 127.0.0.1 (/livez, /readyz, /metrics) */
	char log_path[256];
	pid_t pid;          /* 0 when not running */
	bool fault_armed;   /* started with USHER_FAULT: a SIGKILL may come from itself */
} ut_daemon;

/* The most replicas of one daemon a system runs. */
#define UT_REPLICAS_MAX 3

typedef struct ut_system {
	/* Each service's database (UT_IDENTITY..UT_NOTIFICATION): ut_system_db(). */
	ut_db dbs[UT_N_SERVICES];
	char dir[128];      /* logs and mail */
	ut_daemon daemons[UT_N_DAEMONS];
	const char *extra_env[16]; /* "NAME=value" added to every daemon, NULL-terminated */
	/* A random IDENTITY_TOKEN_KEY for this system's usher-identityd (kept across its
	 * restarts), unless extra_env gives one. */
	char identity_token_key[65];
	/* Each daemon's RPC_SIGNING_KEY (its own key pair), and the caller policy every
	 * daemon reads (RPC_CALLERS_FILE): the five daemons and the test process's key. */
	char signing_keys[UT_N_DAEMONS][US_CALLER_SECRET_TEXT_LEN + 1];
	char callers_file[160];
	char problems[2048]; /* how daemons ended badly, one line each; see the top */
	/* Replicas (ut_system_replicas): daemons[w] is daemon w's replica 0, replicas[w][r - 1]
	 * its replica r; n_replicas[w] 0 means one. */
	int n_replicas[UT_N_DAEMONS];
	ut_daemon replicas[UT_N_DAEMONS][UT_REPLICAS_MAX - 1];
} ut_system;

/* The key this test process signs with: made once, trusted by every system the harness
 * starts as "test" with every right (actor system principals), and exported as
 * USHER_CALLER_KEY so every us_rpc_client (and usherctl run from the test) uses it. */
const us_caller_key *ut_test_key(void);

/* Daemon which's key of sys, to call as that daemon would. */
void ut_daemon_key(const ut_system *sys, int which, us_caller_key *out);

/* A caller policy trusting the test key (every right) and the lines of extra_policy (may
 * be NULL), for a server a test runs in its own process, with lookup (may be NULL) for
 * service principals; free with us_auth_free(). */
us_auth *ut_test_auth(const char *extra_policy, us_principal_lookup *lookup, void *lookup_ctx);

/* The key ut_test_auth()'s servers hold (replies name it; requests MAC'd for it pass). */
const us_caller_key *ut_test_server_key(void);

/* ut_test_auth() with the server's key (NULL: signed requests only). */
us_auth *ut_test_auth_keyed(const char *extra_policy, us_principal_lookup *lookup,
                            void *lookup_ctx, const us_caller_key *server_key);

/* Writes key's policy line, "NAME HEX RIGHTS", into out. */
void ut_policy_line(char *out, size_t size, const char *name, const us_caller_key *key,
                    const char *rights);

/* Appends a line to sys's caller policy ("name HEX rights") and sends SIGHUP to every
 * running daemon; returns once each has logged the reload. */
void ut_system_trust(ut_system *sys, const char *line);

/* A loopback TCP port nothing listens on, not given out before by this process. */
int ut_free_port(void);

/* Creates a database and a directory for the system and gives each daemon a
 * tcp://127.0.0.1:PORT address it keeps across restarts; starts nothing. */
void ut_system_init(ut_system *sys, const char *prefix);

/* --- replicas: several processes of one daemon, each with its own RPC port, admin port
 * and log; every client of that daemon (the other daemons, ut_call, the exported URLs) gets
 * all of their addresses as "URL,URL,..." --- */

/* Gives daemon which n replicas (1 to UT_REPLICAS_MAX); after ut_system_init, before
 * anything starts. */
void ut_system_replicas(ut_system *sys, int which, int n);

/* How many replicas daemon which has (1 unless ut_system_replicas said otherwise). */
int ut_replica_count(const ut_system *sys, int which);

/* Replica r (0-based) of daemon which; replica 0 is sys->daemons[which]. */
ut_daemon *ut_replica(ut_system *sys, int which, int r);

/* Every replica's address of daemon which, "URL,URL,...". */
void ut_system_urls(const ut_system *sys, int which, char *out, size_t size);

/* Starts replica r of daemon which, as ut_system_start (which starts replica 0). */
void ut_replica_start(ut_system *sys, int which, int r);

/* As ut_system_signal, for replica r of daemon which (kill -9 one: SIGKILL). */
int ut_replica_signal(ut_system *sys, int which, int r, int sig, int timeout_ms);
/* The database of service which (UT_IDENTITY..UT_NOTIFICATION), holding that service's
 * schema: in the service's own cluster when ./usher test started one per service
 * (USHER_TEST_PGHOST_<SERVICE>, the default), else the database all four share. Query a
 * service's tables only through its own. */
const ut_db *ut_system_db(const ut_system *sys, int which);

/* Whether which is the first service whose database that is (always, with a cluster per
 * service): a loop over the services visits each database once with it. */
bool ut_system_db_first(const ut_system *sys, int which);

/* The same for the service whose schema holds table ("invitation.links", or a schema's
 * name alone): for tests driven by a list of tables. Fails the test on another name. */
const ut_db *ut_system_db_of(const ut_system *sys, const char *table);

/* Starts the daemon as a process and waits until its Health/Check says SERVING. */
void ut_system_start(ut_system *sys, int which);

/* Starts all five, every replica of each. */
void ut_system_start_all(ut_system *sys);

/* Sends sig (0: none, wait for an end the test caused otherwise) and waits up to
 * timeout_ms for the process to end; returns its wait status (or -1 when it did not end)
 * and the time it took in *took_ms. The end is judged (see the top): after SIGTERM or
 * SIGINT it must be exit 0, else death by SIGKILL; ut_system_teardown reports a bad one. */
int ut_system_signal(ut_system *sys, int which, int sig, int timeout_ms, int64_t *took_ms);

/* Stops whatever runs (SIGTERM, exit 0 expected within a minute; else SIGKILL), reads the
 * logs for sanitizer reports, drops the database and removes the directory; fails the
 * test, keeping the logs, when a daemon ended badly (see the top). Does nothing the second
 * time. */
void ut_system_teardown(ut_system *sys);

/* Puts the daemons' addresses into this process's environment (IDENTITY_RPC_URL, ...;
 * each daemon's replicas as a list). */
void ut_system_export_urls(const ut_system *sys);

/* Waits up to timeout_ms for a daemon that something else ended (a SIGKILL from the SMTP
 * sink, or from a fault the test armed) and returns its wait status, or -1 when it is
 * still running. As ut_system_signal(sys, which, 0, ...). */
int ut_system_wait(ut_system *sys, int which, int timeout_ms);

/* Waits up to timeout_ms until the daemon's log holds a line with needle in it, at or after
 * line from (1-based; 0 or 1: anywhere); returns that line's number, or 0 when none came.
 * Lets a test wait for what a daemon says it did. */
long ut_log_wait(const ut_daemon *d, const char *needle, long from, int timeout_ms);

/* The number of lines the daemon's log has now (where to look from next). */
long ut_log_lines(const ut_daemon *d);

/* Starts argv[0] with envp (NULL: this process's environment), its stdout and stderr
 * appended to out_path; it dies with this process (see the top). */
pid_t ut_spawn(char *const argv[], char *const envp[], const char *out_path);

/* Waits up to timeout_ms for a process from ut_spawn to end; its wait status, or -1. */
int ut_reap(pid_t pid, int timeout_ms);

/* --- the SMTP sink: tests/support/smtp_sink.py on loopback --- */

typedef struct ut_sink {
	char dir[128];              /* one NNNNNN.eml file per accepted message */
	int port;
	pid_t pid;                  /* 0 while stopped */
	const char *const *flags;   /* borrowed, for ut_sink_resume() */
} ut_sink;

/* Starts the sink with extra flags (NULL-terminated, or NULL), e.g. {"--codes",
 * "451,451", NULL}; see smtp_sink.py. Returns once it accepts connections. */
void ut_sink_start(ut_sink *sink, const char *const *flags);

/* Stops the sink: connections are refused until ut_sink_resume(). Fails the test when it
 * had ended on its own or does not exit 0. */
void ut_sink_stop(ut_sink *sink);

/* Starts it again on the same port, with the same flags. */
void ut_sink_resume(ut_sink *sink);

/* Stops it and removes its directory (kept when UT_KEEP is set). */
void ut_sink_teardown(ut_sink *sink);

/* "smtp://127.0.0.1:<port>" */
void ut_sink_url(const ut_sink *sink, char *out, size_t size);

typedef struct ut_mail {
	char *mail_from; /* the envelope, without angle brackets */
	char *rcpt_to;   /* the first recipient */
	char *data;      /* the message as received */
} ut_mail;

/* The messages the sink accepted (answered 250), oldest first. Free with ut_mails_free(). */
size_t ut_sink_mails(const ut_sink *sink, ut_mail **out);
void ut_mails_free(ut_mail *mails, size_t n);

/* Waits up to timeout_ms until the sink has accepted at least n messages; returns the
 * number it has. */
size_t ut_sink_wait(const ut_sink *sink, size_t n, int timeout_ms);

/* The unfolded value of header name in a raw message (malloc'd), or NULL. */
char *ut_mail_header(const char *data, const char *name);

/* The decoded body (7bit or quoted-printable) of the first part whose Content-Type is
 * content_type ("text/plain"), malloc'd, or NULL. */
char *ut_mail_part(const char *data, const char *content_type);

/* Of the messages the sink accepted to rcpt whose Subject holds needle: how many distinct
 * Message-IDs (returned), how many copies in all (*copies), and whether every copy of a
 * message has the first one's bytes (*identical is cleared when not). */
long ut_sink_count(const ut_sink *sink, const char *rcpt, const char *needle, long *copies,
                   bool *identical);

/* Waits up to timeout_ms for the nth (0-based) message to rcpt whose Subject starts with
 * "Invitation", and copies its link's token (after "/i/") into token. */
void ut_sink_wait_token(const ut_sink *sink, const char *rcpt, size_t nth, int timeout_ms,
                        char *token, size_t size);

/* The same for the nth email to rcpt whose subject starts with subject_prefix, and its
 * PUBLIC_BASE_URL/<kind>/<token> link ('j': a link join's confirmation); false, rather
 * than a failed test, when none came in time (it may be called off the test's thread). */
bool ut_sink_wait_link(const ut_sink *sink, const char *rcpt, const char *subject_prefix,
                       char kind, size_t nth, int timeout_ms, char *token, size_t size);

/* The number the query (a printf format) selects, as the superuser; fails the test on an
 * error. */
long ut_db_number(const ut_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs argv (argv[0] a path) with envp (NULL: this process's environment), its stdout
 * (and stderr too when with_stderr) captured into a malloc'd *out (out may be NULL);
 * returns the exit status, or -1 when it did not exit normally. */
int ut_run(char *const argv[], char *const envp[], bool with_stderr, char **out);

/* Path of a built binary: $USHER_BIN_DIR/name. */
void ut_bin(const char *name, char *out, size_t size);

#endif
