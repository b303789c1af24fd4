/* The store helpers every service uses: the row reader (on results built in memory), the
 * one timestamp format, the exact page tokens and the array builders. No database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "common/arena.h"
#include "common/db.h"
#include "common/page_token.h"
#include "common/row.h"
#include "common/timestamp.h"

/* A result of one row whose columns hold values (NULL: SQL NULL), as libpq would. */
static PGresult *result_of(const char *const *values, int n)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[8];
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < n; i++) {
		attrs[i].name = (char *)"c";
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_int_equal(PQsetResultAttrs(res, n, attrs), 1);
	for (int i = 0; i < n; i++)
		assert_int_equal(PQsetvalue(res, 0, i, (char *)values[i],
		                            values[i] ? (int)strlen(values[i]) : -1), 1);
	return res;
}

static void test_row_reads_each_type_and_null(void **state)
{
	(void)state;
	const char *values[] = {"hello", "42", "t", NULL, "2024-05-01T12:34:56.789Z",
	                        "{a,\"b c\",\"d\\\"e\",NULL}"};
	PGresult *res = result_of(values, 6);
	us_arena *arena = us_arena_new();
	us_row r = us_row_at(arena, res, 0, 0);
	assert_string_equal(us_row_text(&r, 0), "hello");
	assert_int_equal(us_row_int(&r, 1), 42);
	assert_true(us_row_bool(&r, 2));
	assert_true(us_row_null(&r, 3));
	assert_string_equal(us_row_text(&r, 3), "");
	assert_int_equal(us_row_int(&r, 3), 0);
	assert_null(us_timestamp_check(us_row_timestamp(&r, 4)));
	size_t n = 0;
	char **items = us_row_array(&r, 5, &n);
	assert_int_equal(n, 4);
	assert_string_equal(items[0], "a");
	assert_string_equal(items[1], "b c");
	assert_string_equal(items[2], "d\"e");
	assert_string_equal(items[3], "");
	assert_false(us_row_failed(&r));

	/* Columns counted from a base: the same row read as the tail of a wider select. */
	us_row tail = us_row_at(arena, res, 0, 1);
	assert_int_equal(us_row_int(&tail, 0), 42);
	PQclear(res);
	us_arena_free(arena);
}

static void test_array_builder_and_reader_are_inverse(void **state)
{
	(void)state;
	const char *items[] = {"plain", "with \"quote\"", "back\\slash", "", "comma,brace}"};
	us_arena *arena = us_arena_new();
	char *literal = us_db_text_array(arena, items, 5);
	assert_non_null(literal);
	const char *values[] = {literal};
	PGresult *res = result_of(values, 1);
	us_row r = us_row_at(arena, res, 0, 0);
	size_t n = 0;
	char **back = us_row_array(&r, 0, &n);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(back[i], items[i]);
	bool flags[] = {true, false, true};
	assert_string_equal(us_db_bool_array(arena, flags, 3), "{t,f,t}");
	PQclear(res);
	us_arena_free(arena);
}

static void test_timestamp_format_is_exact(void **state)
{
	(void)state;
	assert_null(us_timestamp_check("2024-02-29T23:59:59.000Z"));
	assert_non_null(us_timestamp_check("2023-02-29T00:00:00.000Z")); /* not a leap year */
	assert_non_null(us_timestamp_check("2024-05-01T12:34:56Z"));      /* whole seconds */
	assert_non_null(us_timestamp_check("2024-05-01T12:34:56.789123Z")); /* microseconds */
	assert_non_null(us_timestamp_check("2024-05-01 12:34:56.789+00"));  /* Postgres's own */
	assert_non_null(us_timestamp_check("2024-05-01T24:00:00.000Z"));
}

static void test_page_token_round_trips_exactly(void **state)
{
	(void)state;
	/* A microsecond count beyond a double's exact range survives unchanged. */
	us_page_cursor c = {.created_us = 9007199254740993LL,
	                    .id = "0f8fad5b-d9cb-469f-a165-70867728950e"};
	char token[US_PAGE_TOKEN_LEN + 1];
	us_page_token_encode(&c, token);
	assert_int_equal(strlen(token), US_PAGE_TOKEN_LEN);
	us_page_cursor back;
	assert_true(us_page_token_decode(token, &back));
	assert_true(back.created_us == c.created_us);
	assert_string_equal(back.id, c.id);

	/* One spelling per position: a changed last character or a byte outside the
	 * alphabet is not a token. */
	char other[US_PAGE_TOKEN_LEN + 1];
	memcpy(other, token, sizeof(other));
	other[US_PAGE_TOKEN_LEN - 1] = other[US_PAGE_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
	assert_false(us_page_token_decode(other, &back) && back.created_us == c.created_us &&
	             strcmp(back.id, c.id) == 0);
	memcpy(other, token, sizeof(other));
	other[3] = (char)0xC0;
	assert_false(us_page_token_decode(other, &back));
	assert_false(us_page_token_decode("", &back));
	assert_false(us_page_token_decode("not a token", &back));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_reads_each_type_and_null),
		cmocka_unit_test(test_array_builder_and_reader_are_inverse),
		cmocka_unit_test(test_timestamp_format_is_exact),
		cmocka_unit_test(test_page_token_round_trips_exactly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
