/* The pending list of an account, paged and exported (issue 16): ListInvitations' keyset
 * page tokens walk every row exactly once while rows come and go between pages, are bound
 * to their account and filters, and refuse anything else; the page statement reads the
 * partial index in order (no Sort) on page 1 and on a late page, custom plan or generic;
 * GET /v1/accounts/{id}/invitations/pending.csv streams every pending row to whoever may
 * list them, and to nobody else. Real daemons, real Postgres, real HTTP. */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "common/db.h"
#include "common/page_token.h"
#include "common/timestamp.h"
#include "harness.h"
#include "http.h"
#include "store.h"

#define PASSWORD "correct horse battery"
#define LIST "usher.v1.InvitationService/ListInvitations"
#define SMALL 250   /* pending rows of the paged account */
#define BIG 6000    /* more than one export page (5,000) */

static ut_system sys;
static us_arena *A;
static char *owner, *other, *account, *other_account, *big_account;

static Usher__V1__ListInvitationsReply *list(const char *actor, const char *acct, unsigned size,
                                             const char *token, const char *email_contains,
                                             us_err *rc_out, us_status *st)
{
	Usher__V1__ListInvitationsRequest req = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	req.account_id = (char *)acct;
	req.state = USHER__V1__INVITATION_STATE__INVITATION_PENDING;
	req.page_size = size;
	req.page_token = (char *)(token != NULL ? token : "");
	req.email_contains = (char *)(email_contains != NULL ? email_contains : "");
	Usher__V1__ListInvitationsReply *out = NULL;
	us_status_init(st);
	*rc_out = ut_call(&sys, UT_INVITATION, LIST, actor, NULL, &req.base,
	                  &usher__v1__list_invitations_reply__descriptor, A,
	                  (ProtobufCMessage **)&out, st);
	return out;
}

static Usher__V1__ListInvitationsReply *list_ok(const char *acct, unsigned size, const char *token)
{
	us_err rc;
	us_status st;
	Usher__V1__ListInvitationsReply *r = list(owner, acct, size, token, NULL, &rc, &st);
	if (rc != US_OK)
		fail_msg("ListInvitations: %s (%s)", us_strerror(rc), st.message);
	us_status_clear(&st);
	return r;
}

/* The call is refused as INVALID_ARGUMENT, naming page_token. */
static void expect_bad_token(const char *actor, const char *acct, const char *token,
                             const char *email_contains, const char *what)
{
	us_err rc;
	us_status st;
	(void)list(actor, acct, 10, token, email_contains, &rc, &st);
	if (rc != US_EINVAL || us_status_violation(&st, "page_token") == NULL)
		fail_msg("%s: expected INVALID_ARGUMENT on page_token, got %s (%s)", what,
		         us_strerror(rc), st.message);
	us_status_clear(&st);
}

static void revoke(const char *id)
{
	Usher__V1__InvitationRef ref = USHER__V1__INVITATION_REF__INIT;
	ref.invitation_id = (char *)id;
	ProtobufCMessage *out;
	us_status st;
	us_status_init(&st);
	us_err rc = ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Revoke", owner,
	                    ut_key(A), &ref.base, &usher__v1__revoke_reply__descriptor, A, &out, &st);
	if (rc != US_OK)
		fail_msg("Revoke: %s (%s)", us_strerror(rc), st.message);
	us_status_clear(&st);
}

static void invite(const char *actor, const char *acct, const char *prefix, size_t n)
{
	const char **emails = US_ARENA_ARRAY(A, const char *, n);
	for (size_t i = 0; i < n; i++)
		emails[i] = us_arena_printf(A, "%s%zu@example.com", prefix, i);
	Usher__V1__CreateInvitationsReply *r;
	us_status st;
	us_status_init(&st);
	if (ut_invite(&sys, A, actor, acct, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, n, &r, &st) !=
	    US_OK)
		fail_msg("CreateInvitations: %s", st.message);
	us_status_clear(&st);
}

