/* replicas: the system with 1, then 2, then 3 replicas of every daemon (a fresh system
 * each, all on this machine), and for each: accepts per second by existing users from 8
 * client threads, and single-address CreateInvitations per second from 8 threads, each
 * client given every invitationd replica's address. The floor, measured in each system's
 * run: bare durable commits per second from 8 connections.
 * Usage: replicas_bench RESULT.json   (BENCH_REPLICAS_CALLS: accepts and invitations per
 * thread, default 100) */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accept_load.h"
#include "common/clock.h"
#include "floors.h"
#include "harness.h"
#include "invite_call.h"
#include "result.h"

#define THREADS 8
#define MAX_REPLICAS 3
#define PASSWORD "correct horse battery"

static const char *result_path;
static int calls; /* per thread */
/* Each replica count's system; started counts those initialised, for the group teardown
 * to clean up after a failure. */
static ut_system systems[MAX_REPLICAS];
static int started;

typedef struct measured {
	double accepts_per_s, invitations_per_s, commits_per_s;
	int failures;
} measured;

typedef struct inviter {
	const char *url, *owner, *account;
	int index;
	int failures;
	char last_error[US_STATUS_MESSAGE_MAX];
} inviter;

static void *invite_many(void *arg)
{
	inviter *in = arg;
	us_rpc_client *rpc;
	us_rpc_client_opts opts = {.url = in->url, .caller = "replicas_bench"};
	if (us_rpc_client_open(&opts, &rpc, in->last_error, sizeof(in->last_error)) != US_OK) {
		in->failures = calls;
		return NULL;
	}
	for (int i = 0; i < calls; i++) {
		char email[96];
		snprintf(email, sizeof(email), "t%d.n%d@invitees.example", in->index, i);
		us_status st;
		if (bench_invite_one(rpc, in->owner, in->account, email, &st) != US_OK) {
			in->failures++;
			snprintf(in->last_error, sizeof(in->last_error), "%s", st.message);
		}
	}
	us_rpc_client_close(rpc);
	return NULL;
}

/* Invitations per second: THREADS threads, each inviting calls new addresses one call at a
 * time into the same account. */
