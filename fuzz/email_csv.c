/* CSV import (common/email_csv.c), as usherctl and the gateway feed it: the input after
 * its first byte is the file, read once whole and once in pieces of 1 to 64 bytes (the
 * first byte seeds their sizes). Properties: the two readings agree on the outcome, the
 * error and every row; rows keep increasing spreadsheet row numbers (row 1 only in a file
 * without a header); a kept cell is valid UTF-8 of at most 1000 bytes, a rejected one has
 * a reason; never more rows than allowed. */
#include "fuzz.h"

#include "common/email_csv.h"
#include "common/validate.h"

#define MAX_ROWS 64

static us_email_csv *read_all(const uint8_t *data, size_t size, uint32_t seed, us_err *rc)
{
	us_email_csv *r = us_email_csv_new(MAX_ROWS);
	FUZZ_CHECK(r != NULL);
	*rc = US_OK;
	for (size_t off = 0; off < size && *rc == US_OK;) {
		size_t n = seed == 0 ? size : fuzz_piece(&seed);
		if (n > size - off)
			n = size - off;
		*rc = us_email_csv_feed(r, data + off, n);
		off += n;
	}
	if (*rc == US_OK)
		*rc = us_email_csv_finish(r);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t seed = (uint32_t)data[0] + 1;
	us_err whole_rc, pieces_rc;
	us_email_csv *whole = read_all(data + 1, size - 1, 0, &whole_rc);
	us_email_csv *pieces = read_all(data + 1, size - 1, seed, &pieces_rc);

	FUZZ_CHECK(whole_rc == pieces_rc);
	FUZZ_CHECK(whole_rc == US_OK || whole_rc == US_EINVAL);
	FUZZ_CHECK(strcmp(us_email_csv_error(whole), us_email_csv_error(pieces)) == 0);
	FUZZ_CHECK((whole_rc == US_OK) == (us_email_csv_error(whole)[0] == '\0'));
	size_t n, n2;
	const us_email_csv_row *rows = us_email_csv_rows(whole, &n);
	const us_email_csv_row *rows2 = us_email_csv_rows(pieces, &n2);
	FUZZ_CHECK(n == n2 && n <= MAX_ROWS);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(rows[i].row == rows2[i].row);
		FUZZ_CHECK(rows[i].row >= 1 && (i == 0 || rows[i].row > rows[i - 1].row));
		FUZZ_CHECK((rows[i].email == NULL) == (rows2[i].email == NULL));
		if (rows[i].email != NULL) {
			size_t len = strlen(rows[i].email);
			FUZZ_CHECK(strcmp(rows[i].email, rows2[i].email) == 0);
			FUZZ_CHECK(len <= US_EMAIL_CSV_FIELD_MAX && us_utf8_valid(rows[i].email, len));
		} else {
			FUZZ_CHECK(rows[i].problem != NULL && rows2[i].problem != NULL);
			FUZZ_CHECK(strcmp(rows[i].problem, rows2[i].problem) == 0);
		}
	}
	us_email_csv_free(whole);
	us_email_csv_free(pieces);
	return 0;
}
