#include "common/db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static _Thread_local char last_constraint[64];
static _Thread_local unsigned long round_trips;
/* Statements waiting to go ahead of the next ones sent on conn (us_db_lead). */
static _Thread_local struct {
	PGconn *conn;
	const us_db_stmt *stmts;
	size_t n;
	PGresult **results;
	bool pending;
	us_err rc;
} lead;
static bool lead_waits(PGconn *conn);
static us_err exec_after_lead(PGconn *conn, const char *sql, int n_params,
                              const char *const *params, const int *lengths,
                              const int *formats, PGresult **out);
/* The process's totals, for /metrics. */
static atomic_ulong total_round_trips, total_errors;

/* Prepared statements, per thread and connection. Planning a statement often costs more
 * than running it, and a daemon runs the same few statements all day: each statement with
 * parameters is prepared on its connection the first time and reused after. A thread
 * owns its connection, so the cache is the thread's (freed when the thread ends); it
 * follows the session it was filled for (connection and backend), so a new connection or
 * a reconnect, which has none of the statements, starts it afresh. */
#define PREPARED_MAX 256

typedef struct prepared {
	uint64_t hash;
	char *sql;
	unsigned long number; /* its name is "us_<number>" */
} prepared;

/* Statement names are unique in the process: a connection prepared from one thread and
 * used from another (the server connects its workers before starting them) never sees
 * two statements of the same name. */
static atomic_ulong next_number;

typedef struct statement_cache {
	PGconn *conn;
	int backend_pid; /* with conn, names the session: a new one has another backend */
	prepared items[PREPARED_MAX];
	size_t n;
} statement_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_clear(statement_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->items[i].sql);
	c->n = 0;
	c->conn = NULL;
	c->backend_pid = 0;
}

static void cache_free(void *p)
{
	if (p != NULL)
		cache_clear(p);
	free(p);
}

static void cache_key_create(void)
{
	pthread_key_create(&cache_key, cache_free);
}

