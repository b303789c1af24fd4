/* At least once, never lost: usher-notificationd is killed (SIGKILL, by the SMTP sink)
 * right after the server's 250 for a message and before it can record that; after a
 * restart every one of a few hundred messages has been delivered, the ones delivered
 * twice carry the same Message-ID and the same bytes, and none is missing. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "fixture.h"

#define N 250
#define KILL_AFTER "60"

static nt_fixture F;

static int teardown(void **state)
{
	(void)state;
	nt_teardown(&F);
	return 0;
}

static void wait_all_sent(int timeout_ms)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	long long sent = 0;
	while (us_monotonic_ms() < deadline) {
		sent = nt_sql_number(&F, "SELECT count(*) FROM notification.messages WHERE state = 'sent'");
		if (sent == N)
			return;
		usleep(100 * 1000);
	}
	fail_msg("%lld of %d messages sent after %d ms", sent, N, timeout_ms);
}

static void test_sigkill_after_250_loses_nothing(void **state)
{
	(void)state;
	/* The sink needs the daemon's pid, the daemon the sink's port: start the sink,
	 * then the daemon, then the sink again on the same port, armed. */
	const char *quiet[] = {NULL};
	nt_init(&F, "notify_crash");
	nt_sink(&F, quiet);
	nt_start(&F);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)F.sys.daemons[UT_NOTIFICATION].pid);
	const char *armed[] = {"--kill-pid", pid, "--kill-after", KILL_AFTER, NULL};
	ut_sink_stop(&F.sink);
	F.sink.flags = armed;
	ut_sink_resume(&F.sink);

	Usher__V1__Email *emails[N];
	for (int i = 0; i < N; i++) {
		char key[32], to[64];
		snprintf(key, sizeof(key), "crash-%d", i);
		snprintf(to, sizeof(to), "invitee%d@example.com", i);
		emails[i] = nt_invitation(&F, key, to, "https://usher.test/i/crash");
	}
	char **ids = NULL;
	assert_int_equal(nt_send_many(&F, emails, N, &ids, NULL), US_OK);

	int status = ut_system_wait(&F.sys, UT_NOTIFICATION, 30000);
	assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	long long before = nt_sql_number(&F, "SELECT count(*) FROM notification.messages"
	                                     " WHERE state = 'sent'");
	assert_true(before < N);

	ut_system_start(&F.sys, UT_NOTIFICATION);
	wait_all_sent(60000);

	/* Every message arrived; duplicates are the same message. */
	assert_int_equal(nt_sql_number(&F, "SELECT count(*) FROM notification.messages"
	                                   " WHERE state = 'sent' AND attempts >= 1"),
	                 N);
	ut_mail *mails;
	size_t n = ut_sink_mails(&F.sink, &mails);
	assert_true(n >= N);
	char **mids = calloc(n, sizeof(*mids));
	for (size_t m = 0; m < n; m++)
		mids[m] = ut_mail_header(mails[m].data, "Message-ID");
	size_t duplicates = 0;
	for (int i = 0; i < N; i++) {
		char want[128];
		snprintf(want, sizeof(want), "<%s@usher.test>", ids[i]);
		const char *first = NULL;
		size_t copies = 0;
		for (size_t m = 0; m < n; m++) {
			if (mids[m] == NULL || strcmp(mids[m], want) != 0)
				continue;
			if (first == NULL)
				first = mails[m].data;
			else
				assert_string_equal(mails[m].data, first);
			copies++;
		}
		if (copies == 0)
			fail_msg("message %d (%s) never arrived", i, ids[i]);
		duplicates += copies - 1;
	}
	/* Nothing arrived that was not one of ours. */
	assert_int_equal(n, N + duplicates);
	/* The kill landed between a 250 and its record: that message came again. */
	assert_true(duplicates >= 1);
	print_message("%d messages, %zu delivered twice after the crash (%lld recorded as sent "
	              "before it)\n", N, duplicates, before);
	for (size_t m = 0; m < n; m++)
		free(mids[m]);
	free(mids);
	ut_mails_free(mails, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_sigkill_after_250_loses_nothing, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