static void test_pages_walk_every_row_once_while_rows_change(void **state)
{
	(void)state;
	/* The whole list in one page of the largest size: the order to compare with. */
	Usher__V1__ListInvitationsReply *all = list_ok(account, 5000, NULL);
	assert_int_equal(all->n_invitations, SMALL);
	assert_string_equal(all->next_page_token, "");
	/* Pages of 40; rows change between pages. */
	const char **seen = US_ARENA_ARRAY(A, const char *, SMALL * 2);
	size_t n_seen = 0, pages = 0;
	const char *token = NULL;
	do {
		Usher__V1__ListInvitationsReply *page = list_ok(account, 40, token);
		for (size_t i = 0; i < page->n_invitations; i++)
			seen[n_seen++] = us_arena_strdup(A, page->invitations[i]->id);
		token = us_arena_strdup(A, page->next_page_token);
		pages++;
		if (pages == 2) {
			/* Gone before they are reached: never shown. Gone after: shown once. */
			revoke(all->invitations[100]->id);
			revoke(all->invitations[200]->id);
			revoke(all->invitations[10]->id);
			/* Newer than the position: they belong before it, not on a later page. */
			invite(owner, account, "newcomer", 5);
		}
		if (pages == 3)
			revoke(all->invitations[119]->id); /* the row the token points after */
	} while (token[0] != '\0' && pages < 100);
	assert_int_equal(n_seen, SMALL - 2);
	size_t j = 0;
	for (size_t i = 0; i < SMALL; i++) {
		if (i == 100 || i == 200)
			continue;
		if (strcmp(seen[j], all->invitations[i]->id) != 0)
			fail_msg("row %zu of the walk is %s, expected %s", j, seen[j], all->invitations[i]->id);
		j++;
	}
}

static void test_token_of_another_list_is_refused(void **state)
{
	(void)state;
	const char *token = list_ok(account, 10, NULL)->next_page_token;
	assert_string_not_equal(token, "");
	/* Its own list takes it. */
	(void)list_ok(account, 10, token);
	/* Account B's owner, with A's token for B's list. */
	expect_bad_token(other, other_account, token, NULL, "A's token on B's list");
	/* The same account with another filter. */
	expect_bad_token(owner, account, token, "invitee", "a token of another filter");
	/* And B's owner cannot read A's list at all, token or not. */
	us_err rc;
	us_status st;
	(void)list(other, account, 10, NULL, NULL, &rc, &st);
	assert_true(rc == US_EDENIED || rc == US_ENOTFOUND);
	us_status_clear(&st);
}

