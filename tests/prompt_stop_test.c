/* A stop is prompt whatever the size of the work in hand: usher-invitationd, SIGTERMed
 * while its outbox holds 50,000 invitation emails (as after bench/list_bench.c), exits 0
 * well within the harness's minute, with usher-notificationd up (the relays stop after
 * the chunk in hand, leaving the rest) and with it gone (the call waiting for it is ended
 * at once, not at its 60 s deadline). The rows are made by SQL (the batch path is not
 * what this is about). Real daemons, real Postgres. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "calls.h"
#include "harness.h"

#define PASSWORD "correct horse battery"
#define ROWS 50000
/* Generous for a sanitized daemon on a loaded machine; before the fix the stop waited
 * for the relays' 60 s calls and chunks, past the harness's 60 s. */
#define STOP_WITHIN_MS 30000

static ut_system sys;
static us_arena *A;

/* An account with one invitation made the usual way, then ROWS copies of it and an
 * outbox row (an invitation email to send) for each copy, found by the relays' poll (the
 * rows come from another process). */
static void fill_outbox(const char *tag)
{
	char *owner = ut_create_user(&sys, A, us_arena_printf(A, "owner-%s@acme.example", tag),
	                             "Olivia Owner", PASSWORD);
	char *account = ut_create_account(&sys, A, owner, "Big Team", "");
	const char *const first[] = {us_arena_printf(A, "first-%s@example.com", tag)};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	us_status_init(&st);
	if (ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, first, 1,
	              &created, &st) != US_OK)
		fail_msg("CreateInvitations: %s", st.message);
	us_status_clear(&st);
	ut_db_admin_exec(
	        ut_system_db(&sys, UT_INVITATION),
	        us_arena_printf(
	                A,
	                "INSERT INTO invitation.invitations SELECT (jsonb_populate_record(i,"
	                " jsonb_build_object('id', gen_random_uuid(),"
	                "  'email', 'bulk' || g || '@example.com',"
	                "  'token_hash', decode(md5(g::text || clock_timestamp()::text), 'hex')))).*"
	                " FROM invitation.invitations i, generate_series(1, %d) g"
	                " WHERE i.account_id = '%s';"
	                " INSERT INTO invitation.outbox (kind, invitation_id, send_number,"
	                "  sealed_token, account_id)"
	                " SELECT 'invite', id, send_count, sealed_token, account_id"
	                " FROM invitation.invitations WHERE account_id = '%s' AND email LIKE 'bulk%%';"
	                " ANALYZE invitation.invitations; ANALYZE invitation.outbox;",
	                ROWS, account, account));
}

static void expect_prompt_stop(void)
{
	int64_t took = 0;
	int status = ut_system_signal(&sys, UT_INVITATION, SIGTERM, STOP_WITHIN_MS, &took);
	if (status == -1)
		fail_msg("usher-invitationd did not stop within %d s of SIGTERM", STOP_WITHIN_MS / 1000);
	print_message("usher-invitationd stopped %.1f s after SIGTERM\n", (double)took / 1000);
}

/* Waits until the relays are at the outbox: fewer rows than were put in. */
static void wait_for_relays(void)
{
	const ut_db *db = ut_system_db(&sys, UT_INVITATION);
	for (int i = 0; i < 600; i++) {
		if (ut_db_number(db, "SELECT count(*) FROM invitation.outbox") < ROWS ||
		    ut_db_number(db, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
		                     " AND query LIKE '%%FROM outbox%%'") > 0)
			return;
		struct timespec pause = {0, 100 * 1000000L};
		nanosleep(&pause, NULL);
	}
	fail_msg("the outbox relays never started on the outbox");
}

static void test_stop_is_prompt_while_the_outbox_is_handed_on(void **state)
{
	(void)state;
	fill_outbox("up");
	wait_for_relays();
	expect_prompt_stop();
	/* The stop waited for the chunks in hand (OUTBOX_BATCH=100 here), not for the rest:
	 * most of the outbox is left for the next start. Before, the relays drained it all. */
	long left = ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                         "SELECT count(*) FROM invitation.outbox");
	print_message("%ld of %d outbox rows left for the next start\n", left, ROWS);
	assert_true(left > ROWS / 2);
	ut_system_start(&sys, UT_INVITATION);
}

static void test_stop_is_prompt_with_notificationd_gone(void **state)
{
	(void)state;
	assert_int_not_equal(ut_system_signal(&sys, UT_NOTIFICATION, SIGTERM, 60000, NULL), -1);
	fill_outbox("gone");
	/* The relays find usher-notificationd gone: let them try a while. */
	struct timespec pause = {3, 0};
	nanosleep(&pause, NULL);
	expect_prompt_stop();
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "prompt_stop");
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s/mail", sys.dir);
	sys.extra_env[0] = spool_setting;
	sys.extra_env[1] = "DELIVERY_WORKERS=0";
	sys.extra_env[2] = "OUTBOX_BATCH=100"; /* many chunks: a stop must not wait for them all */
	ut_system_start_all(&sys);
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
		cmocka_unit_test(test_stop_is_prompt_while_the_outbox_is_handed_on),
		cmocka_unit_test(test_stop_is_prompt_with_notificationd_gone),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
