/* bulk: a 50,000-row CSV of new addresses uploaded through the gateway, until every
 * invitation is committed and every email is queued at usher-notificationd; with every
 * daemon's peak memory, and its floor: Postgres copying the same 50,000 addresses.
 * Usage: bulk_bench RESULT.json */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "floors.h"
#include "http.h"
#include "proc.h"
#include "result.h"

#define ROWS 50000
#define PASSWORD "correct horse battery"

static const char *result_path;
static ut_system sys;

static long long scalar(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	long long v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* Waits until all ROWS emails are queued. Counting 50,000 rows costs ~10 ms of the two
 * cores the run itself needs, and a new connection each time more: one connection, and
 * while far from the end a pause of half the time the rate so far predicts (at most
 * 250 ms); near the end, or before the first email, every 20 ms as before. */
static void wait_queued(PGconn *conn, int64_t t0)
{
	long long queued;
	int64_t since = us_monotonic_us();
	while ((queued = scalar(conn, "SELECT count(*) FROM notification.messages")) < ROWS) {
		int64_t now = us_monotonic_us();
		if (now - t0 > 120 * 1000000LL)
			fail_msg("only %lld of %d emails queued after 2 minutes", queued, ROWS);
		double pause_us = 20 * 1000;
		if (queued > 0 && now > since) {
			double half_left_us = (double)(ROWS - queued) * (double)(now - since) / queued / 2;
			pause_us = half_left_us < pause_us ? pause_us : half_left_us < 250e3 ? half_left_us : 250e3;
		}
		usleep((useconds_t)pause_us);
	}
}

static void bench(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char *owner = ut_create_user(&sys, a, "bulk.owner@acme.example", "Owner", PASSWORD);
	char *account = ut_create_account(&sys, a, owner, "Bulk Co", "");
	ut_browser *admin = ut_browser_new(&sys);
	ut_reply r;
	const char *login = "{\"email\":\"bulk.owner@acme.example\",\"password\":\"" PASSWORD "\"}";
	ut_http(admin, "POST", "/login", login, strlen(login), NULL, &r);
	assert_int_equal(r.status, 200);
	ut_browser_set_csrf(admin, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);

	size_t cap = 48 * (ROWS + 2);
	char *csv = malloc(cap);
	size_t len = (size_t)snprintf(csv, cap, "email\n");
	for (int i = 0; i < ROWS; i++)
		len += (size_t)snprintf(csv + len, cap - len, "new.person.%05d@example.com\n", i);
	char path[200];
	snprintf(path, sizeof(path), "/accounts/%s/invitations/import", account);

	PGconn *db = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	int64_t t0 = us_monotonic_us();
	ut_http(admin, "POST", path, csv, len, "text/csv", &r);
	double committed_s = (double)(us_monotonic_us() - t0) / 1e6;
	if (r.status != 200)
		fail_msg("upload: %ld %s", r.status, r.body);
	long long created = json_integer_value(
	        json_object_get(json_object_get(r.json, "counts"), "created"));
	ut_reply_free(&r);
	assert_int_equal(created, ROWS);
	wait_queued(db, t0);
	double queued_s = (double)(us_monotonic_us() - t0) / 1e6;
	long peak_kib[UT_N_DAEMONS];
	for (int d = 0; d < UT_N_DAEMONS; d++)
		peak_kib[d] = bench_peak_rss_kib(sys.daemons[d].pid);

	/* The floor: Postgres copying the same 50,000 addresses, after the run. */
	const char **emails = malloc(ROWS * sizeof(char *));
	for (int i = 0; i < ROWS; i++)
		emails[i] = us_arena_printf(a, "new.person.%05d@example.com", i);
	double copy_s = bench_floor_copy_in(db, emails, ROWS);
	PQfinish(db);
	free(emails);

	printf("%-48s %10s %10s %8s\n", "stage", "seconds", "floor s", "ratio");
	printf("%-48s %10.2f %10.3f %7.1fx\n", "upload to all 50,000 invitations committed",
	       committed_s, copy_s, committed_s / copy_s);
	printf("%-48s %10.2f %10.3f %7.1fx\n", "upload to all 50,000 emails queued", queued_s,
	       copy_s, queued_s / copy_s);
	printf("floor: Postgres COPY of the same 50,000 addresses into a scratch table: %.3f s\n",
	       copy_s);
	printf("peak RSS (VmHWM) since start, MiB:");
	for (int d = 0; d < UT_N_DAEMONS; d++)
		printf(" %s %.1f", sys.daemons[d].name, peak_kib[d] / 1024.0);
	printf("\n");

	bench_result *res = bench_result_new(
	        "bulk", "A 50,000-row CSV of new addresses uploaded to the gateway (text/csv): "
	                "parsed, invited in one batch, and handed to usher-notificationd by the "
	                "outbox relay (which does not deliver during the run). The floor is "
	                "Postgres copying the same 50,000 addresses (with a token hash and an "
	                "account id) into a scratch table with a primary key, in the same run; "
	                "peak memory is each daemon's VmHWM after the run.");
	const char *floor = "COPY of the same 50,000 rows";
	bench_result_measure(res, "upload → all emails queued at notificationd", "s", queued_s,
	                     "≤ 2.0 s", 2.0, BENCH_LOWER_IS_BETTER, floor, copy_s);
	bench_result_measure(res, "upload → all invitations committed", "s", committed_s, NULL, 0,
	                     BENCH_LOWER_IS_BETTER, floor, copy_s);
	for (int d = 0; d < UT_N_DAEMONS; d++) {
		char name[64];
		snprintf(name, sizeof(name), "usher-%sd peak RSS", sys.daemons[d].name);
		bench_result_measure(res, name, "MiB", peak_kib[d] / 1024.0, "≤ 64 MiB", 64.0,
		                     BENCH_LOWER_IS_BETTER, NULL, 0);
	}
	if (!bench_result_write(res, result_path))
		fail_msg("could not write %s", result_path);
	free(csv);
	ut_browser_free(admin);
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	ut_system_init(&sys, "bulk_bench");
	sys.extra_env[0] = getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "LOG_LEVEL=info";
	sys.extra_env[1] = "HTTP_MAX_BODY_BYTES=67108864";
	/* Queued is the goal; delivering meanwhile would only compete for the CPU (the email
	 * benchmark measures delivery). */
	sys.extra_env[2] = "DELIVERY_WORKERS=0";
	sys.extra_env[3] = getenv("BENCH_EXTRA") ? getenv("BENCH_EXTRA") : "BENCH_EXTRA=none";
	ut_system_start_all(&sys);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	return 0;
}

int main(int argc, char **argv)
{
	result_path = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};
	return cmocka_run_group_tests(tests, setup, teardown);
}
