/* The test harness is strict, and proven so: this program runs itself in a few roles
 * (a test that fails, one that aborts, one that forgets its teardown, a daemon killed by a
 * signal the test did not send, a daemon whose log holds a sanitizer report, and a clean
 * run) and checks each one's exit status and that no process it started is left behind.
 *
 * The sanitizer role appends a report line to the daemon's log, as the daemon's stderr
 * would: it proves the harness reads the logs, not that a sanitizer fires. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "harness.h"

#define PIDS_ENV "UT_HARNESS_TEST_PIDS"

/* --- the roles, run as a child program --- */

static ut_system sys;
static ut_sink sink;

/* Starts identityd and an SMTP sink and writes their pids where the parent reads them. */
static void start_and_tell(void)
{
	ut_system_init(&sys, "harness");
	ut_system_start(&sys, UT_IDENTITY);
	ut_sink_start(&sink, NULL);
	FILE *f = fopen(getenv(PIDS_ENV), "w");
	assert_non_null(f);
	fprintf(f, "%d %d\n", (int)sys.daemons[UT_IDENTITY].pid, (int)sink.pid);
	fclose(f);
}

static void role_fails(void **state)
{
	(void)state;
	start_and_tell();
	fail_msg("a deliberate failure in the middle of a test");
}

static void role_aborts(void **state)
{
	(void)state;
	start_and_tell();
	abort();
}

static void role_forgets_teardown(void **state)
{
	(void)state;
	start_and_tell();
}

static void role_unexpected_signal(void **state)
{
	(void)state;
	start_and_tell();
	/* As a failed assertion would: the harness did not send it. */
	kill(sys.daemons[UT_IDENTITY].pid, SIGABRT);
}

static void role_sanitizer_report(void **state)
{
	(void)state;
	start_and_tell();
	FILE *log = fopen(sys.daemons[UT_IDENTITY].log_path, "a");
	assert_non_null(log);
	fprintf(log, "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020\n");
	fclose(log);
}

static void role_clean(void **state)
{
	(void)state;
	start_and_tell();
}

static int group_teardown(void **state)
{
	(void)state;
	ut_sink_teardown(&sink);
	ut_system_teardown(&sys);
	return 0;
}

static int run_role(const char *role)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
		bool teardown;
	} roles[] = {
		{"fails", role_fails, false},
		{"aborts", role_aborts, false},
		{"forgets-teardown", role_forgets_teardown, false},
		{"unexpected-signal", role_unexpected_signal, true},
		{"sanitizer-report", role_sanitizer_report, true},
		{"clean", role_clean, true},
	};
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(roles[i].name, role) != 0)
			continue;
		const struct CMUnitTest tests[] = {
			{roles[i].name, roles[i].fn, NULL, NULL, NULL},
		};
		return cmocka_run_group_tests(tests, NULL, roles[i].teardown ? group_teardown : NULL);
	}
	return 2;
}

/* --- the checks, in the parent --- */

static char self_path[512];

/* True when pid has ended (gone, or a zombie nobody reaped yet). */
static bool ended(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return true;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *p = strrchr(buf, ')');
	return p == NULL || p[2] == 'Z' || p[2] == 'X';
}

/* Runs the role; returns its exit status (-1: killed) and its output in *out. */
static int child(const char *role, char **out, int pids[2])
{
	char pid_file[] = "/tmp/ut-harness-pids-XXXXXX";
	int fd = mkstemp(pid_file);
	assert_true(fd >= 0);
	close(fd);
	setenv(PIDS_ENV, pid_file, 1);
	char *argv[] = {self_path, "--role", (char *)role, NULL};
	int status = ut_run(argv, NULL, true, out);
	FILE *f = fopen(pid_file, "r");
	assert_non_null(f);
	if (fscanf(f, "%d %d", &pids[0], &pids[1]) != 2)
		fail_msg("the role \"%s\" started nothing:\n%s", role, *out);
	fclose(f);
	unlink(pid_file);
	return status;
}

/* Every process the role started ends promptly once it has: waits on that, with a
 * deadline generous for a loaded machine. */
static void nothing_left_behind(const char *role, const int pids[2])
{
	int64_t deadline = us_monotonic_ms() + 30000;
	for (int i = 0; i < 2; i++) {
		while (!ended(pids[i])) {
			if (us_monotonic_ms() > deadline)
				fail_msg("role \"%s\" left pid %d running", role, pids[i]);
			usleep(20 * 1000);
		}
	}
}

static void expect(const char *role, bool passes, const char *said)
{
	char *out = NULL;
	int pids[2];
	int status = child(role, &out, pids);
	nothing_left_behind(role, pids);
	if (passes ? status != 0 : status == 0)
		fail_msg("role \"%s\" exited with %d, expected %s:\n%s", role, status,
		         passes ? "0" : "a failure", out);
	if (said != NULL && strstr(out, said) == NULL)
		fail_msg("role \"%s\" did not say \"%s\":\n%s", role, said, out);
	free(out);
}

static void test_a_failing_test_leaves_nothing_running(void **state)
{
	(void)state;
	expect("fails", false, "a deliberate failure");
	expect("aborts", false, NULL);
	expect("forgets-teardown", false, "stopped 2 processes the test left running");
}

static void test_a_daemon_killed_by_surprise_fails_the_test(void **state)
{
	(void)state;
	expect("unexpected-signal", false, "usher-identityd was killed by signal 6");
}

static void test_a_sanitizer_report_fails_the_test(void **state)
{
	(void)state;
	expect("sanitizer-report", false, "usher-identityd logged a sanitizer report");
}

static void test_a_clean_run_passes(void **state)
{
	(void)state;
	expect("clean", true, NULL);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--role") == 0)
		return run_role(argv[2]);
	ssize_t len = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (len <= 0)
		return 1;
	self_path[len] = '\0';
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_failing_test_leaves_nothing_running),
		cmocka_unit_test(test_a_daemon_killed_by_surprise_fails_the_test),
		cmocka_unit_test(test_a_sanitizer_report_fails_the_test),
		cmocka_unit_test(test_a_clean_run_passes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
