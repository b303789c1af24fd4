/* Idle means idle: with nothing to do, the five daemons and their Postgres backends use
 * next to no CPU. (A delivery worker that polled an empty queue without pause once kept
 * half of a 2-core machine busy doing nothing.) CPU time is read from /proc, so the
 * bound holds however busy the rest of the machine is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "common/clock.h"
#include "harness.h"

#define IDLE_STRETCH_MS 5000
/* The whole system's CPU over the stretch: 3% of one core. Background loops wake
 * now and then (delivery and outbox polls, accept recovery), and each wake is a few
 * milliseconds; under a sanitizer, on a machine running other tests, a few times that
 * (ThreadSanitizer once measured 160 ms). A busy loop costs thousands either way. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define IDLE_CPU_BOUND_MS 450
#else
#define IDLE_CPU_BOUND_MS 150
#endif

#define MAX_PROCS 128

/* utime + stime of pid in milliseconds; -1 when it is gone. */
static long long cpu_ms(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* The command name may hold spaces: fields are counted after its closing ")". */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	unsigned long long utime = 0, stime = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
	           &stime) != 2)
		return -1;
	return (long long)((utime + stime) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

typedef struct proc_set {
	int pids[MAX_PROCS];
	long long start_ms[MAX_PROCS];
	size_t n;
} proc_set;

static void add_proc(proc_set *set, int pid)
{
	for (size_t i = 0; i < set->n; i++) {
		if (set->pids[i] == pid)
			return;
	}
	if (set->n < MAX_PROCS) {
		set->pids[set->n] = pid;
		set->start_ms[set->n++] = cpu_ms(pid);
	}
}

/* The daemons, and every backend connected to the system's databases (one per cluster). */
static void collect(ut_system *sys, proc_set *set)
{
	for (int i = 0; i < UT_N_DAEMONS; i++)
		add_proc(set, sys->daemons[i].pid);
	for (int i = UT_IDENTITY; i <= UT_NOTIFICATION; i++) {
		if (!ut_system_db_first(sys, i))
			continue;
		PGconn *admin = ut_db_admin(ut_system_db(sys, i));
		const char *params[] = {ut_system_db(sys, i)->name};
		PGresult *res = PQexecParams(admin,
		                             "SELECT pid FROM pg_stat_activity WHERE datname = $1"
		                             " AND pid <> pg_backend_pid()",
		                             1, NULL, params, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		for (int r = 0; r < PQntuples(res); r++)
			add_proc(set, atoi(PQgetvalue(res, r, 0)));
		PQclear(res);
		PQfinish(admin);
	}
}

static void test_an_idle_system_uses_almost_no_cpu(void **state)
{
	(void)state;
	ut_system sys;
	ut_system_init(&sys, "idle");
	ut_system_start_all(&sys);
	/* Let start-up work (migrations, first polls) finish. */
	usleep(1500 * 1000);

	proc_set set = {0};
	collect(&sys, &set);
	assert_true(set.n > UT_N_DAEMONS); /* the backends were found */
	int64_t start = us_monotonic_ms();
	usleep(IDLE_STRETCH_MS * 1000);
	collect(&sys, &set); /* backends that connected meanwhile count from now on */
	int64_t took = us_monotonic_ms() - start;

	/* Wakes are per unit of time: a stretch that overran gets a bound in proportion. */
	long long bound = IDLE_CPU_BOUND_MS * (long long)took / IDLE_STRETCH_MS;
	long long total = 0;
	for (size_t i = 0; i < set.n; i++) {
		long long now = cpu_ms(set.pids[i]);
		if (now < 0 || set.start_ms[i] < 0)
			continue;
		long long used = now - set.start_ms[i];
		if (used > 20)
			print_message("pid %d used %lld ms\n", set.pids[i], used);
		total += used;
	}
	print_message("%zu processes used %lld ms of CPU in %lld ms idle (bound %lld ms)\n", set.n,
	              total, (long long)took, bound);
	if (total > bound)
		fail_msg("an idle system used %lld ms of CPU in %lld ms (bound %lld ms)", total,
		         (long long)took, bound);
	ut_system_teardown(&sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_idle_system_uses_almost_no_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
