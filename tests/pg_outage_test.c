/* Postgres goes away under the daemons, which are not restarted:
 *
 * - restarted as after a crash (pg_ctl restart -m immediate) in the middle of a load of
 *   batches, accepts and link joins whose callers retry: afterwards nothing is lost or
 *   doubled, every email arrives, and every call got its success;
 * - stopped for 10 s under a light load: calls made meanwhile fail with UNAVAILABLE (an
 *   answer, not a wait for their deadline), every daemon's /readyz turns 503 and then 200
 *   again, the daemons reconnect by themselves once it is back, and nothing written is
 *   lost (what failed succeeds when retried, once).
 *
 * It stops the cluster every test shares, so ctest runs it alone (RUN_SERIAL). The
 * numbers go to $USHER_REPORT_DIR/pg_restart.md and pg_outage.md for docs/reliability.md
 * (scripts/reliability_report.py); times are reported, not judged. */
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"

#define INV "usher.v1.InvitationService/"
#define PASSWORD "correct horse battery"
#define OWNER_EMAIL "owner@outage.example"
#define OUTAGE_MS 10000
#define SETTLE_MS 120000

static ut_system sys;
static ut_sink sink;
static us_arena *A;
static char *owner, *account;

/* A number from the database of schema. */
#define sql_number(schema, ...) ut_db_number(ut_system_db_of(&sys, schema), __VA_ARGS__)

/* --- Postgres itself --- */

static const char *env_or_fail(const char *name)
{
	const char *v = getenv(name);
	if (v == NULL || v[0] == '\0')
		fail_msg("%s is not set: run the tests with ./usher test", name);
	return v;
}

/* The clusters the services use, each once: a data directory and its log
 * (USHER_TEST_PGDATA_<SERVICE>, as ./usher test starts one per service, else the one
 * shared). Returns how many. */
static int clusters(const char *data[4], const char *log[4])
{
	static const char *const services[] = {"IDENTITY", "TENANCY", "INVITATION", "NOTIFICATION"};
	int n = 0;
	for (int i = 0; i < 4; i++) {
		char name[64];
		snprintf(name, sizeof(name), "USHER_TEST_PGDATA_%s", services[i]);
		const char *d = getenv(name);
		snprintf(name, sizeof(name), "USHER_TEST_PGLOG_%s", services[i]);
		const char *l = getenv(name);
		if (d == NULL || d[0] == '\0' || l == NULL || l[0] == '\0') {
			d = env_or_fail("USHER_TEST_PGDATA");
			l = env_or_fail("USHER_TEST_PGLOG");
		}
		bool seen = false;
		for (int k = 0; k < n; k++)
			seen = seen || strcmp(data[k], d) == 0;
		if (!seen) {
			data[n] = d;
			log[n++] = l;
		}
	}
	return n;
}

/* The options the cluster in data was started with (postmaster.opts, after the binary),
 * for a start after a stop: its socket directory and settings come from the command line. */
static char *start_options(const char *data)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/postmaster.opts", data);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[4096];
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	char *rest = strchr(line, ' ');
	assert_non_null(rest);
	return strdup(rest + 1);
}

/* Runs pg_ctl with args on every cluster of the system (options[i]: "-o" for the ith, or
 * NULL), as the cluster's owner (root runs it through runuser, as the usher script does);
 * fails the test unless it succeeds. */
static void pg_ctl(const char *const *args, char *const *options)
{
	const char *data[4], *log[4];
	int n = clusters(data, log);
	for (int c = 0; c < n; c++) {
		char pg_ctl_path[512];
		snprintf(pg_ctl_path, sizeof(pg_ctl_path), "%s/pg_ctl",
		         env_or_fail("USHER_TEST_PGBIN"));
		const char *argv[32];
		size_t k = 0;
		struct stat st;
		assert_int_equal(stat(data[c], &st), 0);
		if (geteuid() == 0 && st.st_uid != 0) {
			struct passwd *pw = getpwuid(st.st_uid);
			assert_non_null(pw);
			argv[k++] = "/usr/sbin/runuser";
			argv[k++] = "-u";
			argv[k++] = pw->pw_name;
			argv[k++] = "--";
		}
		argv[k++] = pg_ctl_path;
		argv[k++] = "-D";
		argv[k++] = data[c];
		argv[k++] = "-l";
		argv[k++] = log[c];
		argv[k++] = "-w";
		argv[k++] = "-t";
		argv[k++] = "120";
		for (size_t i = 0; args[i] != NULL && k < 29; i++)
			argv[k++] = args[i];
		if (options != NULL) {
			argv[k++] = "-o";
			argv[k++] = options[c];
		}
		argv[k] = NULL;
		char *out = NULL;
		int rc = ut_run((char *const *)argv, NULL, true, &out);
		if (rc != 0)
			fail_msg("pg_ctl %s exited with %d:\n%s", args[0], rc, out);
		free(out);
	}
}

