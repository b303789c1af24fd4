/* single: one invitation of one new address, one call after another, over NNG
 * (CreateInvitations straight to usher-invitationd) and over HTTP (the gateway's
 * /rpc/ route, a program's Bearer session); p50 and p99 of each, next to the floor measured
 * in the same run: a bare durable commit plus a bare NNG round trip.
 * Usage: single_bench RESULT.json   (BENCH_SINGLE_CALLS sets the count, default 500) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calls.h"
#include "common/clock.h"
#include "floors.h"
#include "harness.h"
#include "http.h"
#include "invite_call.h"
#include "result.h"
#include "stats.h"

#define PASSWORD "correct horse battery"
#define WARM_UP 50

static const char *result_path;
static ut_system sys;

static void invite_over_nng(us_rpc_client *rpc, const char *owner, const char *account,
                            const char *email)
{
	us_status st;
	if (bench_invite_one(rpc, owner, account, email, &st) != US_OK)
		fail_msg("CreateInvitations: %s", st.message);
}

static void invite_over_http(ut_browser *b, const char *session, const char *account,
                             const char *email)
{
	us_arena *a = us_arena_new();
	ut_browser_set_header(b, us_arena_printf(a, "Authorization: Bearer %s", session));
	ut_browser_add_header(b, us_arena_printf(a, "Idempotency-Key: %s", ut_key(a)));
	char *body = us_arena_printf(a,
	                             "{\"accountId\":\"%s\",\"role\":\"ROLE_MEMBER\","
	                             "\"scope\":{\"organization\":true},\"emails\":[\"%s\"]}",
	                             account, email);
	ut_reply r;
	ut_http(b, "POST", "/rpc/usher.v1.InvitationService/CreateInvitations", body, strlen(body),
	        NULL, &r);
	if (r.status != 200)
		fail_msg("CreateInvitations over HTTP: %ld %s", r.status, r.body);
	ut_reply_free(&r);
	us_arena_free(a);
}

static void bench(void **state)
{
	(void)state;
	const char *count = getenv("BENCH_SINGLE_CALLS");
	size_t n = count != NULL ? strtoul(count, NULL, 10) : 500;
	if (n < 2)
		fail_msg("BENCH_SINGLE_CALLS must be at least 2");
	us_arena *a = us_arena_new();
	char *owner = ut_create_user(&sys, a, "single.owner@acme.example", "Owner", PASSWORD);
	char *account = ut_create_account(&sys, a, owner, "Single Co", "");
	char *session = ut_login(&sys, a, "single.owner@acme.example", PASSWORD);
	double *nng = malloc(n * sizeof(double)), *http = malloc(n * sizeof(double));

	us_rpc_client *rpc;
	char err[128];
	us_rpc_client_opts opts = {.url = sys.daemons[UT_INVITATION].url, .caller = "single_bench"};
	if (us_rpc_client_open(&opts, &rpc, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	ut_browser *b = ut_browser_new(&sys);
	/* Warm both paths, then alternate halves so drift hits both. */
	for (size_t i = 0; i < WARM_UP; i++) {
		invite_over_nng(rpc, owner, account, us_arena_printf(a, "warm.nng.%zu@example.com", i));
		invite_over_http(b, session, account, us_arena_printf(a, "warm.http.%zu@example.com", i));
	}
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = us_monotonic_us();
		invite_over_nng(rpc, owner, account, us_arena_printf(a, "nng.%zu@example.com", i));
		int64_t t1 = us_monotonic_us();
		invite_over_http(b, session, account, us_arena_printf(a, "http.%zu@example.com", i));
		nng[i] = (double)(t1 - t0);
		http[i] = (double)(us_monotonic_us() - t1);
	}
	ut_browser_free(b);
	us_rpc_client_close(rpc);

	bench_stats over_nng, over_http, commit, round_trip;
	bench_stats_of(nng, n, &over_nng);
	bench_stats_of(http, n, &over_http);
	PGconn *conn = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	bench_floor_commit(conn, 1000, &commit);
	PQfinish(conn);
	bench_floor_nng(5000, &round_trip);
	double floor_p50 = (commit.p50 + round_trip.p50) / 1e3;
	double floor_p99 = (commit.p99 + round_trip.p99) / 1e3;

	printf("%-40s %8s %8s %8s\n", "one invitation, one address", "p50 ms", "p99 ms", "mean ms");
	printf("%-40s %8.2f %8.2f %8.2f\n", "over NNG (invitationd)", over_nng.p50 / 1e3,
	       over_nng.p99 / 1e3, over_nng.mean / 1e3);
	printf("%-40s %8.2f %8.2f %8.2f\n", "over HTTP (gateway)", over_http.p50 / 1e3,
	       over_http.p99 / 1e3, over_http.mean / 1e3);
	printf("%-40s %8.2f %8.2f %8.2f\n", "floor: bare commit", commit.p50 / 1e3,
	       commit.p99 / 1e3, commit.mean / 1e3);
	printf("%-40s %8.2f %8.2f %8.2f\n", "floor: bare NNG round trip", round_trip.p50 / 1e3,
	       round_trip.p99 / 1e3, round_trip.mean / 1e3);
	printf("ratios to commit + round trip (p50): NNG %.1fx, HTTP %.1fx\n",
	       over_nng.p50 / 1e3 / floor_p50, over_http.p50 / 1e3 / floor_p50);

	bench_result *r = bench_result_new(
	        "single", "One invitation of one new address at a time, by the account's owner, "
	                  "alternating: CreateInvitations over NNG straight to usher-invitationd, "
	                  "then over HTTP through the gateway (POST /rpc/..., a Bearer session). "
	                  "The floor is what one durable write over RPC needs at least: a bare "
	                  "commit plus a bare NNG round trip, measured in the same run.");
	const char *f50 = "bare commit + NNG round trip, p50", *f99 = "the same, p99";
	bench_result_measure(r, "over NNG, p50", "ms", over_nng.p50 / 1e3, "≤ 1.5 ms", 1.5,
	                     BENCH_LOWER_IS_BETTER, f50, floor_p50);
	bench_result_measure(r, "over NNG, p99", "ms", over_nng.p99 / 1e3, NULL, 0,
	                     BENCH_LOWER_IS_BETTER, f99, floor_p99);
	bench_result_measure(r, "over HTTP, p50", "ms", over_http.p50 / 1e3, "≤ 2.5 ms", 2.5,
	                     BENCH_LOWER_IS_BETTER, f50, floor_p50);
	bench_result_measure(r, "over HTTP, p99", "ms", over_http.p99 / 1e3, NULL, 0,
	                     BENCH_LOWER_IS_BETTER, f99, floor_p99);
	bench_result_detail(r, "calls", "%zu over each, after %d to warm up", n, WARM_UP);
	if (!bench_result_write(r, result_path))
		fail_msg("could not write %s", result_path);
	free(nng);
	free(http);
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	ut_system_init(&sys, "single_bench");
	sys.extra_env[0] = getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "LOG_LEVEL=info";
	/* Queued is what a caller waits for; delivery is the email benchmark's. */
	sys.extra_env[1] = "DELIVERY_WORKERS=0";
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
