/* The permission matrix as data: a malformed file stops the daemon with one line naming
 * file:line, another file changes what Check answers, and SIGHUP rereads it. */
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
#include "tenancy_client.h"

#define MEMBER USHER__V1__ROLE__ROLE_MEMBER
#define ADMIN USHER__V1__ROLE__ROLE_ADMIN

static const char enforced[] = "member.invite admin\n"
                               "member.role.change admin\n"
                               "member.deactivate admin\n"
                               "member.remove admin\n"
                               "settings.update admin\n"
                               "subaccount.create owner\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Any seed will do: the daemon stops at its settings, before it signs anything. */
#define TEST_SEED "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Runs the daemon on the matrix text; returns its exit status and its output. */
static int run_with_matrix(const char *text, char *path, size_t path_size, char **out)
{
	snprintf(path, path_size, "/tmp/ut-matrix-%d.conf", (int)getpid());
	write_file(path, text);
	char bin[512], setting[600];
	ut_bin("usher-tenancyd", bin, sizeof(bin));
	snprintf(setting, sizeof(setting), "PERMISSION_MATRIX_FILE=%s", path);
	char *argv[] = {bin, NULL};
	char *envp[] = {"DATABASE_URL=postgresql:///never", "RPC_LISTEN=tcp://127.0.0.1:1",
	                "RPC_SIGNING_KEY=" TEST_SEED, "RPC_CALLERS_FILE=/nonexistent",
	                "IDENTITY_RPC_URL=tcp://127.0.0.1:1", "NOTIFICATION_RPC_URL=tcp://127.0.0.1:1",
	                setting, NULL};
	int status = ut_run(argv, envp, true, out);
	unlink(path);
	return status;
}

static void expect_refused(const char *text, int line, const char *reason)
{
	char path[128], *out = NULL;
	int status = run_with_matrix(text, path, sizeof(path), &out);
	char where[160];
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d: ", path, line);
	else
		snprintf(where, sizeof(where), "%s: ", path);
	if (status != 2 || strstr(out, where) == NULL || strstr(out, reason) == NULL)
		fail_msg("expected exit 2 naming \"%s\" and \"%s\", got %d: %s", where, reason, status,
		         out);
	/* One line, and the database was never reached. */
	assert_non_null(strchr(out, '\n'));
	assert_null(strchr(out, '\n') + 1 == NULL ? NULL : strchr(strchr(out, '\n') + 1, '\n'));
	assert_null(strstr(out, "database"));
	free(out);
}

static void test_malformed_file_stops_the_daemon(void **state)
{
	(void)state;
	char text[1024];
	snprintf(text, sizeof(text), "%s# comment\ncampaign.send boss\n", enforced);
	expect_refused(text, 8, "unknown role \"boss\"");
	snprintf(text, sizeof(text), "%s\nCampaign.Send admin\n", enforced);
	expect_refused(text, 8, "is not an action name");
	snprintf(text, sizeof(text), "%scampaign.send\n", enforced);
	expect_refused(text, 7, "expected \"action minimum-role\"");
	snprintf(text, sizeof(text), "%scampaign.send admin extra\n", enforced);
	expect_refused(text, 7, "expected \"action minimum-role\"");
	snprintf(text, sizeof(text), "%smember.invite owner\n", enforced);
	expect_refused(text, 7, "already listed on line 1");
	expect_refused("member.invite admin\n", 0, "\"member.role.change\" is missing");
}

static void test_another_matrix_changes_checks_and_sighup_rereads_it(void **state)
{
	(void)state;
	char path[128], text[1024], setting[200];
	snprintf(path, sizeof(path), "/tmp/ut-matrix-live-%d.conf", (int)getpid());
	snprintf(text, sizeof(text), "%smessages.send moderator\nreports.export admin\n", enforced);
	write_file(path, text);
	snprintf(setting, sizeof(setting), "PERMISSION_MATRIX_FILE=%s", path);
	const char *env[] = {setting, NULL};
	ut_system *sys = tc_system_start("tenancy_matrix", env);
	tc *c = tc_open(sys);

	char *owner = tc_uuid(c), *texter = tc_uuid(c), *admin = tc_uuid(c);
	char *account = tc_account(c, owner)->account->id;
	char *sub = tc_subaccount(c, owner, account, "North")->id;
	tc_grant(c, account, texter, MEMBER, tc_subs(c, 1, sub));
	tc_grant(c, account, admin, ADMIN, tc_subs(c, 1, sub));

	tc_expect_check(c, texter, account, sub, "messages.send", false, "below moderator");
	tc_expect_check(c, admin, account, sub, "reports.export", true, NULL);
	/* The default's actions are gone with it. */
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = admin, req.account_id = account, req.subaccount_id = sub;
	req.action = "campaign.send";
	Usher__V1__CheckReply *out;
	tc_expect_invalid(c, tc_call(c, "Check", NULL, NULL, &req.base,
	                             &usher__v1__check_reply__descriptor, &out),
	                  "action", "Check of an action the file does not list");

	snprintf(text, sizeof(text), "%smessages.send member\n", enforced);
	write_file(path, text);
	kill(sys->daemons[UT_TENANCY].pid, SIGHUP);
	int64_t deadline = us_monotonic_ms() + 30000;
	while (!tc_check(c, texter, account, sub, "messages.send")->allowed) {
		if (us_monotonic_ms() > deadline)
			fail_msg("SIGHUP did not reload the matrix");
		usleep(20 * 1000);
	}

	/* A broken file on reload keeps the running matrix (checked once the daemon says it
	 * read the file). */
	write_file(path, "messages.send nobody\n");
	long from = ut_log_lines(&sys->daemons[UT_TENANCY]) + 1;
	kill(sys->daemons[UT_TENANCY].pid, SIGHUP);
	if (ut_log_wait(&sys->daemons[UT_TENANCY], "permission matrix not reloaded", from, 30000) == 0)
		fail_msg("tenancyd did not say it kept the running matrix");
	tc_expect_check(c, texter, account, sub, "messages.send", true, NULL);
	assert_int_equal(kill(sys->daemons[UT_TENANCY].pid, 0), 0);

	tc_close(c);
	tc_system_stop(sys);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_file_stops_the_daemon),
		cmocka_unit_test(test_another_matrix_changes_checks_and_sighup_rereads_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
