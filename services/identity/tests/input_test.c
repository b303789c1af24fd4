/* identityd's input rules without a process: the password rule it owns (worded as every
 * caller words it), passwords being checked, email arguments and principal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/limits.h"
#include "common/validate.h"
#include "input.h"
#include "principals.h"

static char *repeat(char c, size_t n)
{
	static char buf[US_PASSWORD_MAX_BYTES + 2];
	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_new_password_rule(void **state)
{
	(void)state;
	assert_string_equal(us_password_check(""), "must not be empty");
	assert_string_equal(us_password_check(repeat('a', US_PASSWORD_MIN_BYTES - 1)),
	                    "must be at least 8 characters");
	assert_null(us_password_check(repeat('a', US_PASSWORD_MIN_BYTES)));
	assert_null(us_password_check(repeat('a', US_PASSWORD_MAX_BYTES)));
	assert_string_equal(us_password_check(repeat('a', US_PASSWORD_MAX_BYTES + 1)),
	                    "must be at most 1024 bytes");
	/* Bytes, not characters: 3 two-byte characters are 6 bytes, too short. */
	assert_non_null(us_password_check("\xc3\xa9\xc3\xa9\xc3\xa9"));
}

static void test_password_being_checked(void **state)
{
	(void)state;
	/* A password set under an older rule still gets checked: only empty and over-long
	 * ones are refused before any hashing. */
	assert_string_equal(identity_input_password(""), "must not be empty");
	assert_null(identity_input_password("x"));
	assert_null(identity_input_password(repeat('a', US_PASSWORD_MAX_BYTES)));
	assert_string_equal(identity_input_password(repeat('a', US_PASSWORD_MAX_BYTES + 1)),
	                    "must be at most 1024 bytes");
}

static void test_email_argument(void **state)
{
	(void)state;
	char out[US_EMAIL_MAX + 1];
	assert_null(identity_input_email("  Ann.Lee@Example.COM ", out, sizeof(out)));
	assert_string_equal(out, "ann.lee@example.com");
	assert_string_equal(identity_input_email("ann", out, sizeof(out)),
	                    us_email_check("ann"));
	char longer[US_EMAIL_MAX + 10];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_string_equal(identity_input_email(longer, out, sizeof(out)),
	                    "must be at most 254 characters");
}

static void test_principal_names(void **state)
{
	(void)state;
	const char *good[] = {"a", "billing", "crm-sync.v2", "0_worker",
	                      "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(identity_principals_name_ok(good[i]));
	const char *bad[] = {
		"", "Billing", "-lead", ".lead", "_lead", "has space", "a/b",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
		/* Principals are named by name or id: a name may not be an id. */
		"0b7c6f57-8a51-4c3e-9a0c-2f1f6d5e4a10",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (identity_principals_name_ok(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_password_rule),
		cmocka_unit_test(test_password_being_checked),
		cmocka_unit_test(test_email_argument),
		cmocka_unit_test(test_principal_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
