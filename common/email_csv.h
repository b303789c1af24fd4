/* Reads a CSV file of email addresses, streamed in pieces: one header row; the email
 * column is the one headed "email" (any case), or the only column; a file of one column
 * whose first row holds an address (an "@") has no header, and that row is data (row 1);
 * RFC 4180 quoting;
 * UTF-8 with or without a byte-order mark; CRLF or LF; blank rows ignored. Every data row
 * keeps its row number as a spreadsheet shows it (the header is row 1). More rows than
 * the limit stops the reading with an error, before anything is acted on. */
#ifndef US_EMAIL_CSV_H
#define US_EMAIL_CSV_H

#include <stddef.h>

#include "common/err.h"

#define US_EMAIL_CSV_FIELD_MAX 1000

typedef struct us_email_csv_row {
	unsigned row;        /* 1-based, the header being row 1 */
	char *email;         /* the cell as written (owned by the reader); NULL when rejected */
	const char *problem; /* why the cell was rejected, when email is NULL */
} us_email_csv_row;

typedef struct us_email_csv us_email_csv;

/* A reader for at most max_rows data rows. NULL when out of memory. */
us_email_csv *us_email_csv_new(size_t max_rows);
void us_email_csv_free(us_email_csv *r); /* takes NULL */

/* Reads the next piece of the file. On failure (malformed CSV, no email column, too many
 * rows) returns INVALID_ARGUMENT and us_email_csv_error() says why; the reader then
 * refuses further input. */
US_MUST_USE us_err us_email_csv_feed(us_email_csv *r, const void *data, size_t len);

/* Ends the file. Fails like feed, and also for a file without a header row. */
US_MUST_USE us_err us_email_csv_finish(us_email_csv *r);

/* The reason for the last failure, for people: "row 3: malformed quoting". */
const char *us_email_csv_error(const us_email_csv *r);

/* The data rows read so far, in order. */
const us_email_csv_row *us_email_csv_rows(const us_email_csv *r, size_t *n);

#endif
