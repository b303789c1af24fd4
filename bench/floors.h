/* Floors: what Postgres and NNG cost alone on this machine, measured by each benchmark in
 * its own run, so its result can be given as a ratio that machine noise moves less than
 * the absolute figure. Each function fails the program (exit 1, with a message) when the
 * floor cannot be measured: a benchmark without its floor is no result. */
#ifndef BENCH_FLOORS_H
#define BENCH_FLOORS_H

#include <stddef.h>

#include <libpq-fe.h>

#include "stats.h"

/* A bare durable commit: n one-row INSERTs into a scratch table, each its own committed
 * transaction, on conn (the benchmark's database, as the cluster is configured). Per
 * commit, in µs. */
void bench_floor_commit(PGconn *conn, size_t n, bench_stats *out);

/* The same from n_conns connections at once (each on its own thread), per_conn commits
 * each: commits per second in all. */
double bench_floor_commit_rate(PGconn **conns, size_t n_conns, size_t per_conn);

/* A bare NNG REQ/REP round trip of a 64-byte payload over loopback tcp:// to an echo
 * server on a thread of this process, n times (after a short warm-up). In µs. */
void bench_floor_nng(size_t n, bench_stats *out);

/* COPY of rows, one email each (with a 32-byte token hash and an account id, as an
 * invitation has), into a scratch table with a primary key, committed; in seconds. */
double bench_floor_copy_in(PGconn *conn, const char *const *emails, size_t n);

/* COPY (query) TO STDOUT in CSV, every byte read; in seconds; *bytes gets the size. */
double bench_floor_copy_out(PGconn *conn, const char *query, size_t *bytes);

#endif
