#define _GNU_SOURCE /* strcasestr */
/* list: the pending invitations of an account with 50,000 pending. Over NNG
 * (ListInvitations straight to usher-invitationd): the first page of 100, page 500 of 100
 * (its token found by walking the pages before it), and every page of 500; over HTTP: the
 * first page of 100, and the streamed CSV export (GET /v1/accounts/{id}/invitations/
 * pending.csv, ROUND21's contract; reported unavailable when the gateway does not serve it).
 * Floors, in the same run: Postgres selecting the same first page plus a bare NNG round
 * trip for a page; Postgres copying the same rows out as CSV for all pages and the export.
 * Usage: list_bench RESULT.json */
#include <setjmp.h>
#include <stdbool.h>
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
#include "result.h"
#include "stats.h"

#define ROWS 50000
#define SMALL_PAGE 100
#define BIG_PAGE 500
#define INVITE_BATCH 5000
#define REPEATS 50   /* of one page, for its p50 */
#define EXPORTS 3
#define PASSWORD "correct horse battery"
#define CSV_HEADER "email,role,status,sent_at,expires_at,times_sent"

static const char *result_path;
static ut_system sys;
static us_rpc_client *rpc;
static const char *owner, *account;

/* One page over NNG after token ("": the first); its rows' count, the next token in a. */
static size_t page_over_nng(us_arena *a, unsigned size, const char *token, char **next)
{
	Usher__V1__ListInvitationsRequest req = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	req.account_id = (char *)account;
	req.state = USHER__V1__INVITATION_STATE__INVITATION_PENDING;
	req.page_size = size;
	req.page_token = (char *)token;
	us_rpc_call_opts opts = {.timeout_ms = 30000, .actor_user_id = owner};
	ProtobufCMessage *out;
	us_status st;
	if (us_rpc_call(rpc, "usher.v1.InvitationService/ListInvitations", &opts, &req.base,
	                &usher__v1__list_invitations_reply__descriptor, a, &out, &st) != US_OK)
		fail_msg("ListInvitations: %s", st.message);
	Usher__V1__ListInvitationsReply *r = (Usher__V1__ListInvitationsReply *)out;
	if (next != NULL)
		*next = r->next_page_token;
	return r->n_invitations;
}

/* Invites ROWS new addresses in batches of INVITE_BATCH, with a deadline a loaded machine
 * meets (the set-up is not what is measured). */
static void invite_all(us_arena *keep)
{
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	scope.organization = true;
	for (int from = 0; from < ROWS; from += INVITE_BATCH) {
		us_arena *a = us_arena_new();
		char **emails = US_ARENA_ARRAY(a, char *, INVITE_BATCH);
		for (int i = 0; i < INVITE_BATCH; i++)
			emails[i] = us_arena_printf(a, "pending.person.%05d@example.com", from + i);
		Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
		req.account_id = (char *)account;
		req.role = USHER__V1__ROLE__ROLE_MEMBER;
		req.scope = &scope;
		req.emails = emails;
		req.n_emails = INVITE_BATCH;
		us_rpc_call_opts opts = {.timeout_ms = 300000, .idempotency_key = ut_key(keep),
		                         .actor_user_id = owner};
		ProtobufCMessage *out;
		us_status st;
		if (us_rpc_call(rpc, "usher.v1.InvitationService/CreateInvitations", &opts, &req.base,
		                &usher__v1__create_invitations_reply__descriptor, a, &out,
		                &st) != US_OK)
			fail_msg("inviting %d from %d: %s", INVITE_BATCH, from, st.message);
		if (((Usher__V1__CreateInvitationsReply *)out)->created != INVITE_BATCH)
			fail_msg("not every one of %d addresses invited", INVITE_BATCH);
		us_arena_free(a);
	}
}

/* The p50 of REPEATS requests of the same page, in ms. */
static double page_p50_ms(unsigned size, const char *token, size_t want_rows)
{
	double samples[REPEATS];
	for (int i = 0; i < REPEATS; i++) {
		us_arena *a = us_arena_new();
		int64_t t0 = us_monotonic_us();
		size_t rows = page_over_nng(a, size, token, NULL);
		samples[i] = (double)(us_monotonic_us() - t0) / 1e3;
		us_arena_free(a);
		if (rows != want_rows)
			fail_msg("a page of %zu rows, not %zu", rows, want_rows);
	}
	bench_stats st;
	bench_stats_of(samples, REPEATS, &st);
	return st.p50;
}

/* Every page of size; the seconds it took; the token of page stop_at (1-based) in *kept. */
static double walk_pages(us_arena *keep, unsigned size, size_t stop_at, char **kept,
                         double *page_ms)
{
	size_t rows = 0, pages = 0;
	char *token = "";
	int64_t t0 = us_monotonic_us();
	do {
		us_arena *a = us_arena_new();
		char *next;
		if (pages + 1 == stop_at && kept != NULL)
			*kept = us_arena_strdup(keep, token);
		int64_t p0 = us_monotonic_us();
		rows += page_over_nng(a, size, token, &next);
		if (page_ms != NULL && pages + 1 == stop_at)
			*page_ms = (double)(us_monotonic_us() - p0) / 1e3;
		pages++;
		token = us_arena_strdup(keep, next);
		us_arena_free(a);
	} while (token[0] != '\0');
	double s = (double)(us_monotonic_us() - t0) / 1e6;
	if (rows != ROWS)
		fail_msg("the pages held %zu rows, not %d", rows, ROWS);
	return s;
}

