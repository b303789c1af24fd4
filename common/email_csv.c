#include "common/email_csv.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "common/validate.h"

#define NO_COLUMN (-1)
/* libcsv holds the cell being read whole: a cell may be this long, in any column. */
#define CELL_BUFFER_MAX (64 * 1024)
#define CELL_BUFFER_STEP 4096

/* Set when libcsv asked for more than CELL_BUFFER_MAX: its realloc hook has no context. */
static _Thread_local bool cell_too_long;

struct us_email_csv {
	struct csv_parser parser;
	size_t max_rows;
	unsigned row;          /* the record being read */
	int last_terminator;   /* of the previous record: '\r', '\n' or -1 */
	bool seen_start;       /* the first bytes (a possible byte-order mark) are past */
	unsigned char lead[3]; /* the first bytes, held until a BOM can be ruled out */
	size_t n_lead;

	/* the record being read */
	size_t field;
	bool blank;           /* every field so far is empty */
	char *cell;           /* the email column's value */
	const char *problem;

	/* the header */
	bool header_done;
	int email_column;     /* NO_COLUMN until the header is read */
	size_t header_fields;
	int first_email_header;

	us_email_csv_row *rows;
	size_t n_rows, cap;
	bool failed;
	char error[160];
};

static void fail(us_email_csv *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(us_email_csv *r, const char *fmt, ...)
{
	if (r->failed)
		return;
	r->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static void *bounded_realloc(void *p, size_t size)
{
	if (size > CELL_BUFFER_MAX) {
		cell_too_long = true;
		return NULL;
	}
	return realloc(p, size);
}

us_email_csv *us_email_csv_new(size_t max_rows)
{
	us_email_csv *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL | CSV_APPEND_NULL) != 0) {
		free(r);
		return NULL;
	}
	csv_set_realloc_func(&r->parser, bounded_realloc);
	csv_set_blk_size(&r->parser, CELL_BUFFER_STEP);
	r->max_rows = max_rows;
	r->row = 1;
	r->last_terminator = -1;
	r->blank = true;
	r->email_column = NO_COLUMN;
	r->first_email_header = NO_COLUMN;
	return r;
}

void us_email_csv_free(us_email_csv *r)
{
	if (r == NULL)
		return;
	csv_free(&r->parser);
	for (size_t i = 0; i < r->n_rows; i++)
		free(r->rows[i].email);
	free(r->rows);
	free(r->cell);
	free(r);
}

static bool is_email_header(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return len == 5 && strncasecmp(s, "email", 5) == 0;
}

/* libcsv: a field ended. */
static void on_field(void *data, size_t len, void *arg)
{
	us_email_csv *r = arg;
	const char *s = data ? data : "";
	if (r->failed)
		return;
	if (len > 0)
		r->blank = false;
	if (!r->header_done) {
		if (is_email_header(s, len) && r->first_email_header == NO_COLUMN)
			r->first_email_header = (int)r->field;
		/* An address in the first row's first cell: maybe a file without a header. */
		if (r->field == 0 && len <= US_EMAIL_CSV_FIELD_MAX && memchr(s, '@', len) != NULL &&
		    us_utf8_valid(s, len) && strlen(s) == len && (r->cell = strndup(s, len)) == NULL)
			fail(r, "out of memory");
		r->header_fields++;
	} else if ((int)r->field == r->email_column) {
		if (len > US_EMAIL_CSV_FIELD_MAX)
			r->problem = "is longer than 1000 characters";
		else if (!us_utf8_valid(s, len) || strlen(s) != len)
			r->problem = "is not valid UTF-8 text";
		else if ((r->cell = strndup(s, len)) == NULL)
			fail(r, "out of memory");
	}
	r->field++;
}

static void keep_row(us_email_csv *r);

static void finish_header(us_email_csv *r)
{
	r->header_done = true;
	if (r->first_email_header != NO_COLUMN) {
		r->email_column = r->first_email_header;
	} else if (r->header_fields == 1) {
		r->email_column = 0;
		/* No header: the first row holds an address, which is row 1's data. */
		if (r->cell != NULL)
			keep_row(r);
	}
	else
		fail(r, "row %u: no column is headed \"email\"", r->row);
}

