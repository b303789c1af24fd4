/* The relays wake in-process, without NOTIFY (common/wake.h): with their polls at the
 * longest interval (60 s), the events and outbox rows of a daemon's own requests still
 * reach usher-notificationd at once; and the poll still finds rows another process wrote
 * (here the test's own SQL, as another replica or usherctl would). No function of any
 * schema calls pg_notify. Real daemons, real Postgres. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"

#define PASSWORD "correct horse battery"
/* A wake brings an event over in tens of milliseconds; the polls are 60 s apart (below).
 * An event within this long of the change did not wait for a poll. */
#define WAKE_WITHIN_MS 30000
#define POLL_WITHIN_MS 30000 /* a poll every 200 ms (the fallback test) */

static ut_system sys;
static us_arena *A;
static char *owner;
static char spool_setting[256];

/* Events notificationd has stored of type about object. */
static long stored(const char *type, const char *object_id)
{
	return ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                    "SELECT count(*) FROM notification.events WHERE type = '%s'"
	                    " AND object_id = '%s'",
	                    type, object_id);
}

/* Waits until notificationd has the event; false when it did not come within ms. */
static bool arrives(const char *type, const char *object_id, int ms)
{
	int64_t until = us_monotonic_ms() + ms;
	for (;;) {
		if (stored(type, object_id) > 0)
			return true;
		if (us_monotonic_ms() >= until)
			return false;
		struct timespec pause = {0, 20 * 1000000L};
		nanosleep(&pause, NULL);
	}
}

static void must_arrive(const char *type, const char *object_id, int ms, const char *why)
{
	int64_t started = us_monotonic_ms();
	if (!arrives(type, object_id, ms))
		fail_msg("%s for %s did not reach usher-notificationd within %d s (%s)", type, object_id,
		         ms / 1000, why);
	print_message("%s: at notificationd after %lld ms\n", type,
	              (long long)(us_monotonic_ms() - started));
}

static char *invite(const char *account, const char *email)
{
	const char *const emails[] = {email};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	us_status_init(&st);
	if (ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, 1,
	              &created, &st) != US_OK)
		fail_msg("CreateInvitations: %s", st.message);
	us_status_clear(&st);
	assert_int_equal(created->results[0]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	return created->results[0]->invitation_id;
}

/* Waits until notificationd has an event of type for account; false when it did not come
 * within ms. */
static bool arrives_for_account(const char *type, const char *account, int ms)
{
	int64_t until = us_monotonic_ms() + ms;
	for (;;) {
		if (ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
		                 "SELECT count(*) FROM notification.events WHERE type = '%s'"
		                 " AND account_id = '%s'",
		                 type, account) > 0)
			return true;
		if (us_monotonic_ms() >= until)
			return false;
		struct timespec pause = {0, 20 * 1000000L};
		nanosleep(&pause, NULL);
	}
}

/* A new account of the owner's, once its membership.created (tenancyd's) is at
 * notificationd within ms. */
static char *new_account(const char *name, int ms, const char *why)
{
	char *account = ut_create_account(&sys, A, owner, name, "");
	if (!arrives_for_account("membership.created", account, ms))
		fail_msg("membership.created of \"%s\" did not reach usher-notificationd within %d s (%s)",
		         name, ms / 1000, why);
	return account;
}

static void start_with_polls(const char *poll_ms)
{
	static char outbox[64], events[64];
	snprintf(outbox, sizeof(outbox), "OUTBOX_POLL_MS=%s", poll_ms);
	snprintf(events, sizeof(events), "EVENTS_POLL_MS=%s", poll_ms);
	sys.extra_env[0] = spool_setting;
	sys.extra_env[1] = "DELIVERY_WORKERS=0";
	sys.extra_env[2] = outbox;
	sys.extra_env[3] = events;
	/* The outbox relays take their rows well after the event relay's look for the same
	 * request: invitation.sent (written as they take them) must come by their wake. */
	sys.extra_env[4] = "OUTBOX_COALESCE_MS=500";
	sys.extra_env[5] = NULL;
}

static void test_no_function_sends_notify(void **state)
{
	(void)state;
	for (int which = UT_IDENTITY; which < UT_N_SERVICES; which++)
		assert_int_equal(ut_db_number(ut_system_db(&sys, which),
		                              "SELECT count(*) FROM pg_proc WHERE prosrc ILIKE '%%pg_notify%%'"
		                              " AND pronamespace IN (SELECT oid FROM pg_namespace WHERE"
		                              " nspname IN ('identity', 'tenancy', 'invitation',"
		                              " 'notification'))"),
		                 0);
}

