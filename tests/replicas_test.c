/* Replicas (issue 17): three processes of every daemon, a real SMTP sink.
 *
 * Calls, with three usher-identityd replicas behind one client given their addresses as a
 * list:
 * - calls spread over every replica that runs (counted by each replica's own /metrics,
 *   usher_rpc_requests_total);
 * - one replica killed (SIGKILL) while three threads call without pause: every call still
 *   succeeds (a call in flight on the dead connection is sent again to another replica,
 *   with its idempotency key: a user created twice would fail it with ALREADY_EXISTS), and
 *   the calls spread over the two left;
 * - usherctl, given the list, reaches a replica that answers;
 * - the replica restarted: calls reach it again;
 * - every call made exactly one user: none lost, none doubled.
 *
 * Background work, with three replicas of each daemon relaying the outbox, queueing and
 * delivering: 300 invitations in three batches give exactly one email each at the sink
 * (no copy), and the deliveries spread over the notificationd replicas. */
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

#define REPLICAS 3
#define CALL_MS 30000   /* a call's deadline, across a replica's death */
#define WAIT_MS 120000  /* for a condition on a loaded machine */
#define THREADS 3
#define METHOD "usher.v1.IdentityService/CreateUser"

static ut_system sys;
static ut_sink sink;
static us_rpc_client *client; /* given every replica's address */
static atomic_long made;      /* users the calls created */
static atomic_long failed;    /* calls that did not succeed */
static atomic_bool stop;
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_failure[400]; /* under failure_lock */

/* The sum of replica r's /metrics samples named name whose labels hold each of the
 * NULL-terminated label strings; -1 when it does not answer (it is down). */
static long metric(int which, int r, const char *name, const char *const *labels)
{
	char *body = NULL;
	long status = ut_admin_get(ut_replica(&sys, which, r), "/metrics", &body);
	if (status != 200) {
		free(body);
		return -1;
	}
	long sum = 0;
	size_t len = strlen(name);
	for (char *line = body; line != NULL && *line != '\0';) {
		char *end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		bool match = strncmp(line, name, len) == 0 && (line[len] == '{' || line[len] == ' ');
		for (size_t i = 0; match && labels[i] != NULL; i++)
			match = strstr(line, labels[i]) != NULL;
		if (match)
			sum += strtol(strrchr(line, ' ') + 1, NULL, 10);
		line = end != NULL ? end + 1 : NULL;
	}
	free(body);
	return sum;
}

/* The CreateUser calls replica r of usher-identityd has answered OK; -1: it is down. */
static long handled(int r)
{
	return metric(UT_IDENTITY, r, "usher_rpc_requests_total",
	              (const char *[]){"method=\"" METHOD "\"", "code=\"OK\"", NULL});
}

/* Creates one user with a fresh address and idempotency key; true when it succeeded. */
static bool create_one(void)
{
	static atomic_long serial;
	us_arena *a = us_arena_new();
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = us_arena_printf(a, "replica-%ld@replicas.example", atomic_fetch_add(&serial, 1));
	req.name = "Rita Replica";
	req.password = "correct horse battery";
	req.email_verified = true;
	us_rpc_call_opts opts = {.timeout_ms = CALL_MS, .idempotency_key = ut_key(a)};
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = us_rpc_call(client, METHOD, &opts, &req.base,
	                        &usher__v1__create_user_reply__descriptor, a, &reply, &st);
	if (rc == US_OK) {
		atomic_fetch_add(&made, 1);
	} else {
		atomic_fetch_add(&failed, 1);
		pthread_mutex_lock(&failure_lock);
		snprintf(last_failure, sizeof(last_failure), "%s: %s", us_err_name(rc), st.message);
		pthread_mutex_unlock(&failure_lock);
	}
	us_status_clear(&st);
	us_arena_free(a);
	return rc == US_OK;
}

static void *caller_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		create_one();
	return NULL;
}

/* Makes calls until each replica in want (true: must be reached) has answered at least
 * one more than in before; returns the calls made. */
static long call_until_reached(const long before[REPLICAS], const bool want[REPLICAS])
{
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	long calls = 0;
	for (;;) {
		for (int i = 0; i < 10; i++, calls++)
			assert_true(create_one());
		bool all = true;
		for (int r = 0; r < REPLICAS; r++)
			all = all && (!want[r] || handled(r) > before[r]);
		if (all)
			return calls;
		if (us_monotonic_ms() > deadline)
			fail_msg("after %ld calls some replica got none", calls);
	}
}

