/* notificationd's pure pieces beyond templates, MIME and policy (unit_test.c): sealing
 * queued variables, and reading SMTP replies. No database, no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/arena.h"
#include "seal.h"
#include "smtp.h"

static const uint8_t key_a[NOTIFICATION_SEAL_KEY_BYTES] = {1, 2, 3};
static const uint8_t key_b[NOTIFICATION_SEAL_KEY_BYTES] = {1, 2, 4};

static int setup(void **state)
{
	*state = us_arena_new();
	return *state == NULL;
}

static int teardown(void **state)
{
	us_arena_free(*state);
	return 0;
}

static void test_sealed_variables_open_only_for_their_message(void **state)
{
	us_arena *a = *state;
	const char plain[] = "{\"link\":\"https://x.test/i/secret-token\"}";
	char *sealed = notification_seal(a, key_a, plain, strlen(plain), "invitation_new_user",
	                                 "ann@example.com");
	assert_non_null(sealed);
	/* At rest it is hex, and the link is not in it. */
	assert_null(strstr(sealed, "secret"));
	assert_int_equal(strspn(sealed, "0123456789abcdef"), strlen(sealed));

	char *opened = notification_unseal(a, key_a, sealed, "invitation_new_user",
	                                   "ann@example.com");
	assert_non_null(opened);
	assert_string_equal(opened, plain);
	/* Another key, recipient or template: it does not open. */
	assert_null(notification_unseal(a, key_b, sealed, "invitation_new_user", "ann@example.com"));
	assert_null(notification_unseal(a, key_a, sealed, "invitation_new_user", "bob@example.com"));
	assert_null(notification_unseal(a, key_a, sealed, "password_reset", "ann@example.com"));
	/* Tampered with, cut short or not hex. */
	sealed[strlen(sealed) - 1] = sealed[strlen(sealed) - 1] == '0' ? '1' : '0';
	assert_null(notification_unseal(a, key_a, sealed, "invitation_new_user", "ann@example.com"));
	assert_null(notification_unseal(a, key_a, "00ff", "invitation_new_user", "ann@example.com"));
	assert_null(notification_unseal(a, key_a, "not hex", "invitation_new_user",
	                                "ann@example.com"));
}

static void test_each_seal_has_its_own_nonce(void **state)
{
	us_arena *a = *state;
	char *one = notification_seal(a, key_a, "{}", 2, "t", "r@example.com");
	char *two = notification_seal(a, key_a, "{}", 2, "t", "r@example.com");
	assert_non_null(one);
	assert_non_null(two);
	assert_string_not_equal(one, two);
}

static void test_reply_codes(void **state)
{
	(void)state;
	assert_int_equal(notification_smtp_reply_code("250 2.0.0 Ok: queued as 12345"), 250);
	assert_int_equal(notification_smtp_reply_code("550 5.1.1 <x@y>: Recipient unknown"), 550);
	assert_int_equal(notification_smtp_reply_code("421"), 421);
	assert_int_equal(notification_smtp_reply_code(""), 0);
	assert_int_equal(notification_smtp_reply_code("25"), 0);
	assert_int_equal(notification_smtp_reply_code("150 not an SMTP class"), 0);
	assert_int_equal(notification_smtp_reply_code("650 nor this"), 0);
	assert_int_equal(notification_smtp_reply_code("2x0 garbled"), 0);
}

static void test_outcomes(void **state)
{
	(void)state;
	assert_int_equal(notification_smtp_outcome(true, "250 Ok", true), SEND_OK);
	/* A 5xx to RCPT, DATA or the data refuses this message for good... */
	assert_int_equal(notification_smtp_outcome(false, "550 5.1.1 unknown user", true),
	                 SEND_REFUSED);
	assert_int_equal(notification_smtp_outcome(false, "554 5.7.1 rejected", true), SEND_REFUSED);
	/* ...but before that it is about our session: the message waits. */
	assert_int_equal(notification_smtp_outcome(false, "535 5.7.8 bad credentials", false),
	                 SEND_TRANSIENT);
	assert_int_equal(notification_smtp_outcome(false, "452 4.2.2 mailbox full", true),
	                 SEND_TRANSIENT);
	assert_int_equal(notification_smtp_outcome(false, "", true), SEND_TRANSIENT);
	assert_int_equal(notification_smtp_outcome(false, "garbled", true), SEND_TRANSIENT);
}

static void test_replies_are_kept_printable_and_bounded(void **state)
{
	(void)state;
	char out[16];
	const char line[] = "250 Ok\r\n";
	notification_smtp_printable(out, sizeof(out), line, strlen(line));
	assert_string_equal(out, "250 Ok");
	const char odd[] = "550 b\x1b[31md\xc3\xa9\n";
	notification_smtp_printable(out, sizeof(out), odd, strlen(odd));
	assert_string_equal(out, "550 b?[31md??");
	const char longer[] = "421 this line is longer than the room";
	notification_smtp_printable(out, sizeof(out), longer, strlen(longer));
	assert_string_equal(out, "421 this line i");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sealed_variables_open_only_for_their_message,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_seal_has_its_own_nonce, setup, teardown),
		cmocka_unit_test(test_reply_codes),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_replies_are_kept_printable_and_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
