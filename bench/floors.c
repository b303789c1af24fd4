#include "floors.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/clock.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("floors: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

/* Scratch tables live in their own schema, dropped with everything in it afterwards. */
static void scratch_begin(PGconn *conn)
{
	exec_ok(conn, "CREATE SCHEMA IF NOT EXISTS bench_floor");
}

static void scratch_end(PGconn *conn)
{
	exec_ok(conn, "DROP SCHEMA IF EXISTS bench_floor CASCADE");
}

/* One committed one-row INSERT per call (autocommit), prepared once; µs each. */
static void insert_commits(PGconn *conn, size_t n, double *samples)
{
	PGresult *res = PQprepare(conn, "bench_floor_commit",
	                          "INSERT INTO bench_floor.commits (note) VALUES ($1)", 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("prepare: %s", PQresultErrorMessage(res));
	PQclear(res);
	const char *note = "a row as small as an idempotency key";
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = us_monotonic_us();
		res = PQexecPrepared(conn, "bench_floor_commit", 1, &note, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("insert: %s", PQresultErrorMessage(res));
		PQclear(res);
		if (samples != NULL)
			samples[i] = (double)(us_monotonic_us() - t0);
	}
	res = PQexec(conn, "DEALLOCATE bench_floor_commit");
	PQclear(res);
}

static void commits_table(PGconn *conn)
{
	scratch_begin(conn);
	exec_ok(conn, "CREATE TABLE IF NOT EXISTS bench_floor.commits"
	              " (id bigserial PRIMARY KEY, note text NOT NULL)");
}

void bench_floor_commit(PGconn *conn, size_t n, bench_stats *out)
{
	commits_table(conn);
	double *samples = malloc(n * sizeof(double));
	insert_commits(conn, n / 10 + 1, NULL); /* warm the connection and the table */
	insert_commits(conn, n, samples);
	bench_stats_of(samples, n, out);
	free(samples);
	scratch_end(conn);
}

typedef struct committer {
	PGconn *conn;
	size_t n;
} committer;

static void *run_committer(void *arg)
{
	committer *c = arg;
	insert_commits(c->conn, c->n, NULL);
	return NULL;
}

double bench_floor_commit_rate(PGconn **conns, size_t n_conns, size_t per_conn)
{
	commits_table(conns[0]);
	pthread_t *threads = malloc(n_conns * sizeof(pthread_t));
	committer *work = malloc(n_conns * sizeof(committer));
	int64_t t0 = us_monotonic_us();
	for (size_t i = 0; i < n_conns; i++) {
		work[i] = (committer){conns[i], per_conn};
		if (pthread_create(&threads[i], NULL, run_committer, &work[i]) != 0)
			die("could not start a thread");
	}
	for (size_t i = 0; i < n_conns; i++)
		pthread_join(threads[i], NULL);
	double rate = (double)(n_conns * per_conn) / ((double)(us_monotonic_us() - t0) / 1e6);
	free(threads);
	free(work);
	scratch_end(conns[0]);
	return rate;
}

/* The echo server: receive, send the same message back, until its socket is closed. */
static void *echo_server(void *arg)
{
	nng_socket rep = *(nng_socket *)arg;
	for (;;) {
		nng_msg *msg;
		if (nng_recvmsg(rep, &msg, 0) != 0)
			return NULL;
		if (nng_sendmsg(rep, msg, 0) != 0)
			nng_msg_free(msg);
	}
}

static void round_trips(nng_socket req, size_t n, double *samples)
{
	static const char payload[] =
	        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = us_monotonic_us();
		nng_msg *msg;
		if (nng_msg_alloc(&msg, sizeof(payload) - 1) != 0)
			die("out of memory");
		memcpy(nng_msg_body(msg), payload, sizeof(payload) - 1);
		if (nng_sendmsg(req, msg, 0) != 0 || nng_recvmsg(req, &msg, 0) != 0)
			die("a bare NNG round trip failed");
		nng_msg_free(msg);
		if (samples != NULL)
			samples[i] = (double)(us_monotonic_us() - t0);
	}
}

void bench_floor_nng(size_t n, bench_stats *out)
{
	nng_socket rep, req;
	nng_listener listener;
	nng_sockaddr addr;
	char url[64];
	if (nng_rep0_open(&rep) != 0 || nng_listen(rep, "tcp://127.0.0.1:0", &listener, 0) != 0 ||
	    nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &addr) != 0)
		die("could not start the echo server");
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(addr.s_in.sa_port));
	pthread_t server;
	if (pthread_create(&server, NULL, echo_server, &rep) != 0)
		die("could not start a thread");
	if (nng_req0_open(&req) != 0 || nng_dial(req, url, NULL, 0) != 0)
		die("could not dial %s", url);
	double *samples = malloc(n * sizeof(double));
	round_trips(req, n / 10 + 1, NULL);
	round_trips(req, n, samples);
	bench_stats_of(samples, n, out);
	free(samples);
	nng_close(req);
	nng_close(rep);
	pthread_join(server, NULL);
}

double bench_floor_copy_in(PGconn *conn, const char *const *emails, size_t n)
{
	scratch_begin(conn);
	exec_ok(conn, "CREATE TABLE bench_floor.copied (id uuid PRIMARY KEY DEFAULT"
	              " gen_random_uuid(), account_id uuid NOT NULL, email text NOT NULL,"
	              " token_hash bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
	int64_t t0 = us_monotonic_us();
	PGresult *res = PQexec(conn, "COPY bench_floor.copied (account_id, email, token_hash)"
	                             " FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN)
		die("copy: %s", PQresultErrorMessage(res));
	PQclear(res);
	char line[512];
	for (size_t i = 0; i < n; i++) {
		/* A distinct 32-byte hash per row, in bytea's hex form (its backslash escaped). */
		int len = snprintf(line, sizeof(line),
		                   "6f1c0c3e-8d7a-4b8e-9a43-0c2f4d9b7e11\t%s\t\\\\x%064zx\n",
		                   emails[i], i);
		if (len < 0 || (size_t)len >= sizeof(line))
			die("an address too long for the copy floor");
		if (PQputCopyData(conn, line, len) != 1)
			die("copy: %s", PQerrorMessage(conn));
	}
	if (PQputCopyEnd(conn, NULL) != 1)
		die("copy: %s", PQerrorMessage(conn));
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("copy: %s", PQresultErrorMessage(res));
	long copied = atol(PQcmdTuples(res));
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	double s = (double)(us_monotonic_us() - t0) / 1e6;
	if (copied != (long)n)
		die("copied %ld rows, not %zu", copied, n);
	scratch_end(conn);
	return s;
}

double bench_floor_copy_out(PGconn *conn, const char *query, size_t *bytes)
{
	char sql[1024];
	if ((size_t)snprintf(sql, sizeof(sql), "COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER)",
	                     query) >= sizeof(sql))
		die("the copy-out query is too long");
	int64_t t0 = us_monotonic_us();
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		die("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	size_t total = 0;
	char *buf;
	int len;
	while ((len = PQgetCopyData(conn, &buf, 0)) > 0) {
		total += (size_t)len;
		PQfreemem(buf);
	}
	if (len != -1)
		die("copy out: %s", PQerrorMessage(conn));
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("copy out: %s", PQresultErrorMessage(res));
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	*bytes = total;
	return (double)(us_monotonic_us() - t0) / 1e6;
}