static double first_page_over_http(ut_browser *b)
{
	char body[256];
	snprintf(body, sizeof(body),
	         "{\"accountId\":\"%s\",\"state\":\"INVITATION_PENDING\",\"pageSize\":%d}", account,
	         SMALL_PAGE);
	double samples[REPEATS];
	for (int i = 0; i < REPEATS; i++) {
		ut_reply r;
		int64_t t0 = us_monotonic_us();
		ut_http(b, "POST", "/rpc/usher.v1.InvitationService/ListInvitations", body,
		        strlen(body), NULL, &r);
		samples[i] = (double)(us_monotonic_us() - t0) / 1e3;
		if (r.status != 200 ||
		    json_array_size(json_object_get(r.json, "invitations")) != SMALL_PAGE)
			fail_msg("ListInvitations over HTTP: %ld %.200s", r.status, r.body);
		ut_reply_free(&r);
	}
	bench_stats st;
	bench_stats_of(samples, REPEATS, &st);
	return st.p50;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

/* The export's p50 in seconds over EXPORTS downloads, or a negative number with why filled
 * in when the gateway does not serve it (as the contract says). */
static double export_p50_s(ut_browser *b, char *why, size_t why_size)
{
	char path[200];
	snprintf(path, sizeof(path), "/v1/accounts/%s/invitations/pending.csv", account);
	double samples[EXPORTS];
	for (int i = 0; i < EXPORTS; i++) {
		ut_reply r;
		int64_t t0 = us_monotonic_us();
		ut_http(b, "GET", path, NULL, 0, NULL, &r);
		samples[i] = (double)(us_monotonic_us() - t0) / 1e6;
		bool csv = r.headers != NULL && strcasestr(r.headers, "content-type: text/csv") != NULL;
		size_t lines = r.body != NULL ? count_lines(r.body, r.len) : 0;
		bool header = r.body != NULL &&
		              (strncmp(r.body, CSV_HEADER "\r\n", strlen(CSV_HEADER) + 2) == 0 ||
		               strncmp(r.body, CSV_HEADER "\n", strlen(CSV_HEADER) + 1) == 0);
		if (r.status != 200 || !csv || !header || lines != ROWS + 1) {
			snprintf(why, why_size,
			         "GET /v1/accounts/{id}/invitations/pending.csv answered %ld%s with %zu "
			         "lines, not 200 text/csv with a header and %d rows",
			         r.status, csv ? " text/csv" : "", lines, ROWS);
			ut_reply_free(&r);
			return -1;
		}
		ut_reply_free(&r);
	}
	bench_stats st;
	bench_stats_of(samples, EXPORTS, &st);
	return st.p50;
}

/* Postgres alone: the first page's rows, as ListInvitations asks for them; p50 in ms. */
static double first_page_sql_ms(PGconn *conn)
{
	const char *params[] = {account};
	double samples[REPEATS];
	for (int i = 0; i < REPEATS; i++) {
		int64_t t0 = us_monotonic_us();
		PGresult *res = PQexecParams(
		        conn,
		        "SELECT * FROM invitation.invitations WHERE account_id = $1 AND state = "
		        "'pending' AND expires_at > now() ORDER BY created_at DESC, id DESC LIMIT 100",
		        1, NULL, params, NULL, NULL, 0);
		samples[i] = (double)(us_monotonic_us() - t0) / 1e3;
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != SMALL_PAGE)
			fail_msg("the first page in SQL: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
	bench_stats st;
	bench_stats_of(samples, REPEATS, &st);
	return st.p50;
}

static void bench(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	owner = ut_create_user(&sys, a, "list.owner@acme.example", "Owner", PASSWORD);
	account = ut_create_account(&sys, a, owner, "List Co", "");
	char *session = ut_login(&sys, a, "list.owner@acme.example", PASSWORD);
	char err[128];
	us_rpc_client_opts opts = {.url = sys.daemons[UT_INVITATION].url, .caller = "list_bench"};
	if (us_rpc_client_open(&opts, &rpc, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	invite_all(a);
	double first_ms = page_p50_ms(SMALL_PAGE, "", SMALL_PAGE);
	char *page500_token = NULL;
	double page500_walked_ms = 0;
	double small_pages_s = walk_pages(a, SMALL_PAGE, ROWS / SMALL_PAGE, &page500_token,
	                                  &page500_walked_ms);
	double page500_ms = page_p50_ms(SMALL_PAGE, page500_token, SMALL_PAGE);
	double big_pages_s = walk_pages(a, BIG_PAGE, 0, NULL, NULL);
	us_rpc_client_close(rpc);

	ut_browser *b = ut_browser_new(&sys);
	ut_browser_add_header(b, us_arena_printf(a, "Authorization: Bearer %s", session));
	double http_first_ms = first_page_over_http(b);
	char why[256] = "";
	double export_s = export_p50_s(b, why, sizeof(why));
	ut_browser_free(b);

	PGconn *conn = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	double sql_ms = first_page_sql_ms(conn);
	size_t csv_bytes = 0;
	const char *same_rows = us_arena_printf(
	        a,
	        "SELECT email, state, last_sent_at, expires_at, send_count FROM "
	        "invitation.invitations WHERE account_id = '%s' AND state = 'pending' AND "
	        "expires_at > now() ORDER BY created_at DESC, id DESC",
	        account);
	double copy_s = bench_floor_copy_out(conn, same_rows, &csv_bytes);
	PQfinish(conn);
	bench_stats round_trip;
	bench_floor_nng(5000, &round_trip);
	double page_floor_ms = sql_ms + round_trip.p50 / 1e3;

	printf("%-44s %10s %10s %8s\n", "pending list of 50,000", "result", "floor", "ratio");
	printf("%-44s %8.2f ms %7.2f ms %7.1fx\n", "first page of 100, NNG, p50", first_ms,
	       page_floor_ms, first_ms / page_floor_ms);
	printf("%-44s %8.2f ms %7.2f ms %7.1fx\n", "page 500 of 100, NNG, p50", page500_ms,
	       page_floor_ms, page500_ms / page_floor_ms);
	printf("%-44s %8.2f ms\n", "page 500 of 100, NNG, in the walk", page500_walked_ms);
	printf("%-44s %8.2f s  %7.3f s  %7.1fx\n", "all 500 pages of 100, NNG", small_pages_s,
	       copy_s, small_pages_s / copy_s);
	printf("%-44s %8.2f s  %7.3f s  %7.1fx\n", "all 100 pages of 500, NNG", big_pages_s,
	       copy_s, big_pages_s / copy_s);
	printf("%-44s %8.2f ms %7.2f ms %7.1fx\n", "first page of 100, HTTP, p50", http_first_ms,
	       page_floor_ms, http_first_ms / page_floor_ms);
	if (export_s >= 0)
		printf("%-44s %8.3f s  %7.3f s  %7.1fx\n", "CSV export over HTTP, p50 of 3", export_s,
		       copy_s, export_s / copy_s);
	else
		printf("CSV export: unavailable: %s\n", why);
	printf("floors: SQL of the first page %.2f ms + bare NNG round trip %.3f ms; COPY of the "
	       "same 50,000 rows out as CSV %.3f s (%zu bytes)\n",
	       sql_ms, round_trip.p50 / 1e3, copy_s, csv_bytes);

	bench_result *r = bench_result_new(
	        "list", "An account with 50,000 pending invitations, listed by its owner: "
	                "ListInvitations (state pending) over NNG straight to usher-invitationd and "
	                "over HTTP through the gateway, and the streamed CSV export. A page's floor "
	                "is Postgres selecting the same first page (SELECT ... LIMIT 100) plus a "
	                "bare NNG round trip; the floor of all pages and of the export is Postgres "
	                "copying the same 50,000 rows out as CSV; both in the same run.");
	const char *page_floor = "SQL of the page + NNG round trip";
	const char *all_floor = "COPY of the same rows out, CSV";
	bench_result_measure(r, "first page of 100, NNG, p50", "ms", first_ms, "≤ 10 ms", 10.0,
	                     BENCH_LOWER_IS_BETTER, page_floor, page_floor_ms);
	bench_result_measure(r, "page 500 of 100, NNG, p50", "ms", page500_ms, "≤ 10 ms", 10.0,
	                     BENCH_LOWER_IS_BETTER, page_floor, page_floor_ms);
	bench_result_measure(r, "first page of 100, HTTP, p50", "ms", http_first_ms, "≤ 10 ms",
	                     10.0, BENCH_LOWER_IS_BETTER, page_floor, page_floor_ms);
	bench_result_measure(r, "all 100 pages of 500, NNG", "s", big_pages_s, NULL, 0,
	                     BENCH_LOWER_IS_BETTER, all_floor, copy_s);
	bench_result_measure(r, "all 500 pages of 100, NNG", "s", small_pages_s, NULL, 0,
	                     BENCH_LOWER_IS_BETTER, all_floor, copy_s);
	if (export_s >= 0)
		bench_result_measure(r, "CSV export of all 50,000, HTTP", "s", export_s, "≤ 300 ms",
		                     0.3, BENCH_LOWER_IS_BETTER, all_floor, copy_s);
	else
		bench_result_unavailable(r, "CSV export of all 50,000, HTTP", "≤ 300 ms", why);
	bench_result_detail(r, "page 500 of 100, in the walk", "%.2f ms", page500_walked_ms);
	bench_result_detail(r, "page p50s", "of %d requests of the same page", REPEATS);
	if (!bench_result_write(r, result_path))
		fail_msg("could not write %s", result_path);
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	ut_system_init(&sys, "list_bench");
	sys.extra_env[0] = getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "LOG_LEVEL=info";
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