static void keep_row(us_email_csv *r)
{
	if (r->n_rows == r->max_rows) {
		fail(r, "the file has more than %zu rows of addresses", r->max_rows);
		return;
	}
	if (r->n_rows == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		us_email_csv_row *rows = realloc(r->rows, cap * sizeof(*rows));
		if (rows == NULL) {
			fail(r, "out of memory");
			return;
		}
		r->rows = rows;
		r->cap = cap;
	}
	us_email_csv_row *row = &r->rows[r->n_rows++];
	row->row = r->row;
	row->email = r->cell;
	/* A row whose email cell is missing is kept, empty, for its outcome. */
	row->problem = r->problem;
	if (row->email == NULL && row->problem == NULL && (row->email = strdup("")) == NULL)
		fail(r, "out of memory");
	r->cell = NULL;
}

/* libcsv: a record ended with terminator c ('\r', '\n', or -1 at the end of the file).
 * With CSV_REPALL_NL every line break reports, so blank lines are seen, and the '\n' of
 * a CRLF arrives as an empty record right after the '\r' one. */
static void on_record(int c, void *arg)
{
	us_email_csv *r = arg;
	bool empty = r->field == 0;
	bool crlf_tail = empty && c == '\n' && r->last_terminator == '\r';
	r->last_terminator = c;
	if (r->failed || crlf_tail)
		goto next;
	if (!r->blank) {
		if (!r->header_done)
			finish_header(r);
		else
			keep_row(r);
	}
	if (!(empty && c == -1))
		r->row++;
next:
	free(r->cell);
	r->cell = NULL;
	r->problem = NULL;
	r->field = 0;
	r->blank = true;
}

static us_err parse(us_email_csv *r, const void *data, size_t len)
{
	cell_too_long = false;
	if (len > 0 && csv_parse(&r->parser, data, len, on_field, on_record, r) != len) {
		int why = csv_error(&r->parser);
		fail(r, "row %u: %s", r->row,
		     why == CSV_EPARSE                       ? "malformed quoting"
		     : why == CSV_ENOMEM && cell_too_long ? "a cell is longer than 64 KiB"
		                                           : "cannot be read");
	}
	return r->failed ? US_EINVAL : US_OK;
}

us_err us_email_csv_feed(us_email_csv *r, const void *data, size_t len)
{
	if (r->failed)
		return US_EINVAL;
	const unsigned char *p = data;
	/* Hold the first three bytes until we know whether they are a UTF-8 BOM. */
	while (!r->seen_start && len > 0) {
		r->lead[r->n_lead++] = *p++;
		len--;
		if (r->n_lead == 3 || memcmp(r->lead, "\xef\xbb\xbf", r->n_lead) != 0) {
			r->seen_start = true;
			bool bom = r->n_lead == 3 && memcmp(r->lead, "\xef\xbb\xbf", 3) == 0;
			if (!bom && parse(r, r->lead, r->n_lead) != US_OK)
				return US_EINVAL;
		}
	}
	return parse(r, p, len);
}

us_err us_email_csv_finish(us_email_csv *r)
{
	if (!r->seen_start && r->n_lead > 0 && !r->failed) {
		r->seen_start = true;
		if (parse(r, r->lead, r->n_lead) != US_OK)
			return US_EINVAL;
	}
	if (!r->failed && csv_fini(&r->parser, on_field, on_record, r) != 0)
		fail(r, "row %u: malformed quoting", r->row);
	if (!r->failed && !r->header_done)
		fail(r, "the file has no header row");
	return r->failed ? US_EINVAL : US_OK;
}

const char *us_email_csv_error(const us_email_csv *r)
{
	return r->error;
}

const us_email_csv_row *us_email_csv_rows(const us_email_csv *r, size_t *n)
{
	*n = r->n_rows;
	return r->rows;
}
