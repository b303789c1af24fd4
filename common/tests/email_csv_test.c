/* The CSV rules of an address upload, with small fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/email_csv.h"

typedef struct expect {
	unsigned row;
	const char *email; /* NULL: rejected */
} expect;

/* Feeds text in pieces of chunk bytes (so every split point gets exercised). */
static us_email_csv *read_csv(const char *text, size_t len, size_t chunk, size_t max, us_err *rc)
{
	us_email_csv *r = us_email_csv_new(max);
	*rc = US_OK;
	for (size_t off = 0; off < len && *rc == US_OK; off += chunk)
		*rc = us_email_csv_feed(r, text + off, off + chunk > len ? len - off : chunk);
	if (*rc == US_OK)
		*rc = us_email_csv_finish(r);
	return r;
}

static void check(const char *text, const expect *want, size_t n_want)
{
	size_t len = strlen(text);
	for (size_t chunk = 1; chunk <= len + 1; chunk = chunk < 8 ? chunk + 1 : chunk * 2) {
		us_err rc;
		us_email_csv *r = read_csv(text, len, chunk, 100, &rc);
		if (rc != US_OK)
			fail_msg("chunk %zu: %s", chunk, us_email_csv_error(r));
		size_t n;
		const us_email_csv_row *rows = us_email_csv_rows(r, &n);
		assert_int_equal(n, n_want);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(rows[i].row, want[i].row);
			if (want[i].email == NULL) {
				assert_null(rows[i].email);
				assert_non_null(rows[i].problem);
			} else {
				assert_string_equal(rows[i].email, want[i].email);
			}
		}
		us_email_csv_free(r);
	}
}

static void test_bom_crlf_blank_lines(void **state)
{
	(void)state;
	const expect want[] = {{2, "a@example.com"}, {4, "b@example.com"}};
	check("\xef\xbb\xbf" "Email\r\na@example.com\r\n\r\nb@example.com\r\n", want, 2);
	check("email\na@example.com\n\nb@example.com", want, 2);
}

static void test_email_column_by_header_or_only_column(void **state)
{
	(void)state;
	const expect want[] = {{2, "ann@example.com"}, {3, "bo@example.com"}};
	check("name,EMAIL,team\nAnn,ann@example.com,x\nBo,bo@example.com,y\n", want, 2);
	check("Addresses\nann@example.com\nbo@example.com\n", want, 2);
	us_err rc;
	us_email_csv *r = read_csv("name,address\nAnn,ann@example.com\n", 33, 64, 100, &rc);
	assert_int_equal(rc, US_EINVAL);
	assert_string_equal(us_email_csv_error(r), "row 1: no column is headed \"email\"");
	us_email_csv_free(r);
}

/* A file of addresses without a header row: its first address is row 1's, not lost as
 * a header. A name with no "@" in it is still a header. */
static void test_a_file_without_a_header_keeps_its_first_address(void **state)
{
	(void)state;
	const expect want[] = {{1, "ann@example.com"}, {2, "bo@example.com"}};
	check("ann@example.com\nbo@example.com\n", want, 2);
	check("\xef\xbb\xbf" "ann@example.com\r\nbo@example.com", want, 2);
	const expect one[] = {{2, "bo@example.com"}};
	check("Addresses\nbo@example.com\n", one, 1);
	/* Two columns and no "email" header stay refused, "@" or not. */
	us_err rc;
	us_email_csv *r = read_csv("ann@example.com,x\n", 18, 64, 100, &rc);
	assert_int_equal(rc, US_EINVAL);
	us_email_csv_free(r);
}

static void test_quoted_fields(void **state)
{
	(void)state;
	/* A comma and a line break inside quotes, and a doubled quote. */
	const expect want[] = {
		{2, "a@example.com"}, {3, "b@example.com"}, {4, "<x@y.com>"}, {5, "say \"hi\"@example.com"},
	};
	check("note,email\n\"one, two\",a@example.com\n\"line\nbreak\",\"b@example.com\"\n"
	      "x,<x@y.com>\ny,\"say \"\"hi\"\"@example.com\"\n",
	      want, 4);
	us_err rc;
	us_email_csv *r = read_csv("email\n\"unclosed@example.com\n", 26, 64, 100, &rc);
	assert_int_equal(rc, US_EINVAL);
	assert_non_null(strstr(us_email_csv_error(r), "malformed quoting"));
	us_email_csv_free(r);
}

