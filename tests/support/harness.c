#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/rpc_client.h"
#include "usher/v1/health.pb-c.h"

extern char **environ;

static const char *const daemon_names[UT_N_DAEMONS] = {
	"identity", "tenancy", "invitation", "notification", "gateway",
};

static const char *env_or_fail(const char *name)
{
	const char *v = getenv(name);
	if (v == NULL || v[0] == '\0') {
		fail_msg("%s is not set: run the tests with ./usher test, which starts Postgres", name);
	}
	return v;
}

static void conninfo(const ut_db *db, const char *dbname, char *out, size_t size)
{
	snprintf(out, size, "postgresql://usher_admin:%s@/%s?host=%s&port=%s", db->admin_password,
	         dbname, db->host, db->port);
}

static PGconn *connect_admin(const ut_db *db, const char *dbname)
{
	char url[512];
	conninfo(db, dbname, url, sizeof(url));
	PGconn *conn = PQconnectdb(url);
	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("could not connect to %s: %s", dbname, PQerrorMessage(conn));
	PGresult *res = PQexec(conn, "SET client_min_messages = warning");
	PQclear(res);
	return conn;
}

static void exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s\n  in: %.200s", PQresultErrorMessage(res), sql);
	PQclear(res);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("could not open \"%s\": %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Creates database name in the cluster at host:port and prepares it for services (a
 * comma-separated list, scripts/sql/database.sql's usher.services). */
static void db_create_in(ut_db *db, const char *name, const char *host, const char *port,
                         const char *services)
{
	memset(db, 0, sizeof(*db));
	snprintf(db->host, sizeof(db->host), "%s", host);
	snprintf(db->port, sizeof(db->port), "%s", port);
	snprintf(db->admin_password, sizeof(db->admin_password), "%s",
	         env_or_fail("USHER_TEST_ADMIN_PASSWORD"));
	snprintf(db->role_password, sizeof(db->role_password), "%s",
	         env_or_fail("USHER_TEST_ROLE_PASSWORD"));
	snprintf(db->name, sizeof(db->name), "%s", name);

	PGconn *admin = connect_admin(db, "postgres");
	char *ident = PQescapeIdentifier(admin, db->name, strlen(db->name));
	char sql[256];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ident);
	PQfreemem(ident);
	exec_ok(admin, sql);
	PQfinish(admin);

	char path[512];
	snprintf(path, sizeof(path), "%s/scripts/sql/database.sql", env_or_fail("USHER_SOURCE_DIR"));
	char *script = read_file(path);
	PGconn *conn = connect_admin(db, db->name);
	const char *params[] = {services};
	PGresult *res = PQexecParams(conn, "SELECT set_config('usher.services', $1, false)", 1,
	                             NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("usher.services: %s", PQresultErrorMessage(res));
	PQclear(res);
	exec_ok(conn, script);
	PQfinish(conn);
	free(script);
}

/* "ut_<prefix>_<8 hex digits>" */
static void db_name(char *out, size_t size, const char *prefix)
{
	if (sodium_init() < 0)
		fail_msg("sodium_init failed");
	char suffix[9];
	unsigned char raw[4];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(suffix, sizeof(suffix), raw, sizeof(raw));
	snprintf(out, size, "ut_%.40s_%s", prefix, suffix);
}

void ut_db_create(ut_db *db, const char *prefix)
{
	char name[64];
	db_name(name, sizeof(name), prefix);
	db_create_in(db, name, env_or_fail("USHER_TEST_PGHOST"), env_or_fail("USHER_TEST_PGPORT"),
	             "identity,tenancy,invitation,notification");
}

void ut_db_drop(ut_db *db)
{
	if (db->name[0] == '\0')
		return;
	PGconn *admin = connect_admin(db, "postgres");
	char *ident = PQescapeIdentifier(admin, db->name, strlen(db->name));
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", ident);
	PQfreemem(ident);
	exec_ok(admin, sql);
	PQfinish(admin);
	db->name[0] = '\0';
}

void ut_db_role_url(const ut_db *db, const char *role, char *out, size_t size)
{
	snprintf(out, size, "postgresql://usher_%s:%s@/%s?host=%s&port=%s", role, db->role_password,
	         db->name, db->host, db->port);
}

PGconn *ut_db_admin(const ut_db *db)
{
	return connect_admin(db, db->name);
}

void ut_db_admin_exec(const ut_db *db, const char *sql)
{
	PGconn *conn = connect_admin(db, db->name);
	exec_ok(conn, sql);
	PQfinish(conn);
}

void ut_bin(const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", env_or_fail("USHER_BIN_DIR"), name);
}

/* Ports below Linux's ephemeral range (32768 up), so no outgoing connection takes one
 * while its daemon is down for a restart; spread at random, checked free by binding, and
 * reserved machine-wide: a test holds a lock on /tmp/usher-test-ports/<port> until it
 * exits (or has taken 256 more), so a parallel test never picks a port this one has
 * chosen but not yet bound, nor one whose daemon is down for a restart. */
#define START_DEADLINE_MS 60000 /* generous: a sanitized daemon on a loaded machine */

#define PORT_LOW 20000
#define PORT_SPAN 12000
#define PORT_LOCK_DIR "/tmp/usher-test-ports"
#define PORTS_HELD 256

/* A lock on port's reservation file (its descriptor), or -1 when another process holds it.
 * flock is released by the kernel when the holder dies, so no reservation goes stale. */
static int port_reserve(int port)
{
	if (mkdir(PORT_LOCK_DIR, 0777) == 0)
		chmod(PORT_LOCK_DIR, 01777); /* any user's tests share it; mkdir obeys the umask */
	else if (errno != EEXIST)
		fail_msg("mkdir %s: %s", PORT_LOCK_DIR, strerror(errno));
	char path[64];
	snprintf(path, sizeof(path), "%s/%d", PORT_LOCK_DIR, port);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool port_bindable(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		fail_msg("socket: %s", strerror(errno));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool is_free = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return is_free;
}

int ut_free_port(void)
{
	/* The reservations held (a ring: a long test outlives the first ones' daemons). */
	static int held[PORTS_HELD];
	static size_t n_held;
	for (int attempt = 0; attempt < 1000; attempt++) {
		int port = PORT_LOW + (int)randombytes_uniform(PORT_SPAN);
		int lock = port_reserve(port); /* fails too for a port this process holds */
		if (lock < 0)
			continue;
		if (!port_bindable(port)) {
			close(lock);
			continue;
		}
		if (n_held >= PORTS_HELD)
			close(held[n_held % PORTS_HELD]);
		held[n_held++ % PORTS_HELD] = lock;
		return port;
	}
	fail_msg("no free TCP port found from %d to %d", PORT_LOW, PORT_LOW + PORT_SPAN);
	return -1;
}

/* --- caller keys --- */

static us_caller_key test_key;
static char test_secret[US_CALLER_SECRET_TEXT_LEN + 1];

const us_caller_key *ut_test_key(void)
{
	if (test_secret[0] == '\0') {
		if (sodium_init() < 0)
			fail_msg("sodium_init failed");
		us_caller_key_generate(&test_key, test_secret);
		setenv("USHER_CALLER_KEY", test_secret, 1);
		unsetenv("USHER_CALLER_KEY_FILE");
	}
	return &test_key;
}

void ut_daemon_key(const ut_system *sys, int which, us_caller_key *out)
{
	if (us_caller_key_parse(sys->signing_keys[which], out) != 0)
		fail_msg("no key for daemon %d", which);
}

/* "NAME HEX RIGHTS" for key. */
static void policy_line(FILE *f, const char *name, const us_caller_key *key, const char *rights)
{
	char hex[US_PUBLIC_KEY_HEX_LEN + 1];
	us_public_key_hex(key->public_key, hex);
	fprintf(f, "%s %s %s\n", name, hex, rights);
}

void ut_policy_line(char *out, size_t size, const char *name, const us_caller_key *key,
                    const char *rights)
{
	char hex[US_PUBLIC_KEY_HEX_LEN + 1];
	us_public_key_hex(key->public_key, hex);
	snprintf(out, size, "%s %s %s", name, hex, rights);
}

const us_caller_key *ut_test_server_key(void)
{
	static us_caller_key key;
	static bool made;
	if (!made) {
		char secret[US_CALLER_SECRET_TEXT_LEN + 1];
		if (sodium_init() < 0)
			fail_msg("sodium_init failed");
		us_caller_key_generate(&key, secret);
		made = true;
	}
	return &key;
}

us_auth *ut_test_auth(const char *extra_policy, us_principal_lookup *lookup, void *lookup_ctx)
{
	return ut_test_auth_keyed(extra_policy, lookup, lookup_ctx, ut_test_server_key());
}

us_auth *ut_test_auth_keyed(const char *extra_policy, us_principal_lookup *lookup,
                            void *lookup_ctx, const us_caller_key *server_key)
{
	char path[] = "/tmp/ut-callers-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL)
		fail_msg("mkstemp: %s", strerror(errno));
	policy_line(f, "test", ut_test_key(), "actor system principals");
	if (extra_policy != NULL)
		fprintf(f, "%s\n", extra_policy);
	fclose(f);
	us_auth_opts opts = {.callers_file = path, .window_ms = 60000, .replay_max = 100000,
	                     .lookup = lookup, .lookup_ctx = lookup_ctx, .principal_ttl_ms = 1000,
	                     .server_key = server_key};
	us_auth *auth;
	char err[512];
	if (us_auth_new(&opts, &auth, err, sizeof(err)) != US_OK)
		fail_msg("caller policy: %s", err);
	unlink(path);
	return auth;
}

/* What each daemon may do when it calls the others: the rights the five daemons need
 * and no more (docs/security.md). */
static const char *const daemon_rights[UT_N_DAEMONS] = {
	[UT_IDENTITY] = "system",
	[UT_TENANCY] = "system",
	[UT_INVITATION] = "actor system",
	[UT_NOTIFICATION] = "system methods=usher.v1.PrincipalService/ResolvePrincipal,usher.v1.TenancyService/Check", /* principals calling EventService */
	[UT_GATEWAY] = "actor",
};

static void write_policy(ut_system *sys)
{
	snprintf(sys->callers_file, sizeof(sys->callers_file), "%s/callers.conf", sys->dir);
	FILE *f = fopen(sys->callers_file, "w");
	if (f == NULL)
		fail_msg("could not write \"%s\": %s", sys->callers_file, strerror(errno));
	fprintf(f, "# written by tests/support/harness.c\n");
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		us_caller_key key;
		us_caller_key_generate(&key, sys->signing_keys[i]);
		char name[64];
		snprintf(name, sizeof(name), "usher-%sd", daemon_names[i]);
		policy_line(f, name, &key, daemon_rights[i]);
		us_caller_key_wipe(&key);
	}
	policy_line(f, "test", ut_test_key(), "actor system principals");
	fclose(f);
}

static int count_in_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

void ut_system_trust(ut_system *sys, const char *line)
{
	FILE *f = fopen(sys->callers_file, "a");
	if (f == NULL)
		fail_msg("could not append to \"%s\": %s", sys->callers_file, strerror(errno));
	fprintf(f, "%s\n", line);
	fclose(f);
	int before[UT_N_DAEMONS][UT_REPLICAS_MAX];
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++) {
			ut_daemon *d = ut_replica(sys, i, r);
			before[i][r] = count_in_file(d->log_path, "caller policy reloaded");
			if (d->pid != 0)
				kill(d->pid, SIGHUP);
		}
	}
	int64_t deadline = us_monotonic_ms() + 20000;
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++) {
			ut_daemon *d = ut_replica(sys, i, r);
			while (d->pid != 0 &&
			       count_in_file(d->log_path, "caller policy reloaded") <= before[i][r]) {
				if (us_monotonic_ms() > deadline)
					fail_msg("usher-%sd did not reload its caller policy", d->name);
				usleep(20 * 1000);
			}
		}
	}
}