static void test_malformed_tokens_are_refused(void **state)
{
	(void)state;
	const char *good = list_ok(account, 10, NULL)->next_page_token;
	expect_bad_token(owner, account, "garbage", NULL, "garbage");
	char longer[300];
	memset(longer, 'A', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	expect_bad_token(owner, account, longer, NULL, "too long");
	/* One character changed: the tag no longer matches. */
	char *flipped = us_arena_strdup(A, good);
	flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
	expect_bad_token(owner, account, flipped, NULL, "altered");
	flipped = us_arena_strdup(A, good);
	flipped[strlen(flipped) - 2] = flipped[strlen(flipped) - 2] == 'A' ? 'B' : 'A';
	expect_bad_token(owner, account, flipped, NULL, "altered tag");
	/* A made-up position in the old, untagged format. */
	us_page_cursor c = {.created_us = 0};
	snprintf(c.id, sizeof(c.id), "00000000-0000-0000-0000-000000000000");
	char old[US_PAGE_TOKEN_LEN + 1];
	us_page_token_encode(&c, old);
	expect_bad_token(owner, account, old, NULL, "untagged");
	/* Page sizes: 5,000 at most. */
	us_err rc;
	us_status st;
	(void)list(owner, account, 5001, NULL, NULL, &rc, &st);
	assert_int_equal(rc, US_EINVAL);
	assert_non_null(us_status_violation(&st, "page_size"));
	us_status_clear(&st);
	/* Summaries are of the pending list only. */
	Usher__V1__ListInvitationsRequest req = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	req.account_id = account;
	req.summary_only = true;
	ProtobufCMessage *out;
	us_status_init(&st);
	assert_int_equal(ut_call(&sys, UT_INVITATION, LIST, owner, NULL, &req.base,
	                         &usher__v1__list_invitations_reply__descriptor, A, &out, &st),
	                 US_EINVAL);
	assert_non_null(us_status_violation(&st, "summary_only"));
	us_status_clear(&st);
}

/* The plan of a store's pending statement (the one starting with start), as prepared on
 * conn, for a position. */
static char *plan(PGconn *conn, const char *start, const char *after_us, const char *after_id)
{
	const char *params[] = {start};
	PGresult *res = PQexecParams(conn, "SELECT name FROM pg_prepared_statements"
	                                   " WHERE starts_with(statement, $1)"
	                                   " AND statement LIKE '%i.state = ''pending'' AND $2::text%'",
	                             1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("the pending statement \"%s\" is not prepared: %s", start, PQerrorMessage(conn));
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "EXPLAIN (FORMAT JSON) EXECUTE %s('%s', 'pending', NULL, NULL, %s, %s, 101, false)",
	         PQgetvalue(res, 0, 0), big_account, after_us, after_id);
	PQclear(res);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	char *text = us_arena_strdup(A, PQgetvalue(res, 0, 0));
	PQclear(res);
	return text;
}

/* An ordered scan of the partial index that starts at the position (the position is an
 * index condition, not a filter over every row before it), and no Sort. */
static void expect_index_no_sort(const char *p, const char *what)
{
	const char *cond = strstr(p, "\"Index Cond\": \"");
	const char *cond_end = cond != NULL ? strchr(cond + 15, '"') : NULL;
	const char *position = cond != NULL ? strstr(cond, "created_at") : NULL;
	if (strstr(p, "invitations_pending_by_account") == NULL || strstr(p, "\"Sort\"") != NULL ||
	    position == NULL || position > cond_end)
		fail_msg("%s: expected an ordered scan of invitations_pending_by_account from the"
		         " position, got %s", what, p);
}

static void test_page_statement_reads_the_index_in_order(void **state)
{
	(void)state;
	char url[512], err[256];
	ut_db_role_url(ut_system_db(&sys, UT_INVITATION), "invitation", url, sizeof(url));
	PGconn *conn;
	assert_int_equal(us_db_connect(url, "invitation", &conn, err, sizeof(err)), US_OK);
	/* The store's own statement, prepared by running it: page 1, then a late page. */
	invitation_list_query q = {.account_id = big_account,
	                           .state = USHER__V1__INVITATION_STATE__INVITATION_PENDING,
	                           .page_size = 101};
	invitation_row *rows;
	size_t n;
	assert_int_equal(invitation_store_list(conn, A, &q, &rows, &n), US_OK);
	assert_int_equal(n, 101);
	/* The position of row 5,000. */
	const char *params[] = {big_account};
	PGresult *res = PQexecParams(conn,
	                             "SELECT (extract(epoch FROM created_at) * 1000000)::bigint, id"
	                             " FROM invitations WHERE account_id = $1 AND state = 'pending'"
	                             " ORDER BY created_at DESC, id DESC OFFSET 5000 LIMIT 1",
	                             1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	us_page_cursor at = {.created_us = strtoll(PQgetvalue(res, 0, 0), NULL, 10)};
	snprintf(at.id, sizeof(at.id), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	q.after = &at;
	assert_int_equal(invitation_store_list(conn, A, &q, &rows, &n), US_OK);
	assert_int_equal(n, 101);
	invitation_summary *summaries;
	assert_int_equal(invitation_store_list_pending_summaries(conn, A, &q, &summaries, &n), US_OK);
	assert_int_equal(n, 101);
	assert_string_equal(summaries[0].id, rows[0].id);
	assert_string_equal(summaries[100].id, rows[100].id);
	char after_us[32], after_id[64];
	snprintf(after_us, sizeof(after_us), "%lld", (long long)at.created_us);
	snprintf(after_id, sizeof(after_id), "'%s'", at.id);
	/* Custom plans (the first runs) and the generic plan prepared statements settle on. */
	static const char *const modes[] = {"force_custom_plan", "force_generic_plan"};
	for (size_t m = 0; m < 2; m++) {
		char set[64];
		snprintf(set, sizeof(set), "SET plan_cache_mode = %s", modes[m]);
		PQclear(PQexec(conn, set));
		static const char *const statements[] = {"SELECT i.id, i.account_id", "SELECT i.id, i.email"};
		for (size_t s = 0; s < 2; s++) {
			expect_index_no_sort(plan(conn, statements[s], "NULL", "NULL"), modes[m]);
			expect_index_no_sort(plan(conn, statements[s], after_us, after_id), modes[m]);
		}
	}
	PQfinish(conn);
}

/* The export's rows, in the order the list shows them (from the database). */
/* The account's pending addresses in the list's order; with times, each row's sent_at
 * and expires_at as the export writes them ("...","..."), formatted by Postgres. */
static char **pending_emails(const char *acct, size_t *n, char ***times)
{
	PGconn *conn = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	const char *params[] = {acct};
	PGresult *res = PQexecParams(conn,
	                             "SELECT email, '\"' || coalesce(" US_SQL_TIMESTAMP("last_sent_at")
	                             ", '') || '\",\"' || " US_SQL_TIMESTAMP("expires_at") " || '\"'"
	                             " FROM invitation.invitations WHERE account_id = $1"
	                             " AND state = 'pending' AND expires_at > now()"
	                             " ORDER BY created_at DESC, id DESC",
	                             1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	*n = (size_t)PQntuples(res);
	char **out = US_ARENA_ARRAY(A, char *, *n + 1);
	if (times != NULL)
		*times = US_ARENA_ARRAY(A, char *, *n + 1);
	for (size_t i = 0; i < *n; i++) {
		out[i] = us_arena_strdup(A, PQgetvalue(res, (int)i, 0));
		if (times != NULL)
			(*times)[i] = us_arena_strdup(A, PQgetvalue(res, (int)i, 1));
	}
	PQclear(res);
	PQfinish(conn);
	return out;
}

static ut_browser *signed_in(const char *email)
{
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	char *body = us_arena_printf(A, "{\"email\":\"%s\",\"password\":\"%s\"}", email, PASSWORD);
	ut_http(b, "POST", "/login", body, strlen(body), NULL, &r);
	assert_int_equal(r.status, 200);
	ut_reply_free(&r);
	return b;
}

static void test_export_streams_every_pending_row(void **state)
{
	(void)state;
	size_t n;
	char **times;
	char **emails = pending_emails(big_account, &n, &times);
	assert_true(n > BIG); /* more than one page of 5,000 */
	ut_browser *b = signed_in("owner@acme.example");
	ut_reply r;
	char *path = us_arena_printf(A, "/v1/accounts/%s/invitations/pending.csv", big_account);
	ut_http(b, "GET", path, NULL, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strcasestr(r.headers, "content-type: text/csv"));
	assert_non_null(strcasestr(r.headers, "transfer-encoding: chunked"));
	const char header[] = "email,role,status,sent_at,expires_at,times_sent\r\n";
	assert_memory_equal(r.body, header, strlen(header));
	/* Every row, once, in the list's order, CSV-injection-safe. */
	const char *line = r.body + strlen(header);
	size_t rows = 0;
	bool saw_formula = false;
	while (*line != '\0') {
		const char *end = strstr(line, "\r\n");
		assert_non_null(end);
		assert_true(rows < n);
		const char *e = emails[rows];
		/* The times too: the export formats them in C (common/timestamp.h), exactly as
		 * Postgres does for every other reply. */
		char *want = e[0] == '=' ? us_arena_printf(A, "\"'%s\",\"member\",\"pending\",%s,", e, times[rows])
		                         : us_arena_printf(A, "\"%s\",\"member\",\"pending\",%s,", e, times[rows]);
		saw_formula |= e[0] == '=';
		if (strncmp(line, want, strlen(want)) != 0)
			fail_msg("row %zu: expected %s, got %.*s", rows, want, (int)(end - line), line);
		rows++;
		line = end + 2;
	}
	assert_int_equal(rows, n);
	assert_true(saw_formula);
	ut_reply_free(&r);
	ut_browser_free(b);
}

static void test_export_needs_the_right_to_list(void **state)
{
	(void)state;
	char *path = us_arena_printf(A, "/v1/accounts/%s/invitations/pending.csv", account);
	ut_reply r;
	/* Nobody signed in. */
	ut_browser *anon = ut_browser_new(&sys);
	ut_http(anon, "GET", path, NULL, 0, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_null(strstr(r.body, "email,role"));
	ut_reply_free(&r);
	ut_browser_free(anon);
	/* Signed in, not a member of the account. */
	ut_browser *b = signed_in("other@acme.example");
	ut_http(b, "GET", path, NULL, 0, NULL, &r);
	assert_true(r.status == 403 || r.status == 404);
	assert_null(strstr(r.body, "email,role"));
	assert_null(strstr(r.body, "invitee"));
	ut_reply_free(&r);
	/* Not an account id. */
	ut_http(b, "GET", "/v1/accounts/nope/invitations/pending.csv", NULL, 0, NULL, &r);
	assert_int_equal(r.status, 400);
	ut_reply_free(&r);
	ut_browser_free(b);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "pending_list");
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s/mail", sys.dir);
	sys.extra_env[0] = spool_setting;
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "owner@acme.example", "Olivia Owner", PASSWORD);
	other = ut_create_user(&sys, A, "other@acme.example", "Oscar Other", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "");
	other_account = ut_create_account(&sys, A, other, "Other Team", "");
	big_account = ut_create_account(&sys, A, owner, "Big Team", "");
	invite(owner, account, "invitee", SMALL);
	invite(other, other_account, "stranger", 3);
	/* The big account: a formula-looking address, then BIG copies of its row made by SQL,
	 * each a second older than the last (the batch path is not what this test is about). */
	const char *const formula[] = {"=sum@example.com"};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	us_status_init(&st);
	assert_int_equal(ut_invite(&sys, A, owner, big_account, USHER__V1__ROLE__ROLE_MEMBER, NULL,
	                           formula, 1, &created, &st),
	                 US_OK);
	assert_int_equal(created->created, 1);
	us_status_clear(&st);
	char *sql = us_arena_printf(
	        A,
	        "INSERT INTO invitation.invitations SELECT (jsonb_populate_record(i,"
	        " jsonb_build_object('id', gen_random_uuid(), 'email', 'bulk' || g || '@example.com',"
	        "  'token_hash', decode(md5(g::text || clock_timestamp()::text), 'hex'),"
	        "  'created_at', i.created_at - g * interval '1 second'))).*"
	        " FROM invitation.invitations i, generate_series(1, %d) g"
	        " WHERE i.account_id = '%s'; ANALYZE invitation.invitations",
	        BIG, big_account);
	ut_db_admin_exec(ut_system_db(&sys, UT_INVITATION), sql);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_of_another_list_is_refused),
		cmocka_unit_test(test_malformed_tokens_are_refused),
		cmocka_unit_test(test_pages_walk_every_row_once_while_rows_change),
		cmocka_unit_test(test_page_statement_reads_the_index_in_order),
		cmocka_unit_test(test_export_streams_every_pending_row),
		cmocka_unit_test(test_export_needs_the_right_to_list),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