/* The polls are 60 s apart: whatever reaches notificationd within WAKE_WITHIN_MS of a
 * change came by the wake. First a change of each kind whose events arrive however they
 * come (on a wake, or a poll): then each relay has just looked, and its next poll is a
 * full 60 s away. */
static void test_own_commits_wake_the_relays(void **state)
{
	(void)state;
	char *primed = invite(new_account("Primed", 90000, "a wake or a poll"),
	                      "first@wake.example");
	must_arrive("invitation.created", primed, 90000, "a wake or a poll");
	must_arrive("invitation.sent", primed, 90000, "a wake or a poll");

	/* invitationd: the request wakes the event relay (invitation.created) and the outbox
	 * relays; their take wakes the event relay again (invitation.sent, written by the
	 * outbox_taken trigger as the row is taken). */
	char *team = new_account("Wake Team 2", WAKE_WITHIN_MS, "tenancyd's relay was not woken");
	char *second = invite(team, "second@wake.example");
	must_arrive("invitation.created", second, WAKE_WITHIN_MS, "the event relay was not woken");
	must_arrive("invitation.sent", second, WAKE_WITHIN_MS,
	            "the outbox relays, or the event relay after them, were not woken");
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.outbox"),
	                 0);
}

/* Rows another process wrote: no wake comes, the poll (200 ms here) finds them. */
static void test_the_poll_finds_rows_of_another_process(void **state)
{
	(void)state;
	char *team = new_account("Poll Team", 90000, "a wake or a poll");
	char *id = invite(team, "polled@wake.example");
	must_arrive("invitation.sent", id, 90000, "a wake or a poll");

	assert_int_not_equal(ut_system_signal(&sys, UT_INVITATION, SIGTERM, 60000, NULL), -1);
	assert_int_not_equal(ut_system_signal(&sys, UT_TENANCY, SIGTERM, 60000, NULL), -1);
	start_with_polls("200");
	ut_system_start(&sys, UT_TENANCY);
	ut_system_start(&sys, UT_INVITATION);
	/* The relays' first look, at start, is behind them once a woken one has come. */
	char *later = invite(new_account("Poll Team 2", 90000, "a wake"), "later@wake.example");
	must_arrive("invitation.sent", later, 90000, "a wake");

	/* An event written by an UPDATE from this process (the revoke's trigger). Alone: an
	 * outbox row taken would wake the event relay too. */
	ut_db_admin_exec(ut_system_db(&sys, UT_INVITATION),
	                 us_arena_printf(A,
	                                 "UPDATE invitation.invitations SET state = 'revoked',"
	                                 " decided_at = now(), revoke_reason = 'by SQL'"
	                                 " WHERE id = '%s'",
	                                 id));
	must_arrive("invitation.revoked", id, POLL_WITHIN_MS, "invitationd's event relay did not poll");
	/* An outbox row (the inviter's notice of a decline), and a membership's change (its
	 * deferred trigger). */
	ut_db_admin_exec(ut_system_db(&sys, UT_INVITATION),
	                 us_arena_printf(A,
	                                 "INSERT INTO invitation.outbox (kind, invitation_id,"
	                                 "  send_number, account_id)"
	                                 " SELECT 'declined', id, send_count, account_id"
	                                 " FROM invitation.invitations WHERE id = '%s'",
	                                 id));
	ut_db_admin_exec(ut_system_db(&sys, UT_TENANCY),
	                 us_arena_printf(A,
	                                 "UPDATE tenancy.memberships SET status = 'deactivated'"
	                                 " WHERE account_id = '%s'",
	                                 team));
	int64_t until = us_monotonic_ms() + POLL_WITHIN_MS;
	while (ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                    "SELECT count(*) FROM invitation.outbox") > 0) {
		if (us_monotonic_ms() >= until)
			fail_msg("the outbox row was not taken within %d s: the outbox relays did not poll",
			         POLL_WITHIN_MS / 1000);
		struct timespec pause = {0, 20 * 1000000L};
		nanosleep(&pause, NULL);
	}
	if (!arrives_for_account("membership.deactivated", team, POLL_WITHIN_MS))
		fail_msg("membership.deactivated did not come within %d s: tenancyd's relay did not poll",
		         POLL_WITHIN_MS / 1000);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "relay_wake");
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s/mail", sys.dir);
	start_with_polls("60000");
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "owner@wake.example", "Olivia Owner", PASSWORD);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_function_sends_notify),
		cmocka_unit_test(test_own_commits_wake_the_relays),
		cmocka_unit_test(test_the_poll_finds_rows_of_another_process),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
