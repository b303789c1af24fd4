/* The soak (issue 17): three replicas of every daemon, a real SMTP sink, and a few client
 * threads inviting fresh addresses and accepting each invitation from the link its email
 * carries, without pause. Meanwhile one replica of each daemon in turn is killed (SIGKILL)
 * and restarted. Then, once the system has settled:
 *
 * - every address invited has exactly one invitation, one user and one membership, and
 *   exactly one invitation email arrived (one Message-ID; a copy re-sent after a kill
 *   mid-delivery must be byte-identical, and is reported);
 * - every call that failed succeeded on its retry (same idempotency key, same token);
 * - the emails were delivered by more than one notificationd replica (the work spreads);
 * - the accepts per second, second by second, are printed: throughput comes back after
 *   each kill (a report, not a timed assertion).
 *
 * USHER_SOAK_SECONDS sets how long the load runs (default 20: the short run in ctest;
 * `./usher soak [SECONDS]` runs a long one). */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"

#define INV "usher.v1.InvitationService/"
#define REPLICAS 3
#define THREADS 3
#define CALL_MS 30000     /* one attempt's deadline, across a replica's death */
#define ATTEMPTS 5        /* a caller's attempts at one call */
#define MAIL_MS 120000    /* for an invitation email, across a notificationd kill */
#define SETTLE_MS 180000
#define MAX_INVITEES 20000
#define MAX_SECONDS 86400

static ut_system sys;
static ut_sink sink;
static us_arena *A;
static char *owner, *account;
static us_rpc_client *invitations; /* every usher-invitationd replica */

static atomic_bool stop;
static atomic_long n_invitees;
static char invitees[MAX_INVITEES][64];
static atomic_long accepted, retried_ok, failed_for_good;
static pthread_mutex_t problem_lock = PTHREAD_MUTEX_INITIALIZER;
static char problem[600];