/* --- calls --- */

static us_err call(int daemon, const char *method, const char *actor, const char *key,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type,
                   uint32_t timeout_ms, us_arena *a, ProtobufCMessage **reply)
{
	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts opts = {.url = sys.daemons[daemon].url, .caller = "pg-outage"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		return US_EUNAVAILABLE;
	us_rpc_call_opts o = {.timeout_ms = timeout_ms, .idempotency_key = key, .actor_user_id = actor};
	us_status st;
	ProtobufCMessage *ignored;
	us_err rc = us_rpc_call(c, method, &o, req, type, a, reply ? reply : &ignored, &st);
	us_status_clear(&st);
	us_rpc_client_close(c);
	return rc;
}

static bool retryable(us_err rc)
{
	return rc == US_EUNAVAILABLE || rc == US_EDEADLINE || rc == US_EABORTED;
}

/* Invites emails (n) with key; on success, the number created. */
static us_err invite(char **emails, size_t n, const char *key, uint32_t timeout_ms, us_arena *a,
                     uint32_t *created)
{
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	req.account_id = account;
	req.scope = &org;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.emails = emails;
	req.n_emails = n;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "CreateInvitations", owner, key, &req.base,
	                 &usher__v1__create_invitations_reply__descriptor, timeout_ms, a, &out);
	if (rc == US_OK)
		*created = ((Usher__V1__CreateInvitationsReply *)out)->created;
	return rc;
}

/* The ids of the users with email, from identityd's database, as an SQL list ("NULL" when
 * none): the memberships are in tenancyd's, maybe another cluster. */
