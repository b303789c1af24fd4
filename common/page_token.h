/* Page tokens: a position in a list ordered by (created_at, id), opaque to callers, for
 * tenancyd's lists (ListInvitations tags its own: services/invitation/cursor.h). One
 * exact encoding for each of them: base64url of a version byte, the created_at in
 * microseconds since 1970 (8 bytes, big-endian) and the id's 16 bytes; 34 characters.
 *
 * The microseconds never pass through floating point: store.c selects them with
 * US_SQL_MICROS("t.created_at") and compares with US_SQL_FROM_MICROS("$n"), e.g.
 *
 *     "AND ($5::bigint IS NULL OR (m.created_at, m.id) > (" US_SQL_FROM_MICROS("$5") ", $6::uuid))"
 *
 * (`<` for a list in descending order). */
#ifndef US_PAGE_TOKEN_H
#define US_PAGE_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#define US_PAGE_TOKEN_LEN 34

typedef struct us_page_cursor {
	int64_t created_us; /* microseconds since 1970, never negative */
	char id[37];        /* a lowercase UUID */
} us_page_cursor;

/* A timestamptz column as exact microseconds since 1970 (a bigint; Postgres 14 and later
 * extract the epoch as numeric, exactly). */
#define US_SQL_MICROS(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* A bigint parameter of microseconds as a timestamptz, exactly (an interval times an
 * integer below 2^53, i.e. until the year 2255). */
#define US_SQL_FROM_MICROS(param) "('epoch'::timestamptz + " param "::bigint * interval '1 microsecond')"

/* Writes the token of position c (created_us >= 0, id a UUID) into out. */
void us_page_token_encode(const us_page_cursor *c, char out[US_PAGE_TOKEN_LEN + 1]);

/* Reads a token; false when it is not one us_page_token_encode() wrote. Decoding what it
 * encoded gives the same position back. */
bool us_page_token_decode(const char *token, us_page_cursor *out);

#endif
