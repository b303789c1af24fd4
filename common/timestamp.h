/* The one format of every timestamp in Usher's replies (docs/api.md): RFC 3339 in UTC with
 * exactly three digits of milliseconds and a "Z", e.g. "2024-05-01T12:34:56.789Z".
 *
 * Postgres writes it: every store.c selects a timestamptz column as US_SQL_TIMESTAMP("col")
 * and reads it with us_row_timestamp() (row.h). The one exception is a page of thousands
 * of rows (the pending export), where to_char costs more than the rest of the query: it
 * selects microseconds (US_SQL_MICROS, exact) and formats them with us_timestamp_format(). */
#ifndef US_TIMESTAMP_H
#define US_TIMESTAMP_H

#define US_TIMESTAMP_LEN 24 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */

/* A timestamptz column (or expression) as the reply format; NULL stays NULL. Independent
 * of the session's TimeZone; milliseconds are truncated, not rounded. */
#define US_SQL_TIMESTAMP(col)                                                                  \
	"to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#include <stdint.h>

/* micros (since 1970, UTC) in this format into out, as US_SQL_TIMESTAMP writes it
 * (milliseconds truncated). */
void us_timestamp_format(int64_t micros, char out[US_TIMESTAMP_LEN + 1]);

/* NULL when s is a timestamp in this format (a real date and time), or the reason it is
 * not. For tests and tools that read replies. */
const char *us_timestamp_check(const char *s);

#endif