static void note_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_problem(const char *fmt, ...)
{
	pthread_mutex_lock(&problem_lock);
	if (problem[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(problem, sizeof(problem), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&problem_lock);
}

/* One call, tried up to ATTEMPTS times with the same request and key; a failure that a
 * retry fixes is counted, one no retry fixes is a problem. */
static us_err call_with_retries(const char *method, const char *actor, const char *key,
                                const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type,
                                us_arena *a, ProtobufCMessage **reply)
{
	us_err rc = US_EUNKNOWN;
	char first[400] = "";
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		us_rpc_call_opts opts = {.timeout_ms = CALL_MS, .idempotency_key = key,
		                         .actor_user_id = actor};
		us_status st;
		rc = us_rpc_call(invitations, method, &opts, req, type, a, reply, &st);
		if (rc != US_OK && first[0] == '\0')
			snprintf(first, sizeof(first), "%s: %s", us_err_name(rc), st.message);
		us_status_clear(&st);
		if (rc == US_OK) {
			if (attempt > 0) {
				atomic_fetch_add(&retried_ok, 1);
				print_message("%s failed (%s), its retry succeeded\n", method, first);
			}
			return rc;
		}
		if (rc != US_EUNAVAILABLE && rc != US_EDEADLINE && rc != US_EINTERNAL)
			break; /* an answer, not an outage: a retry would not change it */
		usleep(200 * 1000);
	}
	atomic_fetch_add(&failed_for_good, 1);
	note_problem("%s failed for good: %s", method, first);
	return rc;
}

/* Invites one fresh address, waits for its email and accepts as a new user. */
static void invite_and_accept(int thread, long n)
{
	us_arena *a = us_arena_new();
	long slot = atomic_fetch_add(&n_invitees, 1);
	if (slot >= MAX_INVITEES) {
		atomic_store(&stop, true);
		us_arena_free(a);
		return;
	}
	char *email = invitees[slot];
	snprintf(email, sizeof(invitees[slot]), "soak-%d-%ld@soak.example", thread, n);

	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	req.account_id = account;
	req.scope = &org;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.emails = &email;
	req.n_emails = 1;
	ProtobufCMessage *out = NULL;
	if (call_with_retries(INV "CreateInvitations", owner, ut_key(a), &req.base,
	                      &usher__v1__create_invitations_reply__descriptor, a, &out) != US_OK) {
		us_arena_free(a);
		return;
	}
	char token[256];
	if (!ut_sink_wait_link(&sink, email, "Invitation", 'i', 0, MAIL_MS, token, sizeof(token))) {
		note_problem("no invitation email to %s", email);
		us_arena_free(a);
		return;
	}
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = "Sam Soak";
	profile.password = "correct horse battery";
	Usher__V1__AcceptRequest accept = USHER__V1__ACCEPT_REQUEST__INIT;
	accept.token = token;
	accept.new_user = &profile;
	if (call_with_retries(INV "Accept", NULL, NULL, &accept.base,
	                      &usher__v1__accept_reply__descriptor, a, &out) == US_OK)
		atomic_fetch_add(&accepted, 1);
	us_arena_free(a);
}

static void *client_main(void *arg)
{
	int thread = (int)(intptr_t)arg;
	for (long n = 0; !atomic_load(&stop); n++)
		invite_and_accept(thread, n);
	return NULL;
}

/* A counter's sum over the lines of replica r's /metrics that start with name; -1 when
 * it does not answer. */
static long metric(int which, int r, const char *name)
{
	char *body = NULL;
	if (ut_admin_get(ut_replica(&sys, which, r), "/metrics", &body) != 200) {
		free(body);
		return -1;
	}
	long sum = 0;
	size_t len = strlen(name);
	for (char *line = body; line != NULL && *line != '\0';) {
		char *end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		if (strncmp(line, name, len) == 0 && (line[len] == '{' || line[len] == ' '))
			sum += strtol(strrchr(line, ' ') + 1, NULL, 10);
		line = end != NULL ? end + 1 : NULL;
	}
	free(body);
	return sum;
}

static int soak_seconds(void)
{
	const char *s = getenv("USHER_SOAK_SECONDS");
	long v = s != NULL ? strtol(s, NULL, 10) : 20;
	return v >= 5 && v <= MAX_SECONDS ? (int)v : 20;
}

/* Sleeps ms, printing the accepts of each second. */
static void watch(int64_t ms, long *last, int64_t *second)
{
	int64_t until = us_monotonic_ms() + ms;
	while (us_monotonic_ms() < until) {
		usleep(1000 * 1000);
		long now = atomic_load(&accepted);
		print_message("t=%3llds accepts/s %ld\n", (long long)++*second, now - *last);
		*last = now;
	}
}

static void test_soak(void **state)
{
	(void)state;
	int seconds = soak_seconds();
	pthread_t threads[THREADS];
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, client_main, (void *)(intptr_t)t), 0);

	/* Each daemon in turn: one replica killed, then restarted. */
	int64_t slice = (int64_t)seconds * 1000 / (2 * UT_N_DAEMONS + 1);
	long last = 0;
	int64_t second = 0;
	watch(slice, &last, &second);
	for (int which = 0; which < UT_N_DAEMONS; which++) {
		int r = which % REPLICAS;
		print_message("kill -9 usher-%sd replica %d\n", sys.daemons[which].name, r);
		assert_int_not_equal(ut_replica_signal(&sys, which, r, SIGKILL, 60000), -1);
		watch(slice, &last, &second);
		print_message("restart usher-%sd replica %d\n", sys.daemons[which].name, r);
		ut_replica_start(&sys, which, r);
		watch(slice, &last, &second);
	}
	atomic_store(&stop, true);
	for (int t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);

	long n = atomic_load(&n_invitees);
	if (n > MAX_INVITEES)
		n = MAX_INVITEES;
	print_message("%ld addresses invited, %ld accepted, %ld calls failed and succeeded on a "
	              "retry, %ld failed for good\n",
	              n, atomic_load(&accepted), atomic_load(&retried_ok),
	              atomic_load(&failed_for_good));
	if (problem[0] != '\0')
		fail_msg("%s", problem);
	assert_int_equal(atomic_load(&failed_for_good), 0);
	assert_true(n > 0);
	assert_int_equal(atomic_load(&accepted), n);

	/* Settled: one invitation (accepted), one user, one membership per address. */
	int64_t deadline = us_monotonic_ms() + SETTLE_MS;
	long members;
	/* The account's members are the owner and the soak's invitees (their users are in
	 * identity's database, possibly another cluster: no join). */
	while ((members = ut_db_number(ut_system_db(&sys, UT_TENANCY),
	                               "SELECT count(*) - 1 FROM tenancy.memberships"
	                               " WHERE account_id = '%s'",
	                               account)) != n &&
	       us_monotonic_ms() < deadline)
		usleep(100 * 1000);
	assert_int_equal(members, n);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_IDENTITY), "SELECT count(*) FROM identity.users"
	                                       " WHERE email LIKE 'soak-%%'"),
	                 n);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION), "SELECT count(*) FROM invitation.invitations"
	                                       " WHERE account_id = '%s' AND email LIKE 'soak-%%'"
	                                       " AND state = 'accepted'",
	                                       account),
	                 n);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION), "SELECT count(*) FROM invitation.invitations"
	                                       " WHERE account_id = '%s' AND email LIKE 'soak-%%'",
	                                       account),
	                 n);

	/* Exactly one invitation email each. */
	long resent = 0;
	for (long i = 0; i < n; i++) {
		long copies = 0;
		bool identical = true;
		long distinct = ut_sink_count(&sink, invitees[i], "Invitation", &copies, &identical);
		if (distinct != 1 || !identical)
			fail_msg("%s got %ld distinct invitation emails (%ld copies%s)", invitees[i],
			         distinct, copies, identical ? "" : ", not identical");
		resent += copies - 1;
	}
	print_message("invitation emails: %ld, one each; %ld identical copies re-sent after a kill\n",
	              n, resent);

	/* The deliveries spread over the notificationd replicas (counted since each started). */
	int delivering = 0;
	for (int r = 0; r < REPLICAS; r++) {
		long sent = metric(UT_NOTIFICATION, r, "usher_email_delivered_total");
		print_message("usher-notificationd replica %d delivered %ld emails since it started\n",
		              r, sent);
		delivering += sent > 0;
	}
	assert_true(delivering >= 2);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_sink_start(&sink, NULL);
	ut_system_init(&sys, "soak");
	for (int which = 0; which < UT_N_DAEMONS; which++)
		ut_system_replicas(&sys, which, REPLICAS);
	static char smtp[160];
	char url[128];
	ut_sink_url(&sink, url, sizeof(url));
	snprintf(smtp, sizeof(smtp), "SMTP_URL=%s", url);
	const char *env[] = {smtp, "MAIL_FROM=Usher <invites@usher.test>", "OUTBOX_POLL_MS=100",
	                     "DELIVERY_POLL_MS=100", "RPC_WORKERS=2", NULL};
	for (size_t i = 0; env[i] != NULL; i++)
		sys.extra_env[i] = env[i];
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "owner@soak.example", "Olivia Owner", "correct horse battery");
	account = ut_create_account(&sys, A, owner, "Soak", "");
	char urls[UT_REPLICAS_MAX * 160], err[256];
	ut_system_urls(&sys, UT_INVITATION, urls, sizeof(urls));
	us_rpc_client_opts opts = {.url = urls, .caller = "soak", .wait_for_server = true};
	assert_int_equal(us_rpc_client_open(&opts, &invitations, err, sizeof(err)), US_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_rpc_client_close(invitations);
	ut_system_teardown(&sys);
	ut_sink_teardown(&sink);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soak),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
