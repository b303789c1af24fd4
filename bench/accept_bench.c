/* accept: existing users accepting invitations through usher-invitationd (session check,
 * claim, membership at tenancyd, finish), one client at a time and eight at once.
 * Usage: accept_bench RESULT.json */
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
#include "result.h"
#include "stats.h"

#define ACCOUNTS 250   /* each user is invited to every account */
#define CLIENTS 8
#define USERS (CLIENTS + 1) /* user 0 is the single client */

static const char *result_path;
static ut_system sys;
static char spool[200];
static accept_client clients[USERS];

static void bench(void **state)
{
	(void)state;
	accept_load_prepare(&sys, spool, clients, USERS, ACCOUNTS);

	/* One client. */
	const char *url = sys.daemons[UT_INVITATION].url;
	int64_t t0 = us_monotonic_us();
	accept_load_run(url, &clients[0]);
	double single_s = (double)(us_monotonic_us() - t0) / 1e6;

	/* Eight at once. */
	double multi_s = accept_load_parallel(url, clients + 1, CLIENTS);

	int failures = 0;
	double *multi = malloc(sizeof(double) * CLIENTS * ACCOUNTS);
	for (int i = 0; i < CLIENTS; i++) {
		memcpy(multi + i * ACCOUNTS, clients[i + 1].samples, sizeof(double) * ACCOUNTS);
		failures += clients[i + 1].failures;
	}
	failures += clients[0].failures;
	bench_stats one, eight;
	bench_stats_of(clients[0].samples, ACCOUNTS, &one);
	bench_stats_of(multi, CLIENTS * ACCOUNTS, &eight);
	double one_rate = ACCOUNTS / single_s, eight_rate = CLIENTS * ACCOUNTS / multi_s;

	/* The floors, right after: a bare durable commit from one connection, and from eight. */
	bench_stats commit;
	PGconn *conns[CLIENTS];
	for (int i = 0; i < CLIENTS; i++)
		conns[i] = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	bench_floor_commit(conns[0], 1000, &commit);
	double commit_rate = bench_floor_commit_rate(conns, CLIENTS, 250);
	for (int i = 0; i < CLIENTS; i++)
		PQfinish(conns[i]);

	printf("%-26s %8s %8s %8s %10s\n", "clients", "p50 ms", "p99 ms", "mean ms", "per second");
	printf("%-26s %8.2f %8.2f %8.2f %10.0f\n", "accept, 1 client", one.p50 / 1e3,
	       one.p99 / 1e3, one.mean / 1e3, one_rate);
	printf("%-26s %8.2f %8.2f %8.2f %10.0f\n", "accept, 8 clients", eight.p50 / 1e3,
	       eight.p99 / 1e3, eight.mean / 1e3, eight_rate);
	printf("%-26s %8.2f %8.2f %8.2f %10.0f\n", "floor: bare commit, 1", commit.p50 / 1e3,
	       commit.p99 / 1e3, commit.mean / 1e3, 1e6 / commit.mean);
	printf("%-26s %8s %8s %8s %10.0f\n", "floor: bare commits, 8", "", "", "", commit_rate);
	printf("ratios: p50 %.1fx a bare commit; 8 clients %.1fx slower than bare commits\n",
	       one.p50 / commit.p50, commit_rate / eight_rate);
	printf("failed accepts: %d\n", failures);

	bench_result *r = bench_result_new(
	        "accept", "Existing users accept invitations with their session over NNG: session "
	                  "check at identityd, claim, membership at tenancyd, finish with the "
	                  "inviter's notice in the outbox. Every accept is a different invitation. "
	                  "The floor is a bare durable commit (a one-row INSERT) on the same "
	                  "cluster in the same run, from one connection and from eight at once.");
	bench_result_measure(r, "accept, one client, p50", "ms", one.p50 / 1e3, "≤ 3.0 ms", 3.0,
	                     BENCH_LOWER_IS_BETTER, "bare commit, p50", commit.p50 / 1e3);
	bench_result_measure(r, "accept, one client, p99", "ms", one.p99 / 1e3, "≤ 8.0 ms", 8.0,
	                     BENCH_LOWER_IS_BETTER, "bare commit, p99", commit.p99 / 1e3);
	bench_result_measure(r, "accepts per second, 8 clients", "/s", eight_rate, "≥ 600/s", 600,
	                     BENCH_HIGHER_IS_BETTER, "bare commits/s, 8 connections", commit_rate);
	bench_result_measure(r, "accept, 8 clients, p50", "ms", eight.p50 / 1e3, NULL, 0,
	                     BENCH_LOWER_IS_BETTER, NULL, 0);
	bench_result_measure(r, "failed accepts", "", failures, "0", 0, BENCH_LOWER_IS_BETTER,
	                     NULL, 0);
	if (!bench_result_write(r, result_path))
		fail_msg("could not write %s", result_path);
	free(multi);
	accept_load_free(clients, USERS);
	assert_int_equal(failures, 0);
}

static int setup(void **state)
{
	(void)state;
	ut_system_init(&sys, "accept_bench");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	sys.extra_env[0] = getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "LOG_LEVEL=warn";
	sys.extra_env[1] = "RPC_WORKERS=16";
	for (int d = 0; d < UT_GATEWAY; d++)
		ut_system_start(&sys, d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	return 0;
}

int main(int argc, char **argv)
{
	result_path = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};
	return cmocka_run_group_tests(tests, setup, teardown);
}
