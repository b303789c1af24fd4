/* Latencies of usher-identityd's main calls, seen by a client over its socket: how
 * close an unknown email's login comes to a wrong password's (they must not be told
 * apart by timing), what a password hash costs, and one 50,000-address LookupEmails.
 * Prints a table; asserts nothing about time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "clock.h"

#define ROUNDS 40
#define LOOKUP_N 50000

static ut_system *sys;
static us_rpc_client *client;

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static void report(const char *what, double *ms, int n)
{
	qsort(ms, (size_t)n, sizeof(double), by_value);
	printf("%-34s n=%-3d median %7.1f ms  p90 %7.1f ms  max %7.1f ms\n", what, n, ms[n / 2],
	       ms[n * 9 / 10], ms[n - 1]);
}

static double timed_login(us_arena *a, const char *email, const char *password, us_err expect)
{
	int64_t start = us_monotonic_ms();
	us_err rc = idt_login(client, a, email, password, NULL, NULL, NULL);
	double took = (double)(us_monotonic_ms() - start);
	if (rc != expect)
		fail_msg("login %s: expected %s, got %s", email, us_err_name(expect), us_err_name(rc));
	return took;
}

static void bench_login(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	double create[ROUNDS], unknown[ROUNDS], wrong[ROUNDS], right[ROUNDS];
	for (int i = 0; i < ROUNDS; i++) {
		char *email = us_arena_printf(a, "bench%d@example.com", i);
		int64_t start = us_monotonic_ms();
		idt_create_user(client, a, email);
		create[i] = (double)(us_monotonic_ms() - start);
	}
	/* Interleaved, so drift in the machine's load hits all three alike. */
	for (int i = 0; i < ROUNDS; i++) {
		char *email = us_arena_printf(a, "bench%d@example.com", i);
		char *nobody = us_arena_printf(a, "nobody%d@example.com", i);
		unknown[i] = timed_login(a, nobody, "wrong password", US_EUNAUTHENTICATED);
		wrong[i] = timed_login(a, email, "wrong password", US_EUNAUTHENTICATED);
		right[i] = timed_login(a, email, IDT_PASSWORD, US_OK);
	}
	report("CreateUser", create, ROUNDS);
	report("Login, unknown email", unknown, ROUNDS);
	report("Login, wrong password", wrong, ROUNDS);
	report("Login, right password", right, ROUNDS);

	char **emails = US_ARENA_ARRAY(a, char *, LOOKUP_N);
	for (int i = 0; i < LOOKUP_N; i++)
		emails[i] = us_arena_printf(a, "bench%d@example.com", i);
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = emails;
	req.n_emails = LOOKUP_N;
	double lookup[5];
	for (int i = 0; i < 5; i++) {
		int64_t start = us_monotonic_ms();
		assert_int_equal(idt_call(client, IDT("LookupEmails"), NULL, &req.base,
		                          &usher__v1__lookup_emails_reply__descriptor, a, NULL, NULL),
		                 US_OK);
		lookup[i] = (double)(us_monotonic_ms() - start);
	}
	report("LookupEmails, 50,000 addresses", lookup, 5);
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "identity_bench");
	sys->extra_env[0] = "LOGIN_MAX_FAILURES=1000";
	ut_system_start(sys, UT_IDENTITY);
	client = idt_connect(sys);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_rpc_client_close(client);
	ut_system_teardown(sys);
	free(sys);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bench_login),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