/* --- one database per service, each in its service's cluster --- */

/* The cluster of service which: USHER_TEST_PGHOST_<SERVICE> (./usher test starts one per
 * service), else the default one every service then shares. */
static void service_cluster(int which, char *host, size_t host_size, char *port, size_t port_size)
{
	char name[64];
	snprintf(name, sizeof(name), "USHER_TEST_PGHOST_%s", daemon_names[which]);
	for (char *p = name; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	const char *own = getenv(name);
	snprintf(host, host_size, "%s",
	         own != NULL && own[0] != '\0' ? own : env_or_fail("USHER_TEST_PGHOST"));
	snprintf(port, port_size, "%s", env_or_fail("USHER_TEST_PGPORT"));
}

/* The first service before which whose database is the same as which's (shared cluster),
 * or -1. */
static int shares_database_with(const ut_system *sys, int which)
{
	for (int i = 0; i < which; i++)
		if (strcmp(sys->dbs[i].host, sys->dbs[which].host) == 0 &&
		    strcmp(sys->dbs[i].port, sys->dbs[which].port) == 0)
			return i;
	return -1;
}

/* One database (of one name) per cluster, holding the schemas of the services that use
 * that cluster. */
static void system_dbs_create(ut_system *sys, const char *prefix)
{
	char name[64];
	db_name(name, sizeof(name), prefix);
	for (int i = 0; i < UT_N_SERVICES; i++)
		service_cluster(i, sys->dbs[i].host, sizeof(sys->dbs[i].host), sys->dbs[i].port,
		                sizeof(sys->dbs[i].port));
	for (int i = 0; i < UT_N_SERVICES; i++) {
		if (shares_database_with(sys, i) >= 0)
			continue;
		char services[128] = "";
		for (int k = i; k < UT_N_SERVICES; k++)
			if (k == i || shares_database_with(sys, k) == i)
				snprintf(services + strlen(services),
				         sizeof(services) - strlen(services), "%s%s",
				         services[0] ? "," : "", daemon_names[k]);
		char host[sizeof(sys->dbs[i].host)], port[sizeof(sys->dbs[i].port)];
		memcpy(host, sys->dbs[i].host, sizeof(host));
		memcpy(port, sys->dbs[i].port, sizeof(port));
		db_create_in(&sys->dbs[i], name, host, port, services);
	}
	for (int i = 0; i < UT_N_SERVICES; i++) {
		int first = shares_database_with(sys, i);
		if (first >= 0)
			sys->dbs[i] = sys->dbs[first];
	}
}

static void system_dbs_drop(ut_system *sys)
{
	for (int i = UT_N_SERVICES - 1; i >= 0; i--)
		if (shares_database_with(sys, i) < 0)
			ut_db_drop(&sys->dbs[i]);
	for (int i = 0; i < UT_N_SERVICES; i++)
		sys->dbs[i].name[0] = '\0';
}

const ut_db *ut_system_db(const ut_system *sys, int which)
{
	if (which < 0 || which >= UT_N_SERVICES)
		fail_msg("ut_system_db: %d is not a service with a database", which);
	return &sys->dbs[which];
}

bool ut_system_db_first(const ut_system *sys, int which)
{
	ut_system_db(sys, which);
	return shares_database_with(sys, which) < 0;
}

const ut_db *ut_system_db_of(const ut_system *sys, const char *table)
{
	size_t len = strcspn(table, ".");
	for (int i = 0; i < UT_N_SERVICES; i++)
		if (strlen(daemon_names[i]) == len && strncmp(table, daemon_names[i], len) == 0)
			return &sys->dbs[i];
	fail_msg("ut_system_db_of: \"%s\" is in no service's schema", table);
	return NULL;
}

void ut_system_init(ut_system *sys, const char *prefix)
{
	memset(sys, 0, sizeof(*sys));
	ut_test_key();
	system_dbs_create(sys, prefix);
	unsigned char key[32];
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(sys->identity_token_key, sizeof(sys->identity_token_key), key, sizeof(key));
	snprintf(sys->dir, sizeof(sys->dir), "/tmp/ut-XXXXXX");
	if (mkdtemp(sys->dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		ut_daemon *d = &sys->daemons[i];
		d->name = daemon_names[i];
		snprintf(d->url, sizeof(d->url), "tcp://127.0.0.1:%d", ut_free_port());
		d->admin_port = ut_free_port();
		snprintf(d->log_path, sizeof(d->log_path), "%s/%s.log", sys->dir, d->name);
	}
	write_policy(sys);
}

void ut_system_export_urls(const ut_system *sys)
{
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		char name[64], urls[UT_REPLICAS_MAX * 160];
		snprintf(name, sizeof(name), "%s_RPC_URL", sys->daemons[i].name);
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		ut_system_urls(sys, i, urls, sizeof(urls));
		setenv(name, urls, 1);
	}
}

/* --- replicas --- */

void ut_system_replicas(ut_system *sys, int which, int n)
{
	if (n < 1 || n > UT_REPLICAS_MAX)
		fail_msg("%d replicas: 1 to %d", n, UT_REPLICAS_MAX);
	sys->n_replicas[which] = n;
	for (int r = 1; r < n; r++) {
		ut_daemon *d = &sys->replicas[which][r - 1];
		memset(d, 0, sizeof(*d));
		d->name = daemon_names[which];
		snprintf(d->url, sizeof(d->url), "tcp://127.0.0.1:%d", ut_free_port());
		d->admin_port = ut_free_port();
		snprintf(d->log_path, sizeof(d->log_path), "%s/%s-%d.log", sys->dir, d->name, r);
	}
}

int ut_replica_count(const ut_system *sys, int which)
{
	return sys->n_replicas[which] > 1 ? sys->n_replicas[which] : 1;
}

ut_daemon *ut_replica(ut_system *sys, int which, int r)
{
	if (r < 0 || r >= ut_replica_count(sys, which))
		fail_msg("usher-%sd has no replica %d", daemon_names[which], r);
	return r == 0 ? &sys->daemons[which] : &sys->replicas[which][r - 1];
}

void ut_system_urls(const ut_system *sys, int which, char *out, size_t size)
{
	size_t len = (size_t)snprintf(out, size, "%s", sys->daemons[which].url);
	for (int r = 1; r < ut_replica_count(sys, which) && len < size; r++)
		len += (size_t)snprintf(out + len, size - len, ",%s", sys->replicas[which][r - 1].url);
	if (len >= size)
		fail_msg("usher-%sd's addresses do not fit in %zu bytes", daemon_names[which], size);
}

/* --- the processes the harness starts --- */

/* Every process started here and not yet reaped. Each dies with this process
 * (PR_SET_PDEATHSIG: a crash, an abort or ctest's timeout kill included), and stop_leftovers
 * (atexit) stops those a failed test left behind. */
#define MAX_CHILDREN 64
static pid_t children[MAX_CHILDREN];
/* A problem found where cmocka cannot fail the program (its 1.1.5 returns 0 after a failed
 * group teardown): stop_leftovers makes the exit status 1. */
static bool problems_seen;

#define STOP_DEADLINE_MS 60000 /* SIGTERM to exit, for a sanitized daemon on a loaded machine */

static void child_add(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == 0) {
			children[i] = pid;
			return;
		}
	}
	kill(pid, SIGKILL);
	fail_msg("more than %d processes started by one test", MAX_CHILDREN);
}

