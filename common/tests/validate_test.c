/* Shared input checks: email syntax and normalisation, phones, UUIDs, names, tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/token.h"
#include "common/validate.h"

static void test_email_normalize(void **state)
{
	(void)state;
	char out[300];
	assert_int_equal(us_email_normalize("  Alice.Smith@Example.COM \t", out, sizeof(out)), 0);
	assert_string_equal(out, "alice.smith@example.com");
	char tiny[4];
	assert_int_equal(us_email_normalize("a@b.co", tiny, sizeof(tiny)), -1);
}

static void test_email_check(void **state)
{
	(void)state;
	const char *good[] = {
		"a@b.co", "alice.smith@example.com", "o'brien+tag@mail.example.org",
		"x_y-z@sub-domain.example.io", "1234@numbers.example.com",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = us_email_check(good[i]);
		if (why != NULL)
			fail_msg("%s: %s", good[i], why);
	}
	const char *bad[] = {
		"", "plainaddress", "@example.com", "a@", "a@@b.com", "a@b@c.com", "<a@b.com>",
		"a@b.com>", "a b@c.com", ".a@b.com", "a.@b.com", "a..b@c.com", "a@b", "a@-b.com",
		"a@b-.com", "a@b..com", "a@b.c1", "a@[127.0.0.1]", "a\"b@c.com", "a@b.c",
		"a@b_c.com",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (us_email_check(bad[i]) == NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_string_equal(us_email_check("<x@y.com>"), "must not contain < or >");
	char local[80];
	memset(local, 'a', 65);
	strcpy(local + 65, "@b.co");
	assert_non_null(us_email_check(local));
	assert_string_equal(us_email_domain("a@b.example.com"), "b.example.com");
}

static void test_phone_uuid_name(void **state)
{
	(void)state;
	assert_null(us_phone_check("+14155550123"));
	assert_null(us_phone_check("+447911123456"));
	assert_non_null(us_phone_check("14155550123"));
	assert_non_null(us_phone_check("+1415"));
	assert_non_null(us_phone_check("+0123456789"));
	assert_non_null(us_phone_check("+1415555012a"));
	assert_non_null(us_phone_check("+1234567890123456"));

	assert_null(us_uuid_check("0b7e7dd2-3d4f-4c1e-9a8b-1c2d3e4f5a6b"));
	assert_non_null(us_uuid_check("0B7E7DD2-3D4F-4C1E-9A8B-1C2D3E4F5A6B"));
	assert_non_null(us_uuid_check("0b7e7dd23d4f4c1e9a8b1c2d3e4f5a6b"));
	assert_non_null(us_uuid_check("' OR 1=1 --"));

	assert_null(us_name_check("Zoë Ångström", 100));
	assert_non_null(us_name_check("", 100));
	assert_non_null(us_name_check("   ", 100));
	assert_non_null(us_name_check("a\nb", 100));
	assert_non_null(us_name_check("\xff\xfe", 100));
	assert_non_null(us_name_check("abcdef", 5));
}

static void test_tokens(void **state)
{
	(void)state;
	uint8_t key[US_TOKEN_KEY_BYTES], other[US_TOKEN_KEY_BYTES];
	assert_int_equal(us_token_key_from_hex(
	                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key), 0);
	memcpy(other, key, sizeof(key));
	other[0] ^= 1;
	char a[US_TOKEN_TEXT_LEN + 1], b[US_TOKEN_TEXT_LEN + 1];
	us_token_new(a);
	us_token_new(b);
	assert_int_equal(strlen(a), US_TOKEN_TEXT_LEN);
	assert_string_not_equal(a, b);
	assert_null(strpbrk(a, "+/="));

	uint8_t h1[US_TOKEN_HASH_BYTES], h2[US_TOKEN_HASH_BYTES];
	assert_int_equal(us_token_hash(a, key, h1), US_OK);
	assert_int_equal(us_token_hash(a, key, h2), US_OK);
	assert_memory_equal(h1, h2, sizeof(h1));
	assert_int_equal(us_token_hash(a, other, h2), US_OK);
	assert_memory_not_equal(h1, h2, sizeof(h1)); /* keyed */
	assert_int_equal(us_token_hash(b, key, h2), US_OK);
	assert_memory_not_equal(h1, h2, sizeof(h1));

	/* Found by fuzzing: libsodium 1.0.18 decodes any byte from 0x80 up as '_', so one
	 * token had 129 spellings of each '_' in it. Only the one it was given is accepted. */
	char respelled[US_TOKEN_TEXT_LEN + 1];
	memcpy(respelled, a, sizeof(respelled));
	respelled[0] = '_';
	assert_int_equal(us_token_hash(respelled, key, h1), US_OK);
	respelled[0] = (char)0x98;
	assert_int_equal(us_token_hash(respelled, key, h2), US_EINVAL);
	assert_true(us_base64_chars("AZaz09-_+/=", 11));
	assert_false(us_base64_chars("ab\x98", 3));
	assert_false(us_base64_chars("a b", 3));

	assert_int_equal(us_token_hash("short", key, h1), US_EINVAL);
	assert_int_equal(us_token_hash("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", key, h1), US_EINVAL);
	assert_non_null(us_token_check_key_hex("abc"));
	assert_null(us_token_check_key_hex(
	        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_email_normalize),
		cmocka_unit_test(test_email_check),
		cmocka_unit_test(test_phone_uuid_name),
		cmocka_unit_test(test_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
