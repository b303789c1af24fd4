/* The login throttle's decisions without a database: what an attempt's failures count
 * under (keyed hashes of the email, the network and the pair) and how long it waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "throttle.h"

static const uint8_t key[US_TOKEN_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t other_key[US_TOKEN_KEY_BYTES] = {8, 7, 6, 5, 4, 3, 2, 1};

static bool same(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, IDENTITY_SUBJECT_BYTES) == 0;
}

static bool network_same(const char *a, const char *b)
{
	uint8_t x[IDENTITY_SUBJECT_BYTES], y[IDENTITY_SUBJECT_BYTES];
	assert_true(identity_throttle_network_subject(key, a, x));
	assert_true(identity_throttle_network_subject(key, b, y));
	return same(x, y);
}

static void test_networks(void **state)
{
	(void)state;
	/* An IPv6 client counts by its /64, however it is spelt. */
	assert_true(network_same("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	assert_true(network_same("2001:db8:1:2::1", "2001:0DB8:0001:0002:0:0:0:9"));
	assert_false(network_same("2001:db8:1:2::1", "2001:db8:1:3::1"));
	/* An IPv4 client by its whole address. */
	assert_false(network_same("192.0.2.1", "192.0.2.2"));
	assert_true(network_same("192.0.2.1", "192.0.2.1"));
	uint8_t out[IDENTITY_SUBJECT_BYTES];
	const char *bad[] = {"", "example.com", "192.0.2", "192.0.2.256", "2001:db8::1::2",
	                     "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(identity_throttle_network_subject(key, bad[i], out));
		assert_false(bad[i][0] != '\0' && identity_throttle_address_ok(bad[i]));
	}
	assert_true(identity_throttle_address_ok(""));
	assert_true(identity_throttle_address_ok("::1"));
}

static void test_subjects_are_keyed_and_kinded(void **state)
{
	(void)state;
	uint8_t a[IDENTITY_SUBJECT_BYTES], b[IDENTITY_SUBJECT_BYTES];
	identity_throttle_email_subject(key, "ann@example.com", a);
	identity_throttle_email_subject(other_key, "ann@example.com", b);
	assert_false(same(a, b));
	/* The same bytes under another kind are another subject. */
	identity_throttle_subject(key, "reset-email", "ann@example.com", 15, b);
	assert_false(same(a, b));
	identity_throttle_subject(key, "email", "ann@example.com", 15, b);
	assert_true(same(a, b));
	/* The kind ends where its NUL is: "emai" + "lann..." is not "email" + "ann...". */
	identity_throttle_subject(key, "emai", "lann@example.com", 16, b);
	assert_false(same(a, b));
}

static void test_attempt_subjects(void **state)
{
	(void)state;
	identity_throttle_attempt x, y;
	identity_throttle_attempt_init(key, "ann@example.com", "", &x);
	assert_null(x.subjects.network);
	assert_ptr_equal(x.subjects.pair, x.pair);
	assert_ptr_equal(x.subjects.email, x.email);
	uint8_t email[IDENTITY_SUBJECT_BYTES];
	identity_throttle_email_subject(key, "ann@example.com", email);
	assert_true(same(x.email, email));

	identity_throttle_attempt_init(key, "ann@example.com", "2001:db8::1", &y);
	assert_ptr_equal(y.subjects.network, y.network);
	assert_true(same(x.email, y.email));
	/* The pair depends on the network; the network subject is the network's own. */
	assert_false(same(x.pair, y.pair));
	uint8_t net[IDENTITY_SUBJECT_BYTES];
	assert_true(identity_throttle_network_subject(key, "2001:db8::ffff", net));
	assert_true(same(y.network, net));

	identity_throttle_attempt z;
	identity_throttle_attempt_init(key, "bob@example.com", "2001:db8::2", &z);
	assert_true(same(y.network, z.network));
	assert_false(same(y.pair, z.pair));
	assert_false(same(y.email, z.email));
	/* Same email, another /64: another pair. */
	identity_throttle_attempt_init(key, "ann@example.com", "2001:db8:0:1::1", &z);
	assert_false(same(y.pair, z.pair));
	/* Same email and network, other spelling: the same pair. */
	identity_throttle_attempt_init(key, "ann@example.com", "2001:db8:0:0:1::", &z);
	assert_true(same(y.pair, z.pair));
}

static const identity_settings settings = {
	.login_max_failures = 5,
	.login_max_failures_per_email = 100,
	.login_max_failures_per_address = 50,
	.login_backoff_base_ms = 1000,
	.login_backoff_max_s = 900,
};

static int64_t wait_for(identity_throttle_count pair, identity_throttle_count email,
                        identity_throttle_count network, bool has_network)
{
	identity_throttle_count c[3] = {pair, email, network};
	return identity_throttle_wait_ms(&settings, c, has_network);
}

static void test_backoff(void **state)
{
	(void)state;
	identity_throttle_count none = {0};
	assert_int_equal(wait_for(none, none, none, true), 0);
	/* Below the limit: no wait, however recent. */
	assert_int_equal(wait_for((identity_throttle_count){4, 0, false}, none, none, true), 0);
	/* At the limit the base, then doubling per further failure, from the last failure. */
	assert_int_equal(wait_for((identity_throttle_count){5, 0, false}, none, none, true), 1000);
	assert_int_equal(wait_for((identity_throttle_count){5, 400, false}, none, none, true), 600);
	assert_int_equal(wait_for((identity_throttle_count){6, 0, false}, none, none, true), 2000);
	assert_int_equal(wait_for((identity_throttle_count){8, 1000, false}, none, none, true), 7000);
	assert_int_equal(wait_for((identity_throttle_count){5, 5000, false}, none, none, true), 0);
	/* Capped at the maximum, even far past the limit (no overflow). */
	assert_int_equal(wait_for((identity_throttle_count){30, 0, false}, none, none, true), 900000);
	assert_int_equal(wait_for((identity_throttle_count){5 + 54, 0, false}, none, none, true),
	                 900000);
	assert_int_equal(wait_for((identity_throttle_count){1000000, 1, false}, none, none, true),
	                 899999);
}

static void test_email_and_network_limits(void **state)
{
	(void)state;
	identity_throttle_count none = {0};
	identity_throttle_count email_over = {100, 0, false};
	identity_throttle_count net_over = {51, 0, false};
	/* Many networks guessing one email: everyone waits... */
	assert_int_equal(wait_for(none, email_over, none, true), 1000);
	/* ...but a network that signed in to it before. */
	assert_int_equal(wait_for((identity_throttle_count){0, 0, true}, email_over, none, true), 0);
	/* One network spraying emails waits, unless no network is known. */
	assert_int_equal(wait_for(none, none, net_over, true), 2000);
	assert_int_equal(wait_for(none, none, net_over, false), 0);
	/* The longest wait wins. */
	assert_int_equal(wait_for((identity_throttle_count){7, 0, false}, email_over, net_over, true),
	                 4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_subjects_are_keyed_and_kinded),
		cmocka_unit_test(test_attempt_subjects),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_email_and_network_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