static void test_spread_fail_over_and_return(void **state)
{
	(void)state;
	long before[REPLICAS];
	for (int r = 0; r < REPLICAS; r++)
		before[r] = handled(r);

	/* Spread: 30 calls in a row, each replica gets some. */
	for (int i = 0; i < 30; i++)
		assert_true(create_one());
	long total = 0;
	for (int r = 0; r < REPLICAS; r++) {
		long got = handled(r) - before[r];
		print_message("replica %d answered %ld of 30 calls\n", r, got);
		assert_true(got > 0);
		total += got;
	}
	assert_int_equal(total, 30);

	/* One dies while three threads call. */
	pthread_t threads[THREADS];
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, caller_main, NULL), 0);
	long at_kill = atomic_load(&made);
	while (atomic_load(&made) < at_kill + 20)
		usleep(10 * 1000);
	assert_int_not_equal(ut_replica_signal(&sys, UT_IDENTITY, 1, SIGKILL, WAIT_MS), -1);
	long after_kill = atomic_load(&made);
	while (atomic_load(&made) < after_kill + 30 && atomic_load(&failed) == 0)
		usleep(10 * 1000);
	atomic_store(&stop, true);
	for (int t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);
	if (atomic_load(&failed) != 0)
		fail_msg("%ld calls failed after a replica died; the last: %s", atomic_load(&failed),
		         last_failure);

	/* The two left share the calls. */
	for (int r = 0; r < REPLICAS; r++)
		before[r] = handled(r);
	assert_int_equal(before[1], -1);
	long calls = call_until_reached(before, (bool[]){true, false, true});
	print_message("with replica 1 down, %ld calls reached both others\n", calls);

	/* A tool given the list (usherctl, IDENTITY_RPC_URL) reaches a replica that answers. */
	ut_system_export_urls(&sys);
	char bin[512], *out = NULL;
	ut_bin("usherctl", bin, sizeof(bin));
	char *health[] = {bin, "health", "identity", NULL};
	assert_int_equal(ut_run(health, NULL, false, &out), 0);
	assert_non_null(strstr(out, "SERVING"));
	free(out);

	/* Back: it gets calls again. */
	ut_replica_start(&sys, UT_IDENTITY, 1);
	for (int r = 0; r < REPLICAS; r++)
		before[r] = handled(r);
	calls = call_until_reached(before, (bool[]){true, true, true});
	print_message("replica 1 restarted: %ld calls reached all three\n", calls);

	/* Every success made one user, none twice. */
	assert_int_equal(atomic_load(&failed), 0);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_IDENTITY), "SELECT count(*) FROM identity.users"
	                                       " WHERE email LIKE 'replica-%%@replicas.example'"),
	                 atomic_load(&made));
}

#define BATCHES 3
#define BATCH 100

static void test_background_work_once_each_and_spread(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char *owner = ut_create_user(&sys, a, "owner@bg.example", "Olivia Owner", "correct horse battery");
	char *account = ut_create_account(&sys, a, owner, "Background", "");
	long before[REPLICAS];
	for (int r = 0; r < REPLICAS; r++)
		before[r] = metric(UT_NOTIFICATION, r, "usher_email_delivered_total", (const char *[]){NULL});

	char *emails[BATCHES][BATCH];
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < BATCH; i++)
			emails[b][i] = us_arena_printf(a, "bg-%d-%d@bg.example", b, i);
		Usher__V1__CreateInvitationsReply *reply = NULL;
		us_status st;
		us_err rc = ut_invite(&sys, a, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL,
		                      (const char *const *)emails[b], BATCH, &reply, &st);
		if (rc != US_OK)
			fail_msg("CreateInvitations: %s: %s", us_err_name(rc), st.message);
		us_status_clear(&st);
		assert_int_equal(reply->created, BATCH);
	}

	/* Every message delivered (none queued), then each address's email counted. */
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	while (ut_db_number(ut_system_db(&sys, UT_NOTIFICATION), "SELECT count(*) FROM notification.messages"
	                             " WHERE state = 'sent' AND recipient LIKE 'bg-%%'") <
	               BATCHES * BATCH ||
	       ut_db_number(ut_system_db(&sys, UT_INVITATION), "SELECT count(*) FROM invitation.outbox") > 0) {
		if (us_monotonic_ms() > deadline)
			fail_msg("the emails were not all delivered in time");
		usleep(100 * 1000);
	}
	assert_true(ut_sink_wait(&sink, BATCHES * BATCH, WAIT_MS) >= BATCHES * BATCH);
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < BATCH; i++) {
			long copies = 0;
			bool identical = true;
			long distinct = ut_sink_count(&sink, emails[b][i], "Invitation", &copies, &identical);
			if (distinct != 1 || copies != 1)
				fail_msg("%s got %ld emails (%ld copies)", emails[b][i], distinct, copies);
		}
	}
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION), "SELECT count(*) FROM notification.messages"
	                                       " WHERE recipient LIKE 'bg-%%'"),
	                 BATCHES * BATCH);

	int delivering = 0;
	for (int r = 0; r < REPLICAS; r++) {
		long sent = metric(UT_NOTIFICATION, r, "usher_email_delivered_total",
		                   (const char *[]){NULL}) - before[r];
		print_message("usher-notificationd replica %d delivered %ld of %d emails\n", r, sent,
		              BATCHES * BATCH);
		delivering += sent > 0;
	}
	assert_true(delivering >= 2);
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	ut_sink_start(&sink, NULL);
	ut_system_init(&sys, "replicas");
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
	char urls[UT_REPLICAS_MAX * 160], err[256];
	ut_system_urls(&sys, UT_IDENTITY, urls, sizeof(urls));
	us_rpc_client_opts opts = {.url = urls, .caller = "test", .wait_for_server = true};
	assert_int_equal(us_rpc_client_open(&opts, &client, err, sizeof(err)), US_OK);
	/* Every replica connected, so the first calls can reach them all. */
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	while (us_rpc_client_connections(client) < REPLICAS) {
		if (us_monotonic_ms() > deadline)
			fail_msg("the client connected to %d of %d replicas",
			         us_rpc_client_connections(client), REPLICAS);
		usleep(10 * 1000);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_rpc_client_close(client);
	ut_system_teardown(&sys);
	ut_sink_teardown(&sink);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_background_work_once_each_and_spread),
		cmocka_unit_test(test_spread_fail_over_and_return),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