static void child_remove(pid_t pid)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == pid)
			children[i] = 0;
	}
}

/* Waits up to timeout_ms for pid to end; returns its wait status, or -1 when it still runs. */
static int reap(pid_t pid, int timeout_ms)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	for (;;) {
		int status;
		pid_t got = waitpid(pid, &status, WNOHANG);
		if (got == pid) {
			child_remove(pid);
			return status;
		}
		if (got < 0) {
			/* Reaped by the test itself: nothing left to judge. */
			child_remove(pid);
			return 0;
		}
		if (us_monotonic_ms() >= deadline)
			return -1;
		usleep(10 * 1000);
	}
}

static void stop_leftovers(void)
{
	size_t left = 0;
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] != 0) {
			kill(children[i], SIGTERM);
			left++;
		}
	}
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		pid_t pid = children[i];
		if (pid != 0 && reap(pid, 10000) == -1) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		children[i] = 0;
	}
	if (left > 0) {
		fprintf(stderr, "harness: stopped %zu processes the test left running\n", left);
		problems_seen = true;
	}
	if (problems_seen) {
		fprintf(stderr, "harness: failing: a started process misbehaved (see above)\n");
		fflush(NULL);
		_exit(1);
	}
}

/* Fails the test, and the program even where cmocka would only report it. */
#define harness_fail(...)                                                                       \
	do {                                                                                        \
		problems_seen = true;                                                                   \
		fail_msg(__VA_ARGS__);                                                                  \
	} while (0)

