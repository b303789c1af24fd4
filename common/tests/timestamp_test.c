/* us_timestamp_format writes what US_SQL_TIMESTAMP has Postgres write: the values below
 * are Postgres's own (to_char of the same microseconds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/timestamp.h"

static void expect(int64_t micros, const char *want)
{
	char got[US_TIMESTAMP_LEN + 1];
	us_timestamp_format(micros, got);
	assert_string_equal(got, want);
	assert_null(us_timestamp_check(got));
}

static void test_formats_as_postgres_does(void **state)
{
	(void)state;
	expect(0, "1970-01-01T00:00:00.000Z");
	/* 2026-11-28 18:21:05.459999 UTC: milliseconds truncated, not rounded. */
	expect(1795890065459999LL, "2026-11-28T18:21:05.459Z");
	/* A leap day, and the last microsecond of a year. */
	expect(1709164800000000LL, "2024-02-29T00:00:00.000Z");
	expect(1735689599999999LL, "2024-12-31T23:59:59.999Z");
	/* Before 1970: the fraction counts forward from the earlier second. */
	expect(-1, "1969-12-31T23:59:59.999Z");
	expect(-1500000, "1969-12-31T23:59:58.500Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_as_postgres_does),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