static const char *user_ids_of(const char *email)
{
	PGconn *c = ut_db_admin(ut_system_db(&sys, UT_IDENTITY));
	const char *params[] = {email};
	PGresult *res = PQexecParams(c,
	                             "SELECT coalesce(string_agg(quote_literal(id::text), ','),"
	                             " 'NULL') FROM identity.users WHERE email = $1",
	                             1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s", PQresultErrorMessage(res));
	const char *ids = us_arena_strdup(A, PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return ids;
}

/* Waits until nothing is left in an outbox, a queue, a claim or an accept in progress. */
static void settle(void)
{
	int64_t deadline = us_monotonic_ms() + SETTLE_MS;
	while (sql_number("invitation", "SELECT (SELECT count(*) FROM invitation.outbox)"
	                                " + (SELECT count(*) FROM invitation.link_claims)"
	                                " + (SELECT count(*) FROM invitation.invitations WHERE "
	                                "state = 'accepting')") +
	               sql_number("notification", "SELECT count(*) FROM notification.messages"
	                                          " WHERE state = 'queued'") !=
	       0) {
		if (us_monotonic_ms() > deadline)
			fail_msg("the system did not settle in %d s", SETTLE_MS / 1000);
		usleep(100 * 1000);
	}
}

static FILE *report(const char *name)
{
	const char *dir = getenv("USHER_REPORT_DIR");
	if (dir == NULL || dir[0] == '\0')
		return NULL;
	mkdir(dir, 0755);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	return f;
}

/* --- a restart in the middle of a load --- */

enum { BATCHES = 16, PER_BATCH = 3, ACCEPTS = 8, JOINS = 8 };
#define N_OPS (BATCHES + ACCEPTS + JOINS)

typedef struct op {
	int kind;            /* 0 batch, 1 accept, 2 join */
	int index;
	char email[PER_BATCH][96];
	char token[128];
	char key[64];
	int attempts;
	us_err last;         /* the final answer */
	bool as_once;        /* it carried what one success carries */
	bool after_restart;  /* finished after the restart began */
} op;

static op ops[N_OPS];
static atomic_int done_ops;
static atomic_bool restart_begun;
static atomic_int codes_seen[US_ERR_COUNT];
static char link_token[128];
static int64_t load_deadline; /* callers stop retrying then: a failure, not a hang */

static us_err run_op(op *o, us_arena *a)
{
	if (o->kind == 0) {
		char *emails[PER_BATCH] = {o->email[0], o->email[1], o->email[2]};
		uint32_t created = 0;
		us_err rc = invite(emails, PER_BATCH, o->key, 10000, a, &created);
		o->as_once = rc == US_OK && created == PER_BATCH;
		return rc;
	}
	if (o->kind == 1) {
		Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
		profile.name = "Alex Accepter";
		profile.password = PASSWORD;
		Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
		req.token = o->token;
		req.new_user = &profile;
		ProtobufCMessage *out = NULL;
		us_err rc = call(UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
		                 &usher__v1__accept_reply__descriptor, 10000, a, &out);
		Usher__V1__AcceptReply *r = (Usher__V1__AcceptReply *)out;
		o->as_once = rc == US_OK && r->user_created && strcmp(r->user->email, o->email[0]) == 0;
		return rc;
	}
	/* A join: the sign-up, then the confirmation mailed to the address, followed. */
	Usher__V1__LinkNewUser u = USHER__V1__LINK_NEW_USER__INIT;
	u.email = o->email[0];
	u.name = "Jo Joiner";
	u.password = PASSWORD;
	Usher__V1__AcceptLinkRequest req = USHER__V1__ACCEPT_LINK_REQUEST__INIT;
	req.token = link_token;
	req.new_user = &u;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "AcceptLink", NULL, NULL, &req.base,
	                 &usher__v1__accept_link_reply__descriptor, 10000, a, &out);
	Usher__V1__AcceptLinkReply *r = (Usher__V1__AcceptLinkReply *)out;
	if (rc == US_OK && r->awaiting_confirmation) {
		char token[128];
		if (!ut_sink_wait_link(&sink, o->email[0], "Confirm your email address", 'j', 0, 10000,
		                       token, sizeof(token)))
			return US_EDEADLINE;
		Usher__V1__ConfirmLinkJoinRequest creq = USHER__V1__CONFIRM_LINK_JOIN_REQUEST__INIT;
		creq.token = token;
		rc = call(UT_INVITATION, INV "ConfirmLinkJoin", NULL, NULL, &creq.base,
		          &usher__v1__accept_link_reply__descriptor, 10000, a, &out);
		r = (Usher__V1__AcceptLinkReply *)out;
	}
	o->as_once = rc == US_OK && r->membership != NULL && strcmp(r->user->email, o->email[0]) == 0;
	return rc;
}

/* One caller: its operations in turn, each retried (the same request) until it gets an
 * answer that is not "try again". */
static void *caller(void *arg)
{
	int kind = (int)(intptr_t)arg;
	us_arena *a = us_arena_new();
	for (int i = 0; i < N_OPS; i++) {
		op *o = &ops[i];
		if (o->kind != kind)
			continue;
		do {
			o->attempts++;
			o->last = run_op(o, a);
			atomic_fetch_add(&codes_seen[o->last], 1);
			if (retryable(o->last))
				usleep(100 * 1000);
		} while (retryable(o->last) && us_monotonic_ms() < load_deadline);
		o->after_restart = atomic_load(&restart_begun);
		atomic_fetch_add(&done_ops, 1);
	}
	us_arena_free(a);
	return NULL;
}

static void test_postgres_restart_in_the_middle_of_a_load(void **state)
{
	(void)state;
	/* What the load needs: pending invitations to accept, and a link. */
	char *to_accept[ACCEPTS];
	for (int i = 0; i < N_OPS; i++) {
		op *o = &ops[i];
		o->kind = i < BATCHES ? 0 : i < BATCHES + ACCEPTS ? 1 : 2;
		o->index = i;
		for (int k = 0; k < PER_BATCH; k++)
			snprintf(o->email[k], sizeof(o->email[k]), "load%02d.%c@outage.example", i, 'a' + k);
		snprintf(o->key, sizeof(o->key), "restart-load-%d", i);
		if (o->kind == 1)
			to_accept[i - BATCHES] = o->email[0];
	}
	uint32_t created = 0;
	assert_int_equal(invite(to_accept, ACCEPTS, "restart-prepare", 60000, A, &created), US_OK);
	assert_int_equal(created, ACCEPTS);
	for (int i = BATCHES; i < BATCHES + ACCEPTS; i++)
		ut_sink_wait_token(&sink, ops[i].email[0], 0, SETTLE_MS, ops[i].token,
		                   sizeof(ops[i].token));
	Usher__V1__EnableLinkRequest lreq = USHER__V1__ENABLE_LINK_REQUEST__INIT;
	lreq.account_id = account;
	ProtobufCMessage *out;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, INV "EnableLink", owner, ut_key(A), &lreq.base,
	            &usher__v1__link_reply__descriptor, A, &out, &st) != US_OK)
		fail_msg("EnableLink: %s", st.message);
	snprintf(link_token, sizeof(link_token), "%s",
	         strstr(((Usher__V1__LinkReply *)out)->link->url, "/l/") + 3);
	char *link_id = ((Usher__V1__LinkReply *)out)->link->id;

	pthread_t callers[3];
	load_deadline = us_monotonic_ms() + SETTLE_MS;
	for (intptr_t k = 0; k < 3; k++)
		pthread_create(&callers[k], NULL, caller, (void *)k);
	/* A quarter of the way in, Postgres crashes and comes back. */
	int64_t deadline = us_monotonic_ms() + SETTLE_MS;
	while (atomic_load(&done_ops) < N_OPS / 4 && us_monotonic_ms() < deadline)
		usleep(10 * 1000);
	int done_before = atomic_load(&done_ops);
	atomic_store(&restart_begun, true);
	int64_t t0 = us_monotonic_ms();
	const char *restart[] = {"restart", "-m", "immediate", NULL};
	pg_ctl(restart, NULL);
	int64_t restart_ms = us_monotonic_ms() - t0;
	for (int k = 0; k < 3; k++)
		pthread_join(callers[k], NULL);
	settle();
	int64_t settled_ms = us_monotonic_ms() - t0;

	/* Every call got its success, carrying what one success carries. */
	int retried = 0, after = 0;
	for (int i = 0; i < N_OPS; i++) {
		if (ops[i].last != US_OK || !ops[i].as_once)
			fail_msg("operation %d (kind %d) ended with %s after %d attempts", i, ops[i].kind,
			         us_err_name(ops[i].last), ops[i].attempts);
		retried += ops[i].attempts > 1;
		after += ops[i].after_restart;
	}
	/* The restart did come in the middle. */
	assert_true(done_before < N_OPS && after > 0);

	/* Nothing lost or doubled; every email arrived, a duplicate being the same message. */
	long lost = 0, doubled = 0, mails = 0, copies = 0;
	bool identical = true;
	for (int i = 0; i < N_OPS; i++) {
		const op *o = &ops[i];
		for (int k = 0; k < (o->kind == 0 ? PER_BATCH : 1); k++) {
			long want = 1, got;
			if (o->kind != 2) {
				got = sql_number("invitation",
				                 "SELECT count(*) FROM invitation.invitations "
				                 "WHERE email = '%s'",
				                 o->email[k]);
				lost += got < want;
				doubled += got > want;
				long c = 0;
				got = ut_sink_count(&sink, o->email[k], "Invitation", &c, &identical);
				lost += got < want;
				doubled += got > want;
				mails += got;
				copies += c;
			}
			if (o->kind != 0) {
				got = sql_number(
				        "identity",
				        "SELECT count(*) FROM identity.users WHERE email = '%s'",
				        o->email[k]);
				lost += got < want;
				doubled += got > want;
				got = sql_number("tenancy",
				                 "SELECT count(*) FROM tenancy.memberships"
				                 " WHERE account_id = '%s' AND user_id IN (%s)",
				                 account, user_ids_of(o->email[k]));
				lost += got < want;
				doubled += got > want;
			}
			if (o->kind == 2) { /* the confirmation of the address */
				long c = 0;
				got = ut_sink_count(&sink, o->email[k], "Confirm your email address", &c,
				                    &identical);
				lost += got < want;
				doubled += got > want;
				mails += got;
				copies += c;
			}
			if (o->kind == 1) {
				char needle[128];
				long c = 0;
				snprintf(needle, sizeof(needle), "%s accepted", o->email[k]);
				got = ut_sink_count(&sink, OWNER_EMAIL, needle, &c, &identical);
				lost += got < want;
				doubled += got > want;
				mails += got;
				copies += c;
			}
		}
	}
	long uses = sql_number("invitation", "SELECT uses FROM invitation.links WHERE id = '%s'",
	                       link_id);
	print_message("restart (immediate) took %lld ms; %d of %d operations done before it, %d "
	              "retried; settled %lld ms after it began; %ld lost, %ld doubled; %ld emails "
	              "(%ld copies)\n",
	              (long long)restart_ms, done_before, N_OPS, retried, (long long)settled_ms, lost,
	              doubled, mails, copies);
	FILE *f = report("pg_restart.md");
	if (f != NULL) {
		fprintf(f, "| load | done before the crash | retried | answers seen meanwhile | lost | "
		           "doubled | emails (copies) | link uses | restart took | settled after |\n"
		           "|---|---|---|---|---|---|---|---|---|---|\n");
		fprintf(f, "| %d batches of %d, %d accepts, %d link joins | %d of %d | %d | ", BATCHES,
		        PER_BATCH, ACCEPTS, JOINS, done_before, N_OPS, retried);
		for (int c = 0; c < US_ERR_COUNT; c++) {
			if (atomic_load(&codes_seen[c]) > 0)
				fprintf(f, "%s %d ", us_err_name((us_err)c), atomic_load(&codes_seen[c]));
		}
		fprintf(f, "| %ld | %ld | %ld (%ld) | %ld of %d | %.1f s | %.1f s |\n", lost, doubled,
		        mails, copies, uses, JOINS, restart_ms / 1000.0, settled_ms / 1000.0);
		fclose(f);
	}
	assert_int_equal(lost, 0);
	assert_int_equal(doubled, 0);
	assert_true(identical);
	assert_int_equal(uses, JOINS);
}

