/* The web console in a real browser (label "browser"): this program starts Postgres'
 * database, the five daemons and the SMTP sink for real, as every integration test does,
 * seeds an account, then runs tests/browser/console_test.py, which drives headless
 * Chromium through every console flow (see its top and docs/console.md). The screenshots
 * land in <build>/tests/console-screenshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "calls.h"
#include "harness.h"

#define PASSWORD "correct horse battery"
/* Generous: the flows take well under a minute on a quiet machine. */
#define BROWSER_DEADLINE_MS (8 * 60 * 1000)

static void test_console_in_a_browser(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	ut_system sys;
	ut_system_init(&sys, "console");
	ut_sink sink;
	ut_sink_start(&sink, NULL);
	char smtp[200], url[160], port_setting[40], base_setting[80];
	ut_sink_url(&sink, url, sizeof(url));
	snprintf(smtp, sizeof(smtp), "SMTP_URL=%s", url);
	/* The gateway's port is chosen here, so the links in emails (PUBLIC_BASE_URL) lead to it. */
	int port = ut_free_port();
	snprintf(port_setting, sizeof(port_setting), "HTTP_PORT=%d", port);
	snprintf(base_setting, sizeof(base_setting), "PUBLIC_BASE_URL=http://127.0.0.1:%d", port);
	sys.extra_env[0] = smtp;
	sys.extra_env[1] = port_setting;
	sys.extra_env[2] = base_setting;
	sys.extra_env[3] = "REINVITE_MIN_INTERVAL_S=0"; /* resent at once in the resend flow */
	ut_system_start_all(&sys);

	char *owner = ut_create_user(&sys, a, "owner@acme.example", "Olivia Owner", PASSWORD);
	char *account = ut_create_account(&sys, a, owner, "Acme Team", "texting,voice");
	ut_create_user(&sys, a, "erin@acme.example", "Erin Existing", PASSWORD);
	char *admin = ut_create_user(&sys, a, "adam@acme.example", "Adam Admin", PASSWORD);
	ut_grant(&sys, a, account, admin, USHER__V1__ROLE__ROLE_ADMIN, NULL);
	/* A second account's invitation, for Erin to decline from My accounts. */
	char *other = ut_create_account(&sys, a, owner, "Bolt Co", "texting");
	const char *erin[] = {"erin@acme.example"};
	Usher__V1__CreateInvitationsReply *sent;
	us_status st;
	assert_int_equal(ut_invite(&sys, a, owner, other, USHER__V1__ROLE__ROLE_MEMBER, NULL, erin, 1,
	                           &sent, &st),
	                 US_OK);
	assert_int_equal(sent->created, 1);

	char script[512], shots[512], env_url[200], env_sink[200], env_account[100],
	        env_password[100], env_shots[600];
	snprintf(script, sizeof(script), "%s/tests/browser/console_test.py", getenv("USHER_SOURCE_DIR"));
	snprintf(shots, sizeof(shots), "%s/../tests/console-screenshots", getenv("USHER_BIN_DIR"));
	mkdir(shots, 0755);
	snprintf(env_url, sizeof(env_url), "USHER_CONSOLE_URL=http://127.0.0.1:%d", port);
	snprintf(env_sink, sizeof(env_sink), "USHER_SINK_DIR=%s", sink.dir);
	snprintf(env_account, sizeof(env_account), "USHER_ACCOUNT_ID=%s", account);
	snprintf(env_password, sizeof(env_password), "USHER_PASSWORD=%s", PASSWORD);
	snprintf(env_shots, sizeof(env_shots), "USHER_SCREENSHOTS=%s", shots);
	char *envp[] = {env_url, env_sink, env_account, env_password, env_shots,
	                "PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL};
	char *argv[] = {"/usr/bin/python3", script, NULL};
	char log[300];
	snprintf(log, sizeof(log), "%s/browser.log", sys.dir);
	pid_t pid = ut_spawn(argv, envp, log);
	int status = ut_reap(pid, BROWSER_DEADLINE_MS);
	char *out = NULL;
	FILE *f = fopen(log, "r");
	if (f != NULL) {
		out = calloc(1, 1 << 20);
		size_t n = out ? fread(out, 1, (1 << 20) - 1, f) : 0;
		(void)n;
		fclose(f);
	}
	printf("%s", out ? out : "(no output from the browser tests)\n");
	free(out);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the browser tests failed (status %d): see their output above", status);
	ut_sink_teardown(&sink);
	ut_system_teardown(&sys);
	us_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_console_in_a_browser),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
