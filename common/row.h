/* Reading a result row into a request's arena: one getter per column type and one
 * out-of-memory policy for every store.c.
 *
 * Getters never return NULL, so a message built from them is always packable: when an
 * allocation fails a getter returns "" (a list: none) and marks the reader failed. Check
 * us_row_failed() once, after the row (or all the rows), and answer RESOURCE_EXHAUSTED:
 *
 *     us_row r = us_row_at(arena, res, 0, 0);
 *     Usher__V1__Subaccount *s = US_ROW_NEW(&r, Usher__V1__Subaccount);
 *     if (s != NULL) {
 *         usher__v1__subaccount__init(s);
 *         s->id = us_row_uuid(&r, 0);
 *         s->created_at = us_row_timestamp(&r, 3);
 *     }
 *     PQclear(res);
 *     if (us_row_failed(&r))
 *         return US_EEXHAUSTED;
 *
 * SQL NULL reads as "", 0, false or the empty list. */
#ifndef US_ROW_H
#define US_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/arena.h"

typedef struct us_row {
	us_arena *arena;
	const PGresult *res; /* borrowed: copy what you keep before PQclear() */
	int row;             /* move along the result by setting it */
	int base;            /* the result's column that the getters number 0 */
	bool failed;         /* an allocation failed */
} us_row;

/* A reader of row `row` of res, its columns counted from base. */
us_row us_row_at(us_arena *arena, const PGresult *res, int row, int base);

/* A copy of a text column (also enum and name columns). */
char *us_row_text(us_row *r, int col);

/* A uuid column, as text ("8-4-4-4-12" lowercase, as Postgres writes it). */
char *us_row_uuid(us_row *r, int col);

/* A timestamp selected with US_SQL_TIMESTAMP() (timestamp.h): the one format of replies. */
char *us_row_timestamp(us_row *r, int col);

/* An integer column (smallint, integer, bigint). */
int64_t us_row_int(us_row *r, int col);

/* A boolean column. */
bool us_row_bool(us_row *r, int col);

/* True when the column is SQL NULL. */
bool us_row_null(const us_row *r, int col);

/* A one-dimensional array column (text[], uuid[], or ARRAY(SELECT ...)) in Postgres's
 * output format, quoting and escapes undone: the inverse of us_db_text_array(). Sets *n;
 * returns NULL for none. A NULL element reads as "". */
char **us_row_array(us_row *r, int col, size_t *n);

/* Zeroed arena memory for what the row fills in; NULL (and the reader failed) when out of
 * memory. */
void *us_row_alloc(us_row *r, size_t size);
#define US_ROW_NEW(r, T) ((T *)us_row_alloc((r), sizeof(T)))
#define US_ROW_ARRAY(r, T, n) ((T *)us_row_alloc((r), sizeof(T) * (n)))

/* True once any getter or allocation of this reader ran out of memory. */
bool us_row_failed(const us_row *r);

#endif
