#include "db.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static _Thread_local char last_constraint[64];
static _Thread_local unsigned long round_trips;

us_err us_db_error_from_sqlstate(const char *s)
{
	if (s == NULL || strlen(s) != 5)
		return US_EUNAVAILABLE; /* no SQLSTATE: the connection itself failed */
	if (strcmp(s, "23505") == 0)
		return US_EEXISTS;
	if (strcmp(s, "23503") == 0)
		return US_EPRECONDITION;
	if (strncmp(s, "23", 2) == 0 || strncmp(s, "22", 2) == 0)
		return US_EINVAL;
	if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
		return US_EABORTED;
	if (strcmp(s, "57014") == 0)
		return US_EDEADLINE;
	if (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
	    strcmp(s, "57P03") == 0)
		return US_EUNAVAILABLE;
	if (strncmp(s, "53", 2) == 0)
		return US_EEXHAUSTED;
	return US_EINTERNAL;
}

const char *us_db_last_constraint(void)
{
	return last_constraint;
}

static us_err set_search_path(PGconn *conn, const char *schema)
{
	const char *params[] = {schema};
	return us_db_exec(conn, "SELECT pg_catalog.set_config('search_path', $1, false), "
	                        "pg_catalog.set_config('TimeZone', 'UTC', false)",
	                  1, params, NULL);
}

us_err us_db_connect(const char *url, const char *schema, PGconn **out, char *err,
                     size_t err_size)
{
	PGconn *conn = PQconnectdb(url);
	if (conn == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, err_size, "%s", PQerrorMessage(conn));
		size_t len = strlen(err);
		while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
			err[--len] = '\0';
		PQfinish(conn);
		return US_EUNAVAILABLE;
	}
	us_err rc = set_search_path(conn, schema);
	if (rc != US_OK) {
		snprintf(err, err_size, "could not set search_path to \"%s\"", schema);
		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return US_OK;
}

us_err us_db_ensure(PGconn *conn, const char *schema)
{
	if (PQstatus(conn) == CONNECTION_OK)
		return US_OK;
	PQreset(conn);
	if (PQstatus(conn) != CONNECTION_OK) {
		us_warn("database connection is down");
		return US_EUNAVAILABLE;
	}
	us_info("database connection re-established");
	return set_search_path(conn, schema);
}

unsigned long us_db_round_trips(void)
{
	return round_trips;
}

void us_db_round_trips_reset(void)
{
	round_trips = 0;
}

char *us_db_text_array(us_arena *arena, const char *const *items, size_t n)
{
	size_t size = 3;
	for (size_t i = 0; i < n; i++)
		size += 2 * strlen(items[i]) + 3;
	char *out = us_arena_alloc(arena, size);
	if (out == NULL)
		return NULL;
	char *p = out;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (const char *s = items[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

static us_err check_result(PGconn *conn, PGresult *res, PGresult **out)
{
	round_trips++;
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out != NULL)
			*out = res;
		else
			PQclear(res);
		return US_OK;
	}
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *constraint = res != NULL ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	snprintf(last_constraint, sizeof(last_constraint), "%s", constraint ? constraint : "");
	us_err rc = us_db_error_from_sqlstate(state);
	/* Expected outcomes (a conflict, a deadline) are the caller's to report. */
	us_log_level level = (rc == US_EEXISTS || rc == US_EDEADLINE || rc == US_EINVAL ||
	                      rc == US_EPRECONDITION) ? US_LOG_DEBUG : US_LOG_WARN;
	const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	us_log_fields(level, "statement failed", "sqlstate", state ? state : "none", "error",
	              msg ? msg : PQerrorMessage(conn), "constraint", last_constraint, NULL);
	PQclear(res);
	return rc;
}

us_err us_db_exec(PGconn *conn, const char *sql, int n_params, const char *const *params,
                  PGresult **out)
{
	PGresult *res = PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);
	return check_result(conn, res, out);
}

us_err us_db_exec_bin(PGconn *conn, const char *sql, int n_params, const char *const *params,
                      const int *lengths, const int *formats, PGresult **out)
{
	PGresult *res = PQexecParams(conn, sql, n_params, NULL, params, lengths, formats, 0);
	return check_result(conn, res, out);
}

us_err us_db_begin(PGconn *conn)
{
	return us_db_exec(conn, "BEGIN", 0, NULL, NULL);
}

us_err us_db_commit(PGconn *conn)
{
	return us_db_exec(conn, "COMMIT", 0, NULL, NULL);
}

void us_db_rollback(PGconn *conn)
{
	if (PQtransactionStatus(conn) == PQTRANS_IDLE)
		return;
	PGresult *res = PQexec(conn, "ROLLBACK");
	PQclear(res);
}

us_err us_db_set_local_timeout(PGconn *conn, long ms)
{
	char value[32];
	snprintf(value, sizeof(value), "%ld", ms > 0 ? ms : 1);
	const char *params[] = {value};
	return us_db_exec(conn, "SELECT pg_catalog.set_config('statement_timeout', $1, true)", 1,
	                  params, NULL);
}