pid_t ut_spawn(char *const argv[], char *const envp[], const char *out_path)
{
	static bool registered;
	if (!registered) {
		atexit(stop_leftovers);
		registered = true;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], argv, envp != NULL ? envp : environ);
		/* Say why in the process's log (the harness prints it): errno as digits, since
		 * only async-signal-safe calls may run here. */
		char why[] = "ut_spawn: execve failed, errno 000\n";
		int e = errno, end = (int)sizeof(why) - 3;
		for (int i = 0; i < 3; i++, e /= 10)
			why[end - i] = (char)('0' + e % 10);
		ssize_t ignored = write(STDERR_FILENO, why, sizeof(why) - 1);
		(void)ignored;
		_exit(127);
	}
	child_add(pid);
	return pid;
}

int ut_reap(pid_t pid, int timeout_ms)
{
	return reap(pid, timeout_ms);
}

static void describe_status(int status, char *out, size_t size)
{
	if (WIFEXITED(status))
		snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, size, "was killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(out, size, "ended with wait status %d", status);
}

static void add_problem(ut_system *sys, const ut_daemon *d, const char *fmt, ...)
{
	size_t len = strlen(sys->problems);
	if (len + 2 >= sizeof(sys->problems))
		return;
	len += (size_t)snprintf(sys->problems + len, sizeof(sys->problems) - len, "usher-%sd ",
	                        d->name);
	if (len >= sizeof(sys->problems))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sys->problems + len, sizeof(sys->problems) - len, fmt, ap);
	va_end(ap);
	len = strlen(sys->problems);
	if (len + 1 < sizeof(sys->problems))
		strcat(sys->problems, "\n");
}

/* A daemon asked to stop (SIGTERM) must exit 0; one the test killed, or whose armed fault
 * or SMTP sink killed it, must have died of SIGKILL. Anything else is a problem. */
static void judge_end(ut_system *sys, const ut_daemon *d, int status, bool asked_to_stop)
{
	bool fine = asked_to_stop ? WIFEXITED(status) && WEXITSTATUS(status) == 0
	                          : WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (fine)
		return;
	char how[96];
	describe_status(status, how, sizeof(how));
	add_problem(sys, d, "%s%s", how, asked_to_stop ? " after SIGTERM" : "");
}

/* What a sanitizer writes when it finds something (ThreadSanitizer warns, then goes on). */
static const char *const sanitizer_marks[] = {
	"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "UndefinedBehaviorSanitizer",
	"runtime error", "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer",
};

/* The first line of the daemon's log with a sanitizer's report in it (0: none). */
static long sanitizer_report_line(const ut_daemon *d, char *text, size_t size)
{
	FILE *f = fopen(d->log_path, "r");
	if (f == NULL)
		return 0;
	char line[4096];
	long number = 0, found = 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
		number++;
		for (size_t i = 0; i < sizeof(sanitizer_marks) / sizeof(sanitizer_marks[0]); i++) {
			if (strstr(line, sanitizer_marks[i]) != NULL) {
				size_t len = strcspn(line, "\n");
				if (len >= size)
					len = size - 1;
				memcpy(text, line, len);
				text[len] = '\0';
				found = number;
				break;
			}
		}
	}
	fclose(f);
	return found;
}

/* Prints the daemon's log from line first (1-based) for at most max lines; first 0: its
 * last max lines. */
static void print_log_lines(const ut_daemon *d, long first, long max)
{
	FILE *f = fopen(d->log_path, "r");
	if (f == NULL)
		return;
	char line[4096];
	long total = 0;
	if (first == 0) {
		while (fgets(line, sizeof(line), f) != NULL)
			total++;
		first = total > max ? total - max + 1 : 1;
		rewind(f);
	}
	fprintf(stderr, "--- %s (from line %ld) ---\n", d->log_path, first);
	for (long n = 1; fgets(line, sizeof(line), f) != NULL && n < first + max; n++) {
		if (n >= first)
			fputs(line, stderr);
	}
	fclose(f);
}