/* The calling thread's cache; NULL when out of memory. */
static statement_cache *thread_cache(void)
{
	pthread_once(&cache_once, cache_key_create);
	statement_cache *c = pthread_getspecific(cache_key);
	if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL && pthread_setspecific(cache_key, c) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

static uint64_t sql_hash(const char *sql)
{
	uint64_t h = 1469598103934665603ull;
	for (; *sql; sql++)
		h = (h ^ (unsigned char)*sql) * 1099511628211ull;
	return h;
}

/* The name of sql's prepared statement on conn, preparing it now if need be; NULL when
 * it cannot be prepared (the cache is full, or the server refused: then it runs
 * unprepared, which reports any error). */
static const char *prepared_name(PGconn *conn, const char *sql, int n_params, char *name,
                                 size_t size)
{
	statement_cache *c = thread_cache();
	if (c == NULL)
		return NULL;
	if (c->conn != conn || c->backend_pid != PQbackendPID(conn))
		cache_clear(c);
	c->conn = conn;
	c->backend_pid = PQbackendPID(conn);
	uint64_t h = sql_hash(sql);
	for (size_t i = 0; i < c->n; i++) {
		if (c->items[i].hash == h && strcmp(c->items[i].sql, sql) == 0) {
			snprintf(name, size, "us_%lu", c->items[i].number);
			return name;
		}
	}
	if (c->n == PREPARED_MAX)
		return NULL;
	unsigned long number = atomic_fetch_add(&next_number, 1);
	snprintf(name, size, "us_%lu", number);
	PGresult *res = PQprepare(conn, name, sql, n_params, NULL);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		us_log_fields(US_LOG_WARN, "could not prepare a statement", "error",
		              PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                      ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                      : PQerrorMessage(conn),
		              NULL);
	PQclear(res);
	char *copy = ok ? strdup(sql) : NULL;
	if (copy == NULL)
		return NULL;
	c->items[c->n++] = (prepared){h, copy, number};
	return name;
}


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

/* The session's settings. JIT is off: Usher's statements are short, and Postgres's cost
 * estimates sent SendEmails's 2,000-row insert through the JIT compiler, which spent
 * 40-70 ms of its ~150 ms compiling (auto_explain on the bulk benchmark). */
static us_err set_session(PGconn *conn, const char *schema)
{
	const char *params[] = {schema};
	return us_db_exec(conn, "SELECT pg_catalog.set_config('search_path', $1, false), "
	                        "pg_catalog.set_config('TimeZone', 'UTC', false), "
	                        "pg_catalog.set_config('jit', 'off', false)",
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
	us_err rc = set_session(conn, schema);
	if (rc != US_OK) {
		snprintf(err, err_size, "could not set up the session for schema \"%s\"", schema);
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
	return set_session(conn, schema);
}

unsigned long us_db_round_trips(void)
{
	return round_trips;
}

void us_db_round_trips_reset(void)
{
	round_trips = 0;
}

void us_db_totals(unsigned long *round_trips_out, unsigned long *errors_out)
{
	*round_trips_out = atomic_load(&total_round_trips);
	*errors_out = atomic_load(&total_errors);
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

char *us_db_bool_array(us_arena *arena, const bool *items, size_t n)
{
	char *out = us_arena_alloc(arena, 2 * n + 3);
	if (out == NULL)
		return NULL;
	char *p = out;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = items[i] ? 't' : 'f';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

static void count_round_trip(void)
{
	round_trips++;
	atomic_fetch_add(&total_round_trips, 1);
}

/* Maps a statement's result: hands over or clears it, logs a failure. */
static us_err map_result(PGconn *conn, PGresult *res, PGresult **out)
{
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
	if (level == US_LOG_WARN)
		atomic_fetch_add(&total_errors, 1);
	const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	us_log_fields(level, "statement failed", "sqlstate", state ? state : "none", "error",
	              msg ? msg : PQerrorMessage(conn), "constraint", last_constraint, NULL);
	PQclear(res);
	return rc;
}

static us_err check_result(PGconn *conn, PGresult *res, PGresult **out)
{
	count_round_trip();
	return map_result(conn, res, out);
}

static PGresult *run(PGconn *conn, const char *sql, int n_params, const char *const *params,
                     const int *lengths, const int *formats)
{
	char name[32];
	/* Statements without parameters (BEGIN, COMMIT, LISTEN) are cheap to plan. */
	if (n_params > 0 && PQtransactionStatus(conn) != PQTRANS_INERROR &&
	    prepared_name(conn, sql, n_params, name, sizeof(name)) != NULL)
		return PQexecPrepared(conn, name, n_params, params, lengths, formats, 0);
	return PQexecParams(conn, sql, n_params, NULL, params, lengths, formats, 0);
}

us_err us_db_exec(PGconn *conn, const char *sql, int n_params, const char *const *params,
                  PGresult **out)
{
	if (lead_waits(conn))
		return exec_after_lead(conn, sql, n_params, params, NULL, NULL, out);
	return check_result(conn, run(conn, sql, n_params, params, NULL, NULL), out);
}

us_err us_db_exec_one(PGconn *conn, const char *sql, int n_params, const char *const *params,
                      PGresult **out)
{
	PGresult *res;
	us_err rc = us_db_exec(conn, sql, n_params, params, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	*out = res;
	return US_OK;
}

us_err us_db_exec_bin(PGconn *conn, const char *sql, int n_params, const char *const *params,
                      const int *lengths, const int *formats, PGresult **out)
{
	if (lead_waits(conn))
		return exec_after_lead(conn, sql, n_params, params, lengths, formats, out);
	return check_result(conn, run(conn, sql, n_params, params, lengths, formats), out);
}

/* Reads what is left of a pipeline after a failure to send or receive, so the connection
 * leaves pipeline mode (a broken one is reset by us_db_ensure). */
static void pipeline_drain(PGconn *conn)
{
	for (int nulls = 0; nulls < 2 && PQstatus(conn) == CONNECTION_OK;) {
		PGresult *res = PQgetResult(conn);
		if (res == NULL) {
			nulls++;
			continue;
		}
		nulls = 0;
		bool synced = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
		if (synced)
			break;
	}
	PQexitPipelineMode(conn);
}

/* Sends stmts in pipeline mode and flushes them, without waiting: the server runs them
 * while the caller does something else (pipeline_receive collects their results). */
static us_err pipeline_send(PGconn *conn, const us_db_stmt *stmts, size_t n)
{
	char names[US_DB_PIPELINE_MAX][32];
	const char *prepared_as[US_DB_PIPELINE_MAX];
	if (n == 0 || n > US_DB_PIPELINE_MAX)
		return US_EINVAL;
	for (size_t i = 0; i < n; i++) {
		/* Prepared before the pipeline: preparing waits for the server. */
		prepared_as[i] = stmts[i].n_params > 0 && PQtransactionStatus(conn) != PQTRANS_INERROR
		                      ? prepared_name(conn, stmts[i].sql, stmts[i].n_params, names[i],
		                                      sizeof(names[i]))
		                      : NULL;
	}
	count_round_trip();
	if (PQenterPipelineMode(conn) != 1)
		return map_result(conn, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		const us_db_stmt *s = &stmts[i];
		int sent = prepared_as[i] != NULL
		                   ? PQsendQueryPrepared(conn, prepared_as[i], s->n_params, s->params,
		                                         s->lengths, s->formats, 0)
		                   : PQsendQueryParams(conn, s->sql, s->n_params, NULL, s->params,
		                                       s->lengths, s->formats, 0);
		if (sent != 1) {
			PQpipelineSync(conn);
			pipeline_drain(conn);
			return map_result(conn, NULL, NULL);
		}
	}
	/* The sync flushes what was sent. */
	if (PQpipelineSync(conn) != 1) {
		pipeline_drain(conn);
		return map_result(conn, NULL, NULL);
	}
	return US_OK;
}

/* Reads the results of the n statements pipeline_send sent and leaves pipeline mode. */
static us_err pipeline_receive(PGconn *conn, size_t n, PGresult **results)
{
	us_err first = US_OK;
	for (size_t i = 0; i < n; i++) {
		PGresult *res = PQgetResult(conn);
		if (res == NULL) { /* the connection failed */
			pipeline_drain(conn);
			return first != US_OK ? first : map_result(conn, NULL, NULL);
		}
		/* Each statement's results end with a NULL. */
		PGresult *extra;
		while ((extra = PQgetResult(conn)) != NULL)
			PQclear(extra);
		if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
			PQclear(res);
			continue;
		}
		us_err rc = map_result(conn, res, results != NULL ? &results[i] : NULL);
		if (first == US_OK)
			first = rc;
	}
	pipeline_drain(conn);
	return first;
}

static us_err pipeline(PGconn *conn, const us_db_stmt *stmts, size_t n, PGresult **results)
{
	for (size_t i = 0; results != NULL && i < n && i < US_DB_PIPELINE_MAX; i++)
		results[i] = NULL;
	us_err rc = pipeline_send(conn, stmts, n);
	return rc != US_OK ? rc : pipeline_receive(conn, n, results);
}

us_err us_db_send(PGconn *conn, const us_db_stmt *stmts, size_t n)
{
	if (lead_waits(conn))
		return US_EINTERNAL;
	return pipeline_send(conn, stmts, n);
}

us_err us_db_receive(PGconn *conn, size_t n, PGresult **results)
{
	for (size_t i = 0; results != NULL && i < n && i < US_DB_PIPELINE_MAX; i++)
		results[i] = NULL;
	if (n == 0 || n > US_DB_PIPELINE_MAX)
		return US_EINVAL;
	return pipeline_receive(conn, n, results);
}

static bool lead_waits(PGconn *conn)
{
	return lead.pending && lead.conn == conn;
}

us_err us_db_pipeline(PGconn *conn, const us_db_stmt *stmts, size_t n, PGresult **results)
{
	if (!lead_waits(conn))
		return pipeline(conn, stmts, n, results);
	us_db_stmt all[US_DB_PIPELINE_MAX];
	PGresult *got[US_DB_PIPELINE_MAX];
	size_t k = lead.n;
	lead.pending = false;
	if (n == 0 || k + n > US_DB_PIPELINE_MAX) {
		lead.rc = us_db_pipeline(conn, lead.stmts, k, lead.results);
		return lead.rc != US_OK ? lead.rc : us_db_pipeline(conn, stmts, n, results);
	}
	memcpy(all, lead.stmts, k * sizeof(*all));
	memcpy(all + k, stmts, n * sizeof(*all));
	us_err rc = pipeline(conn, all, k + n, got);
	lead.rc = US_OK;
	for (size_t i = 0; i < k; i++) {
		/* A lead statement that failed has no result: its error is the first. */
		if (got[i] == NULL && lead.rc == US_OK)
			lead.rc = rc != US_OK ? rc : US_EINTERNAL;
		if (lead.results != NULL)
			lead.results[i] = got[i];
		else
			PQclear(got[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (results != NULL)
			results[i] = got[k + i];
		else
			PQclear(got[k + i]);
	}
	return rc;
}

/* One statement sent after the waiting lead, in its round trip. */
static us_err exec_after_lead(PGconn *conn, const char *sql, int n_params,
                              const char *const *params, const int *lengths,
                              const int *formats, PGresult **out)
{
	const us_db_stmt s = {sql, n_params, params, lengths, formats};
	PGresult *res;
	us_err rc = us_db_pipeline(conn, &s, 1, &res);
	if (rc == US_OK && out != NULL)
		*out = res;
	else
		PQclear(res);
	return rc;
}

void us_db_lead(PGconn *conn, const us_db_stmt *stmts, size_t n, PGresult **results)
{
	lead.conn = conn;
	lead.stmts = stmts;
	lead.n = n;
	lead.results = results;
	lead.pending = true;
	lead.rc = US_OK;
	for (size_t i = 0; results != NULL && i < n; i++)
		results[i] = NULL;
}

us_err us_db_lead_done(PGconn *conn)
{
	if (lead.conn != conn)
		return US_EINTERNAL;
	lead.conn = NULL;
	if (!lead.pending)
		return lead.rc;
	lead.pending = false;
	return pipeline(conn, lead.stmts, lead.n, lead.results);
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