static void test_rejected_cells_keep_their_row(void **state)
{
	(void)state;
	char text[2200];
	snprintf(text, sizeof(text), "email,n\n,empty\n\xff\xfe@example.com,bad\n");
	size_t len = strlen(text);
	char *long_cell = malloc(1200);
	memset(long_cell, 'a', 1100);
	long_cell[1100] = '\0';
	snprintf(text + len, sizeof(text) - len, "%s,long\n", long_cell);
	free(long_cell);
	const expect want[] = {{2, ""}, {3, NULL}, {4, NULL}};
	check(text, want, 3);
}

static void test_too_many_rows_is_refused(void **state)
{
	(void)state;
	size_t max = 1000;
	size_t cap = 32 * (max + 2);
	char *text = malloc(cap);
	size_t len = (size_t)snprintf(text, cap, "email\n");
	for (size_t i = 0; i < max + 1; i++)
		len += (size_t)snprintf(text + len, cap - len, "user%zu@example.com\n", i);
	us_err rc;
	us_email_csv *r = read_csv(text, len, 4096, max, &rc);
	assert_int_equal(rc, US_EINVAL);
	assert_string_equal(us_email_csv_error(r), "the file has more than 1000 rows of addresses");
	us_email_csv_free(r);
	/* Exactly the limit is fine. */
	len -= strlen("user1000@example.com\n");
	r = read_csv(text, len, 4096, max, &rc);
	assert_int_equal(rc, US_OK);
	size_t n;
	us_email_csv_rows(r, &n);
	assert_int_equal(n, max);
	us_email_csv_free(r);
	free(text);
}

/* libcsv keeps a cell whole while reading it: a cell over 64 KiB, in any column, stops
 * the file instead of growing that buffer with the upload. */
static void test_a_cell_over_64_kib_is_refused(void **state)
{
	(void)state;
	size_t cap = 80 * 1024;
	char *text = malloc(cap);
	int prefix = snprintf(text, cap, "name,email\n");
	memset(text + prefix, 'x', 60 * 1024);
	size_t len = (size_t)prefix + 60 * 1024;
	len += (size_t)snprintf(text + len, cap - len, ",a@example.com\n");
	us_err rc;
	us_email_csv *r = read_csv(text, len, 1000, 10, &rc);
	assert_int_equal(rc, US_OK);
	us_email_csv_free(r);

	memset(text + prefix, 'x', 70 * 1024);
	len = (size_t)prefix + 70 * 1024;
	len += (size_t)snprintf(text + len, cap - len, ",a@example.com\n");
	r = read_csv(text, len, 1000, 10, &rc);
	assert_int_equal(rc, US_EINVAL);
	assert_string_equal(us_email_csv_error(r), "row 2: a cell is longer than 64 KiB");
	us_email_csv_free(r);
	free(text);
}

static void test_empty_file_has_no_header(void **state)
{
	(void)state;
	us_err rc;
	us_email_csv *r = read_csv("\n\n", 2, 1, 10, &rc);
	assert_int_equal(rc, US_EINVAL);
	assert_string_equal(us_email_csv_error(r), "the file has no header row");
	us_email_csv_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bom_crlf_blank_lines),
		cmocka_unit_test(test_email_column_by_header_or_only_column),
		cmocka_unit_test(test_a_file_without_a_header_keeps_its_first_address),
		cmocka_unit_test(test_quoted_fields),
		cmocka_unit_test(test_rejected_cells_keep_their_row),
		cmocka_unit_test(test_too_many_rows_is_refused),
		cmocka_unit_test(test_empty_file_has_no_header),
		cmocka_unit_test(test_a_cell_over_64_kib_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