/* The number of the first line at or after from with needle in it, or 0. */
static long find_in_log(const ut_daemon *d, const char *needle, long from, long *lines)
{
	FILE *f = fopen(d->log_path, "r");
	if (f == NULL)
		return 0;
	char line[8192];
	long number = 0, found = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] != '\n' && !feof(f))
			continue; /* the rest of a longer line follows as another piece */
		number++;
		if (found == 0 && needle != NULL && number >= from && strstr(line, needle) != NULL)
			found = number;
	}
	fclose(f);
	if (lines != NULL)
		*lines = number;
	return found;
}

long ut_log_wait(const ut_daemon *d, const char *needle, long from, int timeout_ms)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	for (;;) {
		long found = find_in_log(d, needle, from, NULL);
		if (found > 0 || us_monotonic_ms() > deadline)
			return found;
		usleep(20 * 1000);
	}
}

long ut_log_lines(const ut_daemon *d)
{
	long lines = 0;
	find_in_log(d, NULL, 0, &lines);
	return lines;
}

static void print_log(const ut_daemon *d)
{
	print_log_lines(d, 0, 200);
}

/* Asks Health/Check once; true when SERVING. */
static bool serving(const char *url)
{
	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts opts = {.url = url, .caller = "test"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		return false;
	us_arena *arena = us_arena_new();
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	us_rpc_call_opts call = {.timeout_ms = 1000};
	ProtobufCMessage *reply = NULL;
	bool ok = us_rpc_call(c, "usher.v1.Health/Check", &call, &req.base,
	                      &usher__v1__health_check_response__descriptor, arena, &reply,
	                      NULL) == US_OK &&
	          ((Usher__V1__HealthCheckResponse *)reply)->status ==
	                  USHER__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	us_arena_free(arena);
	us_rpc_client_close(c);
	return ok;
}

/* Adds "NAME=value" unless env already sets NAME. */
static void add_default(char **env, size_t *n, const char *setting)
{
	size_t name_len = strcspn(setting, "=");
	for (size_t i = 0; i < *n; i++) {
		if (strncmp(env[i], setting, name_len + 1) == 0)
			return;
	}
	env[(*n)++] = (char *)setting;
}

/* Starts d, replica of daemon which, without waiting for it (wait_serving). */
static void spawn_daemon(ut_system *sys, int which, ut_daemon *d)
{
	char binary[512], name[64];
	snprintf(name, sizeof(name), "usher-%sd", d->name);
	ut_bin(name, binary, sizeof(binary));
	if (d->pid != 0)
		fail_msg("%s is already running (pid %d)", name, (int)d->pid);

	/* The daemon's environment: the test's extra settings first, which win, then the
	 * harness's defaults for whatever they leave unset, then this process's own. */
	char db_url[512], listen[200], urls[UT_N_DAEMONS][UT_REPLICAS_MAX * 160 + 32], token_key[96];
	char signing_key[120], callers_file[200], admin_listen[64];
	char database_setting[600];
	char *env[256];
	size_t n = 0;
	d->fault_armed = false;
	for (size_t i = 0; i < 16 && sys->extra_env[i] != NULL; i++) {
		env[n++] = (char *)sys->extra_env[i];
		d->fault_armed = d->fault_armed || strncmp(sys->extra_env[i], "USHER_FAULT=", 12) == 0;
	}
	if (which != UT_GATEWAY) {
		ut_db_role_url(ut_system_db(sys, which), d->name, db_url, sizeof(db_url));
		snprintf(database_setting, sizeof(database_setting), "DATABASE_URL=%s", db_url);
		add_default(env, &n, database_setting);
	}
	snprintf(listen, sizeof(listen), "RPC_LISTEN=%s", d->url);
	add_default(env, &n, listen);
	snprintf(admin_listen, sizeof(admin_listen), "ADMIN_LISTEN=127.0.0.1:%d", d->admin_port);
	add_default(env, &n, admin_listen);
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		char upper[32];
		snprintf(upper, sizeof(upper), "%s", sys->daemons[i].name);
		for (char *p = upper; *p; p++)
			*p = (char)(*p - 32);
		size_t len = (size_t)snprintf(urls[i], sizeof(urls[i]), "%s_RPC_URL=", upper);
		ut_system_urls(sys, i, urls[i] + len, sizeof(urls[i]) - len);
		add_default(env, &n, urls[i]);
	}
	add_default(env, &n, "RPC_WORKERS=4");
	add_default(env, &n, "LOG_LEVEL=debug");
	add_default(env, &n, "HTTP_PORT=0");
	/* The tests' webhook receivers listen on loopback. */
	add_default(env, &n, "WEBHOOK_ALLOW_PRIVATE=true");
	char spool[200];
	snprintf(spool, sizeof(spool), "MAIL_SPOOL_DIR=%s/mail", sys->dir);
	add_default(env, &n, spool);
	/* Fixed test secrets: the tests' databases are throwaway. */
	add_default(env, &n, "INVITATION_TOKEN_KEY=6b1f2e3d4c5b6a79887766554433221100ffeeddccbbaa998877665544332211");
	add_default(env, &n, "GATEWAY_CSRF_KEY=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0");
	add_default(env, &n, "NOTIFICATION_SEAL_KEY=5e5e1a1ed0c0ffee5e5e1a1ed0c0ffee5e5e1a1ed0c0ffee5e5e1a1ed0c0ffee");
	snprintf(token_key, sizeof(token_key), "IDENTITY_TOKEN_KEY=%s", sys->identity_token_key);
	add_default(env, &n, token_key);
	snprintf(signing_key, sizeof(signing_key), "RPC_SIGNING_KEY=%s", sys->signing_keys[which]);
	add_default(env, &n, signing_key);
	snprintf(callers_file, sizeof(callers_file), "RPC_CALLERS_FILE=%s", sys->callers_file);
	add_default(env, &n, callers_file);
	/* A revocation reaches every daemon within a second: tests wait on it, not sleep. */
	add_default(env, &n, "PRINCIPAL_CACHE_TTL_S=1");
	for (char **e = environ; *e != NULL && n < 250; e++)
		add_default(env, &n, *e);
	env[n] = NULL;

	char *argv[] = {binary, NULL};
	d->pid = ut_spawn(argv, env, d->log_path);
}

