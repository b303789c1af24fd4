/* The bound on concurrent password hashing against a real usher-identityd run with
 * PASSWORD_HASH_CONCURRENCY=2: a burst of 20 logins gets sessions or a quick
 * RESOURCE_EXHAUSTED, never a crash, and the daemon keeps serving. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "client.h"

#define BURST 20

static ut_system *sys;
static us_rpc_client *client;

typedef struct attempt {
	us_err rc;
	char message[US_STATUS_MESSAGE_MAX];
} attempt;

static void *log_in(void *arg)
{
	attempt *at = arg;
	us_arena *a = us_arena_new();
	us_status st;
	at->rc = idt_login(client, a, "crowd@example.com", IDT_PASSWORD, NULL, NULL, &st);
	snprintf(at->message, sizeof(at->message), "%s", st.message);
	us_status_clear(&st);
	us_arena_free(a);
	return NULL;
}

/* Peak resident memory of the daemon, for the log. */
static void print_peak_memory(void)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)sys->daemons[UT_IDENTITY].pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			printf("usher-identityd peak memory after the burst: %s", line + 6);
	}
	fclose(f);
}

static void test_a_burst_of_logins_stays_inside_the_hashing_bound(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "crowd@example.com");
	attempt attempts[BURST];
	pthread_t threads[BURST];
	for (int i = 0; i < BURST; i++)
		pthread_create(&threads[i], NULL, log_in, &attempts[i]);
	for (int i = 0; i < BURST; i++)
		pthread_join(threads[i], NULL);

	int ok = 0, refused = 0;
	for (int i = 0; i < BURST; i++) {
		if (attempts[i].rc == US_OK) {
			ok++;
		} else if (attempts[i].rc == US_EEXHAUSTED) {
			refused++;
			assert_string_equal(attempts[i].message,
			                    "too many password operations at once, try again");
		} else {
			fail_msg("login %d got %s \"%s\"", i, us_err_name(attempts[i].rc),
			         attempts[i].message);
		}
	}
	printf("%d logged in, %d refused\n", ok, refused);
	assert_true(ok >= 1);
	assert_true(refused >= 1);
	print_peak_memory();

	/* Still alive and serving; refusals did not count as failed logins. */
	assert_int_equal(waitpid(sys->daemons[UT_IDENTITY].pid, NULL, WNOHANG), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(idt_login(client, a, "crowd@example.com", IDT_PASSWORD, NULL, NULL, NULL),
		                 US_OK);
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "identity_hash_bound");
	sys->extra_env[0] = "PASSWORD_HASH_CONCURRENCY=2";
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
		cmocka_unit_test(test_a_burst_of_logins_stays_inside_the_hashing_bound),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
