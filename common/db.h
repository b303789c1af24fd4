/* libpq helpers: connecting into a service's schema, parameterised statements with
 * errors mapped onto us_err (the one place SQLSTATE is read), and transactions.
 * A PGconn belongs to one thread at a time. */
#ifndef US_DB_H
#define US_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/err.h"

/* Opens a connection and points its search_path at schema (so every statement uses
 * unqualified names), with UTC timestamps and no JIT compilation. Returns owned *out (PQfinish it), or an error
 * with the reason in err. */
US_MUST_USE us_err us_db_connect(const char *url, const char *schema, PGconn **out, char *err,
                                 size_t err_size);

/* Reconnects a broken connection (after a Postgres restart) and restores its settings. */
US_MUST_USE us_err us_db_ensure(PGconn *conn, const char *schema);

/* Runs sql with text parameters ($1..$n; NULL is SQL NULL). On success returns owned *out
 * (PQclear it) when out is not NULL; on failure clears the result, logs the detail and
 * returns the mapped error. */
US_MUST_USE us_err us_db_exec(PGconn *conn, const char *sql, int n_params,
                              const char *const *params, PGresult **out);

/* As us_db_exec for a statement that returns at most one row: NOT_FOUND (nothing logged)
 * when it returns none. */
US_MUST_USE us_err us_db_exec_one(PGconn *conn, const char *sql, int n_params,
                                  const char *const *params, PGresult **out);

/* As us_db_exec, with explicit lengths and formats (1 = binary) for bytea parameters. */
US_MUST_USE us_err us_db_exec_bin(PGconn *conn, const char *sql, int n_params,
                                  const char *const *params, const int *lengths,
                                  const int *formats, PGresult **out);

/* One statement of a pipeline: parameters as us_db_exec_bin takes them (lengths and
 * formats NULL: all text). */
typedef struct us_db_stmt {
	const char *sql;
	int n_params;
	const char *const *params;
	const int *lengths;
	const int *formats;
} us_db_stmt;

#define US_DB_PIPELINE_MAX 8

/* Sends n (1..US_DB_PIPELINE_MAX) statements at once and waits once (libpq's pipeline
 * mode): one round trip where n would be. Each runs after the one before, in its own
 * snapshot (as if sent one by one); after a failure the rest do not run. results (NULL
 * to discard them all) gets each statement's owned result (PQclear it), NULL for one that
 * failed or did not run. Returns the first failure, mapped and logged as us_db_exec does. */
US_MUST_USE us_err us_db_pipeline(PGconn *conn, const us_db_stmt *stmts, size_t n,
                                  PGresult **results);

/* us_db_pipeline in two halves, so the server runs the statements while the caller waits
 * for something else (another service's reply): us_db_send sends them without waiting;
 * us_db_receive (n as sent) then collects their results as us_db_pipeline gives them.
 * Nothing else may use conn in between. When us_db_send fails, nothing is to be received. */
US_MUST_USE us_err us_db_send(PGconn *conn, const us_db_stmt *stmts, size_t n);
US_MUST_USE us_err us_db_receive(PGconn *conn, size_t n, PGresult **results);

/* Holds stmts (n of them, kept by the caller until us_db_lead_done) back so they go
 * ahead of the next statements run on conn by this thread, in the same round trip: a
 * transaction's opening statements need not cost a round trip of their own. results (may
 * be NULL) gets theirs, as us_db_pipeline gives them, once they are sent. */
void us_db_lead(PGconn *conn, const us_db_stmt *stmts, size_t n, PGresult **results);

/* Sends the lead now if nothing has taken it along, and ends it: returns the first
 * failure of its statements (results are filled either way). */
US_MUST_USE us_err us_db_lead_done(PGconn *conn);

/* The us_err for a SQLSTATE: 23505 → ALREADY_EXISTS, 57014 → DEADLINE_EXCEEDED, ... */
us_err us_db_error_from_sqlstate(const char *sqlstate);

/* The constraint named by the calling thread's last failed statement, or "". Lets a
 * handler tell which unique key a conflict hit. */
const char *us_db_last_constraint(void);

/* A Postgres array literal ({"a","b\"c"}) of n strings, in the arena: a whole batch goes
 * to the server as one text[] parameter (cast it: $1::text[], $1::uuid[]). NULL when out
 * of memory. The one array builder: us_row_array() (row.h) reads such a column back. */
char *us_db_text_array(us_arena *arena, const char *const *items, size_t n);

/* {t,f,...} of n booleans, in the arena, for a $n::boolean[] parameter; NULL when out of
 * memory. */
char *us_db_bool_array(us_arena *arena, const bool *items, size_t n);

/* Statements the calling thread has sent since the last reset: the RPC server logs it
 * per request, so a batch's constant number of round trips can be seen and tested. */
unsigned long us_db_round_trips(void);
void us_db_round_trips_reset(void);

/* Statements every thread of the process has sent, and how many of them failed
 * unexpectedly (not a conflict, a deadline or bad input: a lost connection, an internal
 * error), since start-up: /metrics' usher_db_round_trips_total and usher_db_errors_total. */
void us_db_totals(unsigned long *round_trips, unsigned long *errors);

US_MUST_USE us_err us_db_begin(PGconn *conn);
US_MUST_USE us_err us_db_commit(PGconn *conn);
/* Rolls back; safe to call when no transaction is open. */
void us_db_rollback(PGconn *conn);

/* Caps every statement of the current transaction at ms (the caller's remaining budget). */
US_MUST_USE us_err us_db_set_local_timeout(PGconn *conn, long ms);

#endif
