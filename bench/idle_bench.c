/* idle: the CPU the five daemons use while nothing happens, as a share of one core, from
 * their utime + stime in /proc over a window; with the cluster's Postgres processes
 * (pg_stat_activity: backends and background workers; not the postmaster) beside them.
 * Usage: idle_bench RESULT.json   (BENCH_IDLE_SECONDS sets the window, default 10) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "harness.h"
#include "proc.h"
#include "result.h"

#define SETTLE_S 3 /* after start: migrations done, first ticks past */
#define MAX_BACKENDS 256

static const char *result_path;
static ut_system sys;

/* The pids of the cluster's Postgres processes, as pg_stat_activity lists them (./usher
 * bench runs one cluster for all four services). */
static size_t postgres_pids(pid_t *pids, size_t max)
{
	PGconn *conn = ut_db_admin(ut_system_db(&sys, UT_IDENTITY));
	PGresult *res = PQexec(conn, "SELECT pid FROM pg_stat_activity");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("pg_stat_activity: %s", PQresultErrorMessage(res));
	size_t n = 0;
	for (int i = 0; i < PQntuples(res) && n < max; i++)
		pids[n++] = (pid_t)atoi(PQgetvalue(res, i, 0));
	PQclear(res);
	PQfinish(conn);
	return n;
}

static double cpu_of(const pid_t *pids, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		double c = bench_cpu_seconds(pids[i]);
		if (c > 0)
			s += c; /* a backend that ended in the window counts until it ended */
	}
	return s;
}

static void bench(void **state)
{
	(void)state;
	const char *window_env = getenv("BENCH_IDLE_SECONDS");
	int window = window_env != NULL ? atoi(window_env) : 10;
	if (window < 1)
		fail_msg("BENCH_IDLE_SECONDS must be at least 1");
	sleep(SETTLE_S);
	pid_t daemons[UT_N_DAEMONS], backends[MAX_BACKENDS];
	for (int d = 0; d < UT_N_DAEMONS; d++)
		daemons[d] = sys.daemons[d].pid;
	size_t n_backends = postgres_pids(backends, MAX_BACKENDS);

	double before[UT_N_DAEMONS];
	for (int d = 0; d < UT_N_DAEMONS; d++)
		before[d] = bench_cpu_seconds(daemons[d]);
	double pg_before = cpu_of(backends, n_backends);
	int64_t t0 = us_monotonic_us();
	sleep((unsigned)window);
	double elapsed = (double)(us_monotonic_us() - t0) / 1e6;
	double used[UT_N_DAEMONS], total = 0;
	for (int d = 0; d < UT_N_DAEMONS; d++) {
		used[d] = bench_cpu_seconds(daemons[d]) - before[d];
		total += used[d];
	}
	double pg_used = cpu_of(backends, n_backends) - pg_before;

	bench_result *r = bench_result_new(
	        "idle", "The five daemons started and left alone (after 3 s to settle): the CPU "
	                "they use (utime + stime from /proc), as a percentage of one core over the "
	                "window, and the same for the cluster's Postgres processes they keep "
	                "busy. No floor: the goal is zero.");
	printf("%-28s %12s\n", "idle, % of one core", "cpu");
	for (int d = 0; d < UT_N_DAEMONS; d++) {
		char name[64];
		snprintf(name, sizeof(name), "usher-%sd", sys.daemons[d].name);
		printf("%-28s %11.2f%%\n", name, 100 * used[d] / elapsed);
		bench_result_measure(r, name, "%", 100 * used[d] / elapsed, NULL, 0,
		                     BENCH_LOWER_IS_BETTER, NULL, 0);
	}
	printf("%-28s %11.2f%%\n", "all five daemons", 100 * total / elapsed);
	printf("%-28s %11.2f%%\n", "Postgres processes", 100 * pg_used / elapsed);
	bench_result_measure(r, "all five daemons", "%", 100 * total / elapsed,
	                     "~0 (≤ 1% of a core)", 1.0, BENCH_LOWER_IS_BETTER, NULL, 0);
	bench_result_measure(r, "Postgres processes", "%", 100 * pg_used / elapsed,
	                     "~0 (≤ 1% of a core)", 1.0, BENCH_LOWER_IS_BETTER, NULL, 0);
	bench_result_detail(r, "window", "%.1f s; %zu Postgres processes", elapsed, n_backends);
	if (!bench_result_write(r, result_path))
		fail_msg("could not write %s", result_path);
}

static int setup(void **state)
{
	(void)state;
	ut_system_init(&sys, "idle_bench");
	sys.extra_env[0] = getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "LOG_LEVEL=warn";
	ut_system_start_all(&sys);
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
