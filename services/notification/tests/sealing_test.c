/* Queued emails keep their variables (links among them) sealed with
 * NOTIFICATION_SEAL_KEY until delivery (issue 11, hole 7): a dump of the table shows no
 * link, a sealed value moved onto another message does not open, and messages queued
 * before sealing are sealed when the daemon starts. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fixture.h"

#define SENT USHER__V1__DELIVERY_STATE__DELIVERY_SENT
#define FAILED USHER__V1__DELIVERY_STATE__DELIVERY_FAILED

#define TOKEN "Q2xlYXJseV9hX3NlY3JldF90b2tlbl9mb3JfdGVzdHM"
#define LINK "https://usher.test/i/" TOKEN

static nt_fixture F;

static int teardown(void **state)
{
	(void)state;
	nt_teardown(&F);
	return 0;
}

/* Messages whose row, as text (bytea as hex), holds the token or its hex. */
static long long rows_holding_the_token(void)
{
	char hex[2 * sizeof(TOKEN) + 1];
	sodium_bin2hex(hex, sizeof(hex), (const unsigned char *)TOKEN, sizeof(TOKEN) - 1);
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM notification.messages m "
	         "WHERE strpos(m::text, '%s') > 0 OR strpos(lower(m::text), '%s') > 0",
	         TOKEN, hex);
	return nt_sql_number(&F, sql);
}

static void restart_delivering(void)
{
	ut_system_signal(&F.sys, UT_NOTIFICATION, SIGTERM, 5000, NULL);
	nt_setenv(&F, "DELIVERY_WORKERS=1");
	nt_start(&F);
}

static char *spooled(const char *id)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/mail/%s.eml", F.scratch, id);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char data[16384];
	size_t len = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[len] = '\0';
	return data;
}

static void test_a_queued_link_is_sealed_at_rest(void **state)
{
	(void)state;
	nt_init(&F, "notify_sealed");
	nt_setenv(&F, "DELIVERY_WORKERS=0");
	nt_start(&F);
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-sealed", "sealed@example.com", LINK), &id,
	                         NULL),
	                 US_OK);
	assert_int_equal(nt_sql_number(&F, "SELECT count(*) FROM notification.messages "
	                                   "WHERE sealed_variables IS NOT NULL AND variables IS NULL"),
	                 1);
	assert_int_equal(rows_holding_the_token(), 0);

	/* Delivery opens it: the email holds the link intact. */
	restart_delivering();
	nt_wait_state(&F, "sealed@example.com", id, SENT, 15000);
	char *text = ut_mail_part(spooled(id), "text/plain");
	assert_non_null(strstr(text, LINK));
	free(text);
	assert_int_equal(nt_sql_number(&F, "SELECT count(*) FROM notification.messages "
	                                   "WHERE sealed_variables IS NOT NULL"),
	                 0);
}

static void test_a_sealed_value_moved_to_another_message_does_not_open(void **state)
{
	(void)state;
	nt_init(&F, "notify_moved");
	nt_setenv(&F, "DELIVERY_WORKERS=0");
	nt_start(&F);
	char *victim = NULL, *thief = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-victim", "victim@example.com", LINK),
	                         &victim, NULL),
	                 US_OK);
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-thief", "thief@example.com",
	                                           "https://usher.test/i/nothing-to-see"),
	                         &thief, NULL),
	                 US_OK);
	/* Someone who can write the table gives the thief's message the victim's link. */
	assert_int_equal(nt_sql_number(&F, "WITH v AS (SELECT sealed_variables FROM "
	                                   "notification.messages WHERE recipient = "
	                                   "'victim@example.com'), u AS (UPDATE notification.messages m "
	                                   "SET sealed_variables = v.sealed_variables FROM v "
	                                   "WHERE m.recipient = 'thief@example.com' RETURNING 1) "
	                                   "SELECT count(*) FROM u"),
	                 1);
	restart_delivering();
	Usher__V1__Delivery *d = nt_wait_state(&F, "thief@example.com", thief, FAILED, 15000);
	assert_non_null(strstr(d->last_reply, "do not open"));
	nt_wait_state(&F, "victim@example.com", victim, SENT, 15000);
}

static void test_messages_queued_before_sealing_are_sealed_at_start(void **state)
{
	(void)state;
	nt_init(&F, "notify_legacy");
	nt_setenv(&F, "DELIVERY_WORKERS=0");
	nt_start(&F);
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-legacy", "legacy@example.com",
	                                           "https://usher.test/i/placeholder"),
	                         &id, NULL),
	                 US_OK);
	/* As a row queued by the version before sealing looked. */
	assert_int_equal(nt_sql_number(&F, "WITH u AS (UPDATE notification.messages SET "
	                                   "sealed_variables = NULL, variables = jsonb_build_object("
	                                   "'account_name', 'Acme', 'inviter_name', 'Ada', 'role', "
	                                   "'member', 'link', '" LINK "', 'expires_at', 'soon') "
	                                   "RETURNING 1) SELECT count(*) FROM u"),
	                 1);
	assert_int_equal(rows_holding_the_token(), 1);
	restart_delivering();
	nt_wait_state(&F, "legacy@example.com", id, SENT, 15000);
	assert_int_equal(rows_holding_the_token(), 0);
	char *text = ut_mail_part(spooled(id), "text/plain");
	assert_non_null(strstr(text, LINK));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_a_queued_link_is_sealed_at_rest, teardown),
		cmocka_unit_test_teardown(test_a_sealed_value_moved_to_another_message_does_not_open,
		                          teardown),
		cmocka_unit_test_teardown(test_messages_queued_before_sealing_are_sealed_at_start,
		                          teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