/* --- a 10 s outage under a light load --- */

#define MAX_CALLS 2000

typedef struct outage_call {
	int64_t start_ms, end_ms;
	us_err rc;
	char email[96];
	char key[64];
	bool read;  /* a ListInvitations, not an invitation */
} outage_call;

static outage_call calls[MAX_CALLS]; /* under calls_mu */
static int n_calls;
static pthread_mutex_t calls_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool load_stop;

static void record(const outage_call *c)
{
	pthread_mutex_lock(&calls_mu);
	if (n_calls < MAX_CALLS)
		calls[n_calls++] = *c;
	pthread_mutex_unlock(&calls_mu);
}

static void *light_load(void *arg)
{
	(void)arg;
	for (int i = 0; !atomic_load(&load_stop) && i < MAX_CALLS / 2; i++) {
		us_arena *a = us_arena_new();
		/* A write: one invitation, its own key. */
		outage_call w = {0};
		snprintf(w.email, sizeof(w.email), "light%04d@outage.example", i);
		snprintf(w.key, sizeof(w.key), "outage-%d", i);
		char *email = w.email;
		uint32_t created = 0;
		w.start_ms = us_monotonic_ms();
		w.rc = invite(&email, 1, w.key, 5000, a, &created);
		w.end_ms = us_monotonic_ms();
		record(&w);
		/* And a read. */
		outage_call r = {.read = true};
		Usher__V1__ListInvitationsRequest req = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
		req.account_id = account;
		req.page_size = 5;
		r.start_ms = us_monotonic_ms();
		r.rc = call(UT_INVITATION, INV "ListInvitations", owner, NULL, &req.base,
		            &usher__v1__list_invitations_reply__descriptor, 5000, a, NULL);
		r.end_ms = us_monotonic_ms();
		record(&r);
		us_arena_free(a);
		usleep(100 * 1000); /* light: about five calls a second */
	}
	return NULL;
}

