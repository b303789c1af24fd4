/* Request ids and traceparents: what the gateway takes from outside and what it makes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/trace.h"

static void test_request_ids(void **state)
{
	(void)state;
	assert_true(us_request_id_valid("abc-DEF_123.4:5"));
	assert_true(us_request_id_valid("4bf92f35-77b3-4da6-a3ce-929d0e0e4736"));
	assert_false(us_request_id_valid(""));
	assert_false(us_request_id_valid("has space"));
	assert_false(us_request_id_valid("quote\""));
	assert_false(us_request_id_valid("new\nline"));
	assert_false(us_request_id_valid("caf\xc3\xa9"));
	char longest[US_REQUEST_ID_MAX + 2];
	memset(longest, 'a', sizeof(longest));
	longest[US_REQUEST_ID_MAX] = '\0';
	assert_true(us_request_id_valid(longest));
	longest[US_REQUEST_ID_MAX] = 'a';
	longest[US_REQUEST_ID_MAX + 1] = '\0';
	assert_false(us_request_id_valid(longest));
	char a[33], b[33];
	us_request_id_new(a);
	us_request_id_new(b);
	assert_int_equal(strlen(a), 32);
	assert_true(us_request_id_valid(a));
	assert_string_not_equal(a, b);
}

static void test_traceparents(void **state)
{
	(void)state;
	const char *given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	assert_true(us_traceparent_valid(given));
	assert_false(us_traceparent_valid("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
	assert_false(us_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
	assert_false(us_traceparent_valid("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
	assert_false(us_traceparent_valid("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
	assert_false(us_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"));
	assert_false(us_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"));
	assert_false(us_traceparent_valid(""));

	/* Continued: the same trace and flags, a new parent (this hop). */
	char next[US_TRACEPARENT_SIZE];
	us_traceparent_next(given, next);
	assert_true(us_traceparent_valid(next));
	assert_memory_equal(next, given, 36);
	assert_string_equal(next + 52, "-01");
	assert_memory_not_equal(next + 36, given + 36, 16);
	/* Started: a valid new trace when none or a bad one came. */
	char fresh[US_TRACEPARENT_SIZE];
	us_traceparent_next("garbage", fresh);
	assert_true(us_traceparent_valid(fresh));
	assert_memory_not_equal(fresh + 3, given + 3, 32);
	us_traceparent_next(NULL, fresh);
	assert_true(us_traceparent_valid(fresh));
	assert_string_equal(fresh + 52, "-01");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_ids),
		cmocka_unit_test(test_traceparents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