static double invitations_per_second(ut_system *sys, const char *url, int *failures)
{
	us_arena *a = us_arena_new();
	char *owner = ut_create_user(sys, a, "invite.owner@acme.example", "Owner", PASSWORD);
	char *account = ut_create_account(sys, a, owner, "Invite Co", "");
	inviter in[THREADS];
	pthread_t threads[THREADS];
	int64_t t0 = us_monotonic_us();
	for (int i = 0; i < THREADS; i++) {
		in[i] = (inviter){.url = url, .owner = owner, .account = account, .index = i};
		pthread_create(&threads[i], NULL, invite_many, &in[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	double seconds = (double)(us_monotonic_us() - t0) / 1e6;
	for (int i = 0; i < THREADS; i++) {
		*failures += in[i].failures;
		if (in[i].failures > 0)
			printf("failed invitations on thread %d: %d (last: %s)\n", i, in[i].failures,
			       in[i].last_error);
	}
	us_arena_free(a);
	return THREADS * calls / seconds;
}

/* A fresh system with n replicas of every daemon: its rates and the floor. */
static void measure(int n, measured *out)
{
	ut_system *sys = &systems[n - 1];
	char prefix[32], spool[200], url[UT_REPLICAS_MAX * 160];
	snprintf(prefix, sizeof(prefix), "replicas_bench_%d", n);
	ut_system_init(sys, prefix);
	started = n;
	snprintf(spool, sizeof(spool), "%s/mail", sys->dir);
	sys->extra_env[0] = getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "LOG_LEVEL=warn";
	sys->extra_env[1] = "RPC_WORKERS=16";
	for (int d = 0; d < UT_N_DAEMONS; d++)
		ut_system_replicas(sys, d, n);
	ut_system_start_all(sys);
	ut_system_urls(sys, UT_INVITATION, url, sizeof(url));

	accept_client clients[THREADS];
	accept_load_prepare(sys, spool, clients, THREADS, calls);
	double seconds = accept_load_parallel(url, clients, THREADS);
	*out = (measured){.accepts_per_s = THREADS * calls / seconds};
	for (int i = 0; i < THREADS; i++)
		out->failures += clients[i].failures;
	accept_load_free(clients, THREADS);

	out->invitations_per_s = invitations_per_second(sys, url, &out->failures);

	PGconn *conns[THREADS];
	for (int i = 0; i < THREADS; i++)
		conns[i] = ut_db_admin(ut_system_db(sys, UT_INVITATION));
	out->commits_per_s = bench_floor_commit_rate(conns, THREADS, 250);
	for (int i = 0; i < THREADS; i++)
		PQfinish(conns[i]);
	ut_system_teardown(sys);
}

static void bench(void **state)
{
	(void)state;
	const char *count = getenv("BENCH_REPLICAS_CALLS");
	calls = count != NULL ? atoi(count) : 100;
	if (calls < 1 || calls > 10000)
		fail_msg("BENCH_REPLICAS_CALLS must be between 1 and 10000");
	measured m[MAX_REPLICAS];
	for (int n = 1; n <= MAX_REPLICAS; n++)
		measure(n, &m[n - 1]);

	int failures = 0;
	printf("%-10s %14s %16s %22s\n", "replicas", "accepts/s", "invitations/s",
	       "floor: commits/s, 8");
	for (int n = 1; n <= MAX_REPLICAS; n++) {
		printf("%-10d %14.0f %16.0f %22.0f\n", n, m[n - 1].accepts_per_s,
		       m[n - 1].invitations_per_s, m[n - 1].commits_per_s);
		failures += m[n - 1].failures;
	}
	printf("3 replicas against 1: accepts %.2fx, invitations %.2fx\n",
	       m[2].accepts_per_s / m[0].accepts_per_s,
	       m[2].invitations_per_s / m[0].invitations_per_s);
	printf("failed calls: %d\n", failures);

	bench_result *r = bench_result_new(
	        "replicas", "The system started afresh with 1, 2 and 3 replicas of every daemon on "
	                    "this machine; for each, existing users accept invitations from 8 "
	                    "client threads, then 8 threads invite one new address per "
	                    "CreateInvitations call, every client given each invitationd "
	                    "replica's address. No goal: every replica and Postgres share the "
	                    "same two cores, so more processes cannot add throughput here (see "
	                    "bench/notes/replicas.md). The floor is bare durable commits per "
	                    "second from 8 connections, measured in each system's run.");
	for (int n = 1; n <= MAX_REPLICAS; n++) {
		char name[64];
		snprintf(name, sizeof(name), "accepts per second, %d replica%s", n, n > 1 ? "s" : "");
		bench_result_measure(r, name, "/s", m[n - 1].accepts_per_s, NULL, 0,
		                     BENCH_HIGHER_IS_BETTER, "bare commits/s, 8 connections",
		                     m[n - 1].commits_per_s);
		snprintf(name, sizeof(name), "invitations per second, %d replica%s", n,
		         n > 1 ? "s" : "");
		bench_result_measure(r, name, "/s", m[n - 1].invitations_per_s, NULL, 0,
		                     BENCH_HIGHER_IS_BETTER, "bare commits/s, 8 connections",
		                     m[n - 1].commits_per_s);
	}
	bench_result_measure(r, "failed calls", "", failures, "0", 0, BENCH_LOWER_IS_BETTER, NULL,
	                     0);
	bench_result_detail(r, "3 replicas against 1", "accepts %.2fx, invitations %.2fx",
	                    m[2].accepts_per_s / m[0].accepts_per_s,
	                    m[2].invitations_per_s / m[0].invitations_per_s);
	bench_result_detail(r, "calls", "%d accepts and %d invitations per thread, %d threads", calls,
	                    calls, THREADS);
	if (!bench_result_write(r, result_path))
		fail_msg("could not write %s", result_path);
	assert_int_equal(failures, 0);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < started; i++)
		ut_system_teardown(&systems[i]);
	return 0;
}

int main(int argc, char **argv)
{
	result_path = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