/* The writes that succeeded, started after since_ms; *first_ms (may be NULL) gets how long
 * after since_ms the first of them ended. */
static int writes_ok_since(int64_t since_ms, int64_t *first_ms)
{
	int n = 0;
	pthread_mutex_lock(&calls_mu);
	for (int i = 0; i < n_calls; i++) {
		const outage_call *c = &calls[i];
		if (c->read || c->rc != US_OK || c->start_ms < since_ms)
			continue;
		if (first_ms != NULL && (n == 0 || c->end_ms - since_ms < *first_ms))
			*first_ms = c->end_ms - since_ms;
		n++;
	}
	pthread_mutex_unlock(&calls_mu);
	return n;
}

static void wait_writes_ok_since(int64_t since_ms, int n, const char *what)
{
	int64_t deadline = us_monotonic_ms() + SETTLE_MS;
	while (writes_ok_since(since_ms, NULL) < n) {
		if (us_monotonic_ms() > deadline)
			fail_msg("no successful call %s within %d s", what, SETTLE_MS / 1000);
		usleep(20 * 1000);
	}
}

static int cmp_ms(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_a_ten_second_outage_under_light_load(void **state)
{
	(void)state;
	pid_t pids[UT_N_DAEMONS];
	for (int i = 0; i < UT_N_DAEMONS; i++)
		pids[i] = sys.daemons[i].pid;
	const char *data[4], *log[4];
	char *options[4] = {NULL};
	for (int c = 0; c < clusters(data, log); c++)
		options[c] = start_options(data[c]);
	pthread_t t;
	pthread_create(&t, NULL, light_load, NULL);
	wait_writes_ok_since(0, 5, "before the outage");

	const char *stop[] = {"stop", "-m", "fast", NULL};
	int64_t down_begin = us_monotonic_ms();
	pg_ctl(stop, NULL);
	int64_t down = us_monotonic_ms();
	/* Every daemon's /readyz turns 503: its own database is gone, or (the gateway) its
	 * peers are not ready. Measured, not judged (checks run every 500 ms). */
	int64_t unready_ms[UT_N_DAEMONS];
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		if (ut_admin_wait_ready(&sys.daemons[i], false, OUTAGE_MS) < 0)
			fail_msg("/readyz of %s stayed 200 with Postgres down", sys.daemons[i].name);
		unready_ms[i] = us_monotonic_ms() - down;
	}
	int64_t outage_left = OUTAGE_MS - (us_monotonic_ms() - down);
	if (outage_left > 0)
		usleep((useconds_t)outage_left * 1000); /* the outage itself */
	int64_t up_begin = us_monotonic_ms();
	const char *start[] = {"start", NULL};
	pg_ctl(start, options);
	int64_t up = us_monotonic_ms();
	int64_t ready_again_ms = 0;
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		if (ut_admin_wait_ready(&sys.daemons[i], true, SETTLE_MS) < 0)
			fail_msg("/readyz of %s stayed 503 after Postgres came back", sys.daemons[i].name);
		ready_again_ms = us_monotonic_ms() - up;
	}
	print_message("/readyz 503 after Postgres stopped: identityd %lld ms, tenancyd %lld ms, "
	              "invitationd %lld ms, notificationd %lld ms, gatewayd %lld ms; all 200 again "
	              "%lld ms after it was back\n",
	              (long long)unready_ms[UT_IDENTITY], (long long)unready_ms[UT_TENANCY],
	              (long long)unready_ms[UT_INVITATION], (long long)unready_ms[UT_NOTIFICATION],
	              (long long)unready_ms[UT_GATEWAY], (long long)ready_again_ms);
	/* Back: the daemons, never restarted, serve writes again by themselves. */
	wait_writes_ok_since(up, 5, "after Postgres came back");
	atomic_store(&load_stop, true);
	pthread_join(t, NULL);
	int64_t reconnected_ms = 0;
	writes_ok_since(up, &reconnected_ms);
	for (int c = 0; c < 4; c++)
		free(options[c]);
	for (int i = 0; i < UT_N_DAEMONS; i++)
		assert_int_equal(sys.daemons[i].pid, pids[i]);

	/* The calls made while it was down were answered UNAVAILABLE, not left to their
	 * deadline. */
	int total = n_calls, during = 0, unavailable = 0;
	int64_t latencies[MAX_CALLS];
	for (int i = 0; i < total; i++) {
		const outage_call *c = &calls[i];
		if (c->start_ms < down || c->end_ms > up_begin)
			continue;
		latencies[during++] = c->end_ms - c->start_ms;
		if (c->rc == US_EUNAVAILABLE)
			unavailable++;
		else
			fail_msg("a call during the outage got %s after %lld ms", us_err_name(c->rc),
			         (long long)(c->end_ms - c->start_ms));
	}
	assert_true(during > 0);
	qsort(latencies, (size_t)during, sizeof(latencies[0]), cmp_ms);

	/* Nothing written is lost: each invitation a call was told it made is there once;
	 * each one that failed is made, once, by retrying it with its key. */
	int failed_writes = 0;
	for (int i = 0; i < total; i++) {
		outage_call *c = &calls[i];
		if (c->read)
			continue;
		if (c->rc != US_OK) {
			failed_writes++;
			char *email = c->email;
			uint32_t created = 0;
			us_err rc;
			int64_t deadline = us_monotonic_ms() + SETTLE_MS;
			while (retryable(rc = invite(&email, 1, c->key, 10000, A, &created)) &&
			       us_monotonic_ms() < deadline)
				usleep(100 * 1000);
			if (rc != US_OK || created != 1)
				fail_msg("retrying %s after the outage got %s", c->email, us_err_name(rc));
		}
	}
	settle();
	long missing_mail = 0;
	for (int i = 0; i < total; i++) {
		if (calls[i].read)
			continue;
		assert_int_equal(sql_number("invitation",
		                            "SELECT count(*) FROM invitation.invitations"
		                            " WHERE email = '%s'",
		                            calls[i].email),
		                 1);
		long copies = 0;
		bool identical = true;
		missing_mail += ut_sink_count(&sink, calls[i].email, "Invitation", &copies, &identical) != 1;
		assert_true(identical);
	}
	assert_int_equal(missing_mail, 0);
	print_message("%d calls while Postgres was down (%lld ms): all UNAVAILABLE, median %lld ms, "
	              "slowest %lld ms; writes again %lld ms after it was back; %d failed writes "
	              "retried, each made once\n",
	              during, (long long)(up_begin - down), (long long)latencies[during / 2],
	              (long long)latencies[during - 1], (long long)reconnected_ms, failed_writes);
	FILE *f = report("pg_outage.md");
	if (f != NULL) {
		fprintf(f, "| Postgres down | calls meanwhile | answered | median | slowest | call "
		           "deadline | writes again after it was back | failed writes retried | lost | "
		           "emails missing |\n|---|---|---|---|---|---|---|---|---|---|\n");
		fprintf(f, "| %.1f s (stop took %.1f s) | %d | UNAVAILABLE %d | %lld ms | %lld ms | 5 s "
		           "| %.1f s | %d, each made once | 0 | %ld |\n",
		        (up_begin - down) / 1000.0, (down - down_begin) / 1000.0, during, unavailable,
		        (long long)latencies[during / 2], (long long)latencies[during - 1],
		        reconnected_ms / 1000.0, failed_writes, missing_mail);
		fclose(f);
	}
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_sink_start(&sink, NULL);
	ut_system_init(&sys, "pg_outage");
	static char smtp[160];
	char url[128];
	ut_sink_url(&sink, url, sizeof(url));
	snprintf(smtp, sizeof(smtp), "SMTP_URL=%s", url);
	const char *env[] = {
		smtp, "MAIL_FROM=Usher <invites@usher.test>", "RECOVERY_INTERVAL_MS=100",
		"OUTBOX_POLL_MS=100", "DELIVERY_POLL_MS=100", "RETRY_BASE_MS=100", "RETRY_MAX_MS=300",
		"RECLAIM_INTERVAL_S=1", NULL,
	};
	for (size_t i = 0; env[i] != NULL; i++)
		sys.extra_env[i] = env[i];
	/* The test cluster runs with synchronous_commit off (speed); a crash of Postgres then
	 * loses the last commits it had acknowledged, by design. This database keeps its
	 * promises, as a production one does. */
	for (int i = UT_IDENTITY; i <= UT_NOTIFICATION; i++) {
		char sql[256];
		snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" SET synchronous_commit = on",
		         ut_system_db(&sys, i)->name);
		ut_db_admin_exec(ut_system_db(&sys, i), sql);
	}
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, OWNER_EMAIL, "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Outage Inc", "texting");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	ut_sink_teardown(&sink);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postgres_restart_in_the_middle_of_a_load),
		cmocka_unit_test(test_a_ten_second_outage_under_light_load),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