/* Waits until d, just spawned, says SERVING; fails the test when it ends or takes too long. */
static void wait_serving(ut_daemon *d)
{
	char name[64];
	snprintf(name, sizeof(name), "usher-%sd", d->name);
	int64_t deadline = us_monotonic_ms() + START_DEADLINE_MS;
	while (us_monotonic_ms() < deadline) {
		if (serving(d->url))
			return;
		int status;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			child_remove(d->pid);
			d->pid = 0;
			print_log(d);
			char how[96];
			describe_status(status, how, sizeof(how));
			fail_msg("%s %s while starting", name, how);
		}
		usleep(50 * 1000);
	}
	print_log(d);
	fail_msg("%s did not become healthy within %d s", name, START_DEADLINE_MS / 1000);
}

void ut_system_start(ut_system *sys, int which)
{
	ut_replica_start(sys, which, 0);
}

void ut_replica_start(ut_system *sys, int which, int r)
{
	spawn_daemon(sys, which, ut_replica(sys, which, r));
	wait_serving(ut_replica(sys, which, r));
}

void ut_system_start_all(ut_system *sys)
{
	/* Side by side: every client keeps dialling until its peers are up. */
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++)
			spawn_daemon(sys, i, ut_replica(sys, i, r));
	}
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++)
			wait_serving(ut_replica(sys, i, r));
	}
}

/* sig 0 with asked_to_stop: SIGTERM was sent already (teardown). */
static int signal_daemon_as(ut_system *sys, ut_daemon *d, int sig, bool asked_to_stop,
                            int timeout_ms, int64_t *took_ms)
{
	if (d->pid == 0)
		return -1;
	int64_t start = us_monotonic_ms();
	if (sig != 0)
		kill(d->pid, sig);
	int status = reap(d->pid, timeout_ms);
	if (took_ms != NULL)
		*took_ms = us_monotonic_ms() - start;
	if (status == -1)
		return -1;
	d->pid = 0;
	judge_end(sys, d, status, asked_to_stop || sig == SIGTERM || sig == SIGINT);
	return status;
}

static int signal_daemon(ut_system *sys, ut_daemon *d, int sig, int timeout_ms, int64_t *took_ms)
{
	return signal_daemon_as(sys, d, sig, false, timeout_ms, took_ms);
}

int ut_system_signal(ut_system *sys, int which, int sig, int timeout_ms, int64_t *took_ms)
{
	return signal_daemon(sys, &sys->daemons[which], sig, timeout_ms, took_ms);
}

int ut_replica_signal(ut_system *sys, int which, int r, int sig, int timeout_ms)
{
	return signal_daemon(sys, ut_replica(sys, which, r), sig, timeout_ms, NULL);
}

int ut_system_wait(ut_system *sys, int which, int timeout_ms)
{
	return ut_system_signal(sys, which, 0, timeout_ms, NULL);
}

/* Sends d SIGTERM if it runs; a problem when it ended on its own during the test. */
static void ask_to_stop(ut_system *sys, ut_daemon *d)
{
	if (d->pid == 0)
		return;
	int status;
	if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
		child_remove(d->pid);
		d->pid = 0;
		if (!(d->fault_armed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
			char how[96];
			describe_status(status, how, sizeof(how));
			add_problem(sys, d, "%s during the test", how);
		}
		return;
	}
	kill(d->pid, SIGTERM);
}

/* Waits for d, asked to stop, to exit 0; a problem when it does not. */
static void wait_stopped(ut_system *sys, ut_daemon *d)
{
	if (d->pid != 0 && signal_daemon_as(sys, d, 0, true, STOP_DEADLINE_MS, NULL) == -1) {
		kill(d->pid, SIGKILL);
		reap(d->pid, STOP_DEADLINE_MS);
		d->pid = 0;
		add_problem(sys, d, "did not stop within %d s of SIGTERM", STOP_DEADLINE_MS / 1000);
	}
}

void ut_system_teardown(ut_system *sys)
{
	if (sys->dir[0] == '\0')
		return; /* never set up, or torn down already */
	/* All asked at once, then each waited for: they drain side by side. */
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++)
			ask_to_stop(sys, ut_replica(sys, i, r));
	}
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++)
			wait_stopped(sys, ut_replica(sys, i, r));
	}
	bool print[UT_N_DAEMONS][UT_REPLICAS_MAX] = {{false}};
	long report_at[UT_N_DAEMONS][UT_REPLICAS_MAX] = {{0}};
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++) {
			ut_daemon *d = ut_replica(sys, i, r);
			char line[300];
			report_at[i][r] = sanitizer_report_line(d, line, sizeof(line));
			if (report_at[i][r] > 0)
				add_problem(sys, d, "logged a sanitizer report: %s", line);
			print[i][r] = report_at[i][r] > 0 || strstr(sys->problems, d->name) != NULL;
		}
	}
	system_dbs_drop(sys);
	char dir[sizeof(sys->dir)];
	memcpy(dir, sys->dir, sizeof(dir));
	bool failed = sys->problems[0] != '\0';
	if (!failed && getenv("UT_KEEP") == NULL) {
		for (int i = 0; i < UT_N_DAEMONS; i++) {
			for (int r = 0; r < ut_replica_count(sys, i); r++)
				unlink(ut_replica(sys, i, r)->log_path);
		}
		char *argv[] = {"/bin/rm", "-rf", sys->dir, NULL};
		ut_run(argv, NULL, false, NULL);
	}
	sys->dir[0] = '\0';
	if (!failed)
		return;
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		for (int r = 0; r < ut_replica_count(sys, i); r++) {
			if (print[i][r])
				print_log_lines(ut_replica(sys, i, r), report_at[i][r],
				                report_at[i][r] > 0 ? 120 : 60);
		}
	}
	harness_fail("the daemons did not end well (their logs are kept in %s):\n%s", dir,
	             sys->problems);
}

int ut_run(char *const argv[], char *const envp[], bool with_stderr, char **out)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		fail_msg("pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	if (with_stderr)
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	/* Only stdout (and stderr) hold the pipe: a daemon the program starts (pg_ctl's
	 * postmaster) must not keep it open, or the read below never ends. */
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	posix_spawn_file_actions_addclose(&fa, pipefd[1]);
	pid_t pid;
	int rv = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rv != 0)
		fail_msg("could not run %s: %s", argv[0], strerror(rv));

	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	assert_non_null(buf);
	ssize_t got;
	while ((got = read(pipefd[0], buf + len, cap - len - 1)) > 0) {
		len += (size_t)got;
		if (cap - len < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	close(pipefd[0]);
	buf[len] = '\0';
	int status;
	waitpid(pid, &status, 0);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- the SMTP sink --- */

static void sink_spawn(ut_sink *sink)
{
	char script[512], port_file[256], port[16], log_path[256];
	snprintf(script, sizeof(script), "%s/tests/support/smtp_sink.py",
	         env_or_fail("USHER_SOURCE_DIR"));
	snprintf(port_file, sizeof(port_file), "%s/port", sink->dir);
	snprintf(log_path, sizeof(log_path), "%s/sink.log", sink->dir);
	snprintf(port, sizeof(port), "%d", sink->port);
	unlink(port_file);

	const char *argv[48] = {"/usr/bin/python3", script, "--dir", sink->dir, "--port", port,
	                        "--port-file", port_file};
	size_t n = 8;
	for (size_t i = 0; sink->flags != NULL && sink->flags[i] != NULL && n < 47; i++)
		argv[n++] = sink->flags[i];
	argv[n] = NULL;

	sink->pid = ut_spawn((char *const *)argv, NULL, log_path);

	int64_t deadline = us_monotonic_ms() + START_DEADLINE_MS;
	while (us_monotonic_ms() < deadline) {
		FILE *f = fopen(port_file, "r");
		if (f != NULL) {
			int got = fscanf(f, "%d", &sink->port);
			fclose(f);
			if (got == 1)
				return;
		}
		if (waitpid(sink->pid, NULL, WNOHANG) == sink->pid) {
			child_remove(sink->pid);
			sink->pid = 0;
			fail_msg("the SMTP sink exited while starting; see %s", log_path);
		}
		usleep(20 * 1000);
	}
	fail_msg("the SMTP sink did not start; see %s", log_path);
}

void ut_sink_start(ut_sink *sink, const char *const *flags)
{
	memset(sink, 0, sizeof(*sink));
	snprintf(sink->dir, sizeof(sink->dir), "/tmp/ut-sink-XXXXXX");
	if (mkdtemp(sink->dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	sink->flags = flags;
	sink_spawn(sink);
}

void ut_sink_stop(ut_sink *sink)
{
	if (sink->pid == 0)
		return;
	pid_t pid = sink->pid;
	sink->pid = 0;
	int status;
	if (waitpid(pid, &status, WNOHANG) == pid) {
		child_remove(pid);
		char how[96];
		describe_status(status, how, sizeof(how));
		harness_fail("the SMTP sink %s during the test; see %s/sink.log", how, sink->dir);
	}
	kill(pid, SIGTERM);
	status = reap(pid, STOP_DEADLINE_MS);
	if (status == -1) {
		kill(pid, SIGKILL);
		reap(pid, STOP_DEADLINE_MS);
		harness_fail("the SMTP sink did not stop on SIGTERM; see %s/sink.log", sink->dir);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char how[96];
		describe_status(status, how, sizeof(how));
		harness_fail("the SMTP sink %s after SIGTERM; see %s/sink.log", how, sink->dir);
	}
}

void ut_sink_resume(ut_sink *sink)
{
	if (sink->pid == 0)
		sink_spawn(sink);
}

void ut_sink_teardown(ut_sink *sink)
{
	if (sink->dir[0] == '\0')
		return;
	ut_sink_stop(sink);
	if (getenv("UT_KEEP") != NULL)
		return;
	char *argv[] = {"/bin/rm", "-rf", sink->dir, NULL};
	ut_run(argv, NULL, false, NULL);
	sink->dir[0] = '\0';
}

void ut_sink_url(const ut_sink *sink, char *out, size_t size)
{
	snprintf(out, size, "smtp://127.0.0.1:%d", sink->port);
}

static int is_mail_file(const struct dirent *e)
{
	size_t len = strlen(e->d_name);
	return e->d_name[0] != '.' && len > 4 && strcmp(e->d_name + len - 4, ".eml") == 0;
}

/* The envelope line's address: "RCPT TO:<a@b>" gives "a@b". */
static char *envelope_address(const char *line, size_t len)
{
	const char *open = memchr(line, '<', len);
	const char *close = open != NULL ? memchr(open, '>', len - (size_t)(open - line)) : NULL;
	if (close == NULL)
		return strdup("");
	return strndup(open + 1, (size_t)(close - open - 1));
}

static void parse_mail(char *raw, ut_mail *m)
{
	memset(m, 0, sizeof(*m));
	char *p = raw;
	for (;;) {
		char *eol = strstr(p, "\r\n");
		if (eol == NULL)
			break;
		size_t len = (size_t)(eol - p);
		if (len == 0) {
			p = eol + 2;
			break;
		}
		if (strncmp(p, "MAIL FROM:", 10) == 0)
			m->mail_from = envelope_address(p, len);
		else if (strncmp(p, "RCPT TO:", 8) == 0 && m->rcpt_to == NULL)
			m->rcpt_to = envelope_address(p, len);
		p = eol + 2;
	}
	m->data = strdup(p);
	if (m->mail_from == NULL)
		m->mail_from = strdup("");
	if (m->rcpt_to == NULL)
		m->rcpt_to = strdup("");
}

size_t ut_sink_mails(const ut_sink *sink, ut_mail **out)
{
	struct dirent **entries;
	int n = scandir(sink->dir, &entries, is_mail_file, alphasort);
	if (n < 0) {
		fail_msg("could not read \"%s\": %s", sink->dir, strerror(errno));
		return 0;
	}
	ut_mail *mails = calloc((size_t)n + 1, sizeof(*mails));
	assert_non_null(mails);
	for (int i = 0; i < n; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", sink->dir, entries[i]->d_name);
		char *raw = read_file(path);
		parse_mail(raw, &mails[i]);
		free(raw);
		free(entries[i]);
	}
	free(entries);
	*out = mails;
	return (size_t)n;
}

void ut_mails_free(ut_mail *mails, size_t n)
{
	for (size_t i = 0; mails != NULL && i < n; i++) {
		free(mails[i].mail_from);
		free(mails[i].rcpt_to);
		free(mails[i].data);
	}
	free(mails);
}

size_t ut_sink_wait(const ut_sink *sink, size_t n, int timeout_ms)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	for (;;) {
		struct dirent **entries;
		int got = scandir(sink->dir, &entries, is_mail_file, NULL);
		for (int i = 0; i < got; i++)
			free(entries[i]);
		if (got > 0)
			free(entries);
		if ((got >= 0 && (size_t)got >= n) || us_monotonic_ms() > deadline)
			return got > 0 ? (size_t)got : 0;
		usleep(20 * 1000);
	}
}

/* The end of the header block: the first empty line. */
static const char *headers_end(const char *data)
{
	const char *end = strstr(data, "\r\n\r\n");
	return end != NULL ? end + 2 : data + strlen(data);
}

static char *header_in(const char *start, const char *end, const char *name)
{
	size_t name_len = strlen(name);
	for (const char *line = start; line < end;) {
		const char *eol = strstr(line, "\r\n");
		if (eol == NULL || eol > end)
			eol = end;
		if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
		    line[name_len] == ':') {
			/* Unfold: continuation lines start with white space. */
			char *value = malloc((size_t)(end - line) + 1);
			assert_non_null(value);
			size_t len = 0;
			const char *p = line + name_len + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			for (;;) {
				memcpy(value + len, p, (size_t)(eol - p));
				len += (size_t)(eol - p);
				if (eol + 2 >= end || (eol[2] != ' ' && eol[2] != '\t'))
					break;
				p = eol + 2;
				const char *next = strstr(p, "\r\n");
				eol = next != NULL && next <= end ? next : end;
			}
			value[len] = '\0';
			return value;
		}
		line = eol + 2;
	}
	return NULL;
}

char *ut_mail_header(const char *data, const char *name)
{
	return header_in(data, headers_end(data), name);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static char *decode_qp(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	assert_non_null(out);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '=') {
			out[n++] = s[i];
		} else if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2; /* a soft line break */
		} else if (i + 2 < len && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
			out[n++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
			i += 2;
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return out;
}

char *ut_mail_part(const char *data, const char *content_type)
{
	char *type = ut_mail_header(data, "Content-Type");
	char *b = type != NULL ? strstr(type, "boundary=\"") : NULL;
	if (b == NULL) {
		free(type);
		return NULL;
	}
	char delimiter[256];
	snprintf(delimiter, sizeof(delimiter), "--%.*s", (int)strcspn(b + 10, "\""), b + 10);
	free(type);
	for (const char *part = strstr(data, delimiter); part != NULL;
	     part = strstr(part + 1, delimiter)) {
		const char *head = part + strlen(delimiter);
		if (strncmp(head, "\r\n", 2) != 0)
			break; /* the closing delimiter */
		head += 2;
		const char *body = headers_end(head);
		char *ct = header_in(head, body, "Content-Type");
		bool match = ct != NULL && strncasecmp(ct, content_type, strlen(content_type)) == 0;
		free(ct);
		if (!match)
			continue;
		body += 2;
		const char *next = strstr(body, delimiter);
		size_t len = next != NULL ? (size_t)(next - body) : strlen(body);
		char *cte = header_in(head, body, "Content-Transfer-Encoding");
		bool qp = cte != NULL && strcasecmp(cte, "quoted-printable") == 0;
		free(cte);
		return qp ? decode_qp(body, len) : strndup(body, len);
	}
	return NULL;
}

long ut_sink_count(const ut_sink *sink, const char *rcpt, const char *needle, long *copies,
                   bool *identical)
{
	ut_mail *mails;
	size_t n = ut_sink_mails(sink, &mails);
	char **ids = calloc(n + 1, sizeof(*ids));
	const char **first = calloc(n + 1, sizeof(*first));
	assert_true(ids != NULL && first != NULL);
	size_t n_ids = 0;
	*copies = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(mails[i].rcpt_to, rcpt) != 0)
			continue;
		char *subject = ut_mail_header(mails[i].data, "Subject");
		bool match = subject != NULL && strstr(subject, needle) != NULL;
		free(subject);
		if (!match)
			continue;
		(*copies)++;
		char *id = ut_mail_header(mails[i].data, "Message-ID");
		size_t k = 0;
		while (k < n_ids && (id == NULL || strcmp(ids[k], id) != 0))
			k++;
		if (k < n_ids) {
			*identical = *identical && strcmp(first[k], mails[i].data) == 0;
			free(id);
		} else if (id != NULL) {
			ids[n_ids] = id;
			first[n_ids++] = mails[i].data;
		}
	}
	for (size_t k = 0; k < n_ids; k++)
		free(ids[k]);
	free(ids);
	free(first);
	ut_mails_free(mails, n);
	return (long)n_ids;
}

bool ut_sink_wait_link(const ut_sink *sink, const char *rcpt, const char *subject_prefix,
                       char kind, size_t nth, int timeout_ms, char *token, size_t size)
{
	static const char token_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                  "0123456789-_";
	const char path[] = {'/', kind, '/', '\0'};
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	for (;;) {
		ut_mail *mails;
		size_t n = ut_sink_mails(sink, &mails);
		size_t seen = 0;
		bool found = false;
		for (size_t i = 0; i < n && !found; i++) {
			char *subject = ut_mail_header(mails[i].data, "Subject");
			bool match = strcmp(mails[i].rcpt_to, rcpt) == 0 && subject != NULL &&
			             strncmp(subject, subject_prefix, strlen(subject_prefix)) == 0;
			free(subject);
			if (!match || seen++ != nth)
				continue;
			char *text = ut_mail_part(mails[i].data, "text/plain");
			char *link = text != NULL ? strstr(text, path) : NULL;
			if (link != NULL) {
				snprintf(token, size, "%.*s", (int)strspn(link + 3, token_chars), link + 3);
				found = true;
			}
			free(text);
		}
		ut_mails_free(mails, n);
		if (found)
			return true;
		if (us_monotonic_ms() > deadline)
			return false;
		usleep(50 * 1000);
	}
}

void ut_sink_wait_token(const ut_sink *sink, const char *rcpt, size_t nth, int timeout_ms,
                        char *token, size_t size)
{
	if (!ut_sink_wait_link(sink, rcpt, "Invitation", 'i', nth, timeout_ms, token, size))
		fail_msg("no invitation email %zu reached %s in %d ms", nth, rcpt, timeout_ms);
}

long ut_db_number(const ut_db *db, const char *fmt, ...)
{
	char sql[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	PGconn *conn = ut_db_admin(db);
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s\n  in: %s", PQresultErrorMessage(res), sql);
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return n;
}
