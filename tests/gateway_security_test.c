#define _GNU_SOURCE /* strcasestr */
/* The gateway's defences of issue 11, end to end: JSON routes refuse what a cross-site
 * form can send and the invitee's forms need their page's token (hole 9, login CSRF); a
 * failed accept through the form signs nobody in and leaves no session (hole 12); the CSV
 * report neutralises spreadsheet formulas (hole 10); X-Forwarded-For is believed only
 * from TRUSTED_PROXIES, and failed logins throttle the email from that client only
 * (hole 14). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "harness.h"
#include "http.h"

#define PASSWORD "correct horse battery"
#define MAIL_WAIT_MS 15000

static ut_system sys;
static char spool[200];
static us_arena *A;
static char *owner, *account;
static ut_browser *owner_b;

static void expect(const ut_reply *r, long status)
{
	if (r->status != status)
		fail_msg("expected HTTP %ld, got %ld: %s", status, r->status, r->body);
}

static void post_json(ut_browser *b, const char *path, json_t *body, ut_reply *out)
{
	char *text = json_dumps(body, JSON_COMPACT);
	ut_http(b, "POST", path, text, strlen(text), NULL, out);
	free(text);
	json_decref(body);
}

static ut_browser *signed_in(const char *email)
{
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	post_json(b, "/login", json_pack("{s:s, s:s}", "email", email, "password", PASSWORD), &r);
	expect(&r, 200);
	ut_browser_set_csrf(b, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return b;
}

/* Sessions identityd holds for user_id. */
static long sessions_of(const char *user_id)
{
	PGconn *c = ut_db_admin(ut_system_db(&sys, UT_IDENTITY));
	const char *params[] = {user_id};
	PGresult *res = PQexecParams(c, "SELECT count(*) FROM identity.sessions WHERE user_id = $1",
	                             1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return n;
}

/* Invites email as the owner and returns the emailed token. */
static char *invite(const char *email)
{
	const char *emails[] = {email};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	if (ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, 1,
	              &created, &st) != US_OK)
		fail_msg("invite %s: %s", email, st.message);
	us_status_clear(&st);
	ut_email mail;
	assert_true(ut_wait_email(spool, A, email, NULL, 0, MAIL_WAIT_MS, &mail));
	return mail.token;
}

static void test_json_routes_refuse_what_a_cross_site_form_sends(void **state)
{
	(void)state;
	static const char login[] = "{\"email\":\"owner@gwsec.example\",\"password\":\"" PASSWORD "\"}";
	const char *forged[] = {"text/plain", "text/plain; charset=utf-8",
	                        "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"};
	ut_browser *victim = ut_browser_new(&sys);
	for (size_t i = 0; i < 4; i++) {
		ut_reply r;
		ut_http(victim, "POST", "/login", login, sizeof(login) - 1, forged[i], &r);
		if (r.status != 415 || strcasestr(r.headers, "Set-Cookie") != NULL)
			fail_msg("/login as %s: %ld %s", forged[i], r.status, r.headers);
		ut_reply_free(&r);
	}
	/* Nothing signed the victim in. */
	ut_reply r;
	ut_http(victim, "GET", "/me", NULL, 0, NULL, &r);
	expect(&r, 401);
	ut_reply_free(&r);

	char *token = invite("cross.site@example.com");
	char accept[160], decline[160];
	snprintf(accept, sizeof(accept), "/i/%s/accept", token);
	snprintf(decline, sizeof(decline), "/i/%s/decline", token);
	const char *routes[] = {"/logout", "/rpc/usher.v1.TenancyService/ListMyMemberships", accept,
	                        decline, "/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/accept"};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		ut_http(owner_b, "POST", routes[i], "{}", 2, "text/plain", &r);
		if (r.status != 415)
			fail_msg("%s as text/plain: %ld %s", routes[i], r.status, r.body);
		ut_reply_free(&r);
	}
	/* The invitation is untouched, and JSON with parameters is JSON. */
	snprintf(accept, sizeof(accept), "/i/%s", token);
	ut_http(victim, "GET", accept, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "state")), "INVITATION_PENDING");
	ut_reply_free(&r);
	ut_http(victim, "POST", "/login", login, sizeof(login) - 1, "application/json; charset=utf-8",
	        &r);
	expect(&r, 200);
	ut_reply_free(&r);
	ut_browser_free(victim);
}

/* The form token a page gave, from its hidden field. */
static char *page_form_token(const char *body)
{
	const char *p = strstr(body, "name=form_token value=\"");
	assert_non_null(p);
	p += strlen("name=form_token value=\"");
	return us_arena_strndup(A, p, strcspn(p, "\""));
}

static void test_invitee_forms_need_their_pages_token(void **state)
{
	(void)state;
	char *user = ut_create_user(&sys, A, "form.target@example.com", "Form Target", PASSWORD);
	char *token = invite("form.target@example.com");
	char path[200], body[300];
	snprintf(path, sizeof(path), "/i/%s/accept-form", token);
	long before = sessions_of(user);

	/* A cross-site form: right password, no page token. */
	ut_browser *b = ut_browser_new(&sys);
	snprintf(body, sizeof(body), "password=correct+horse+battery");
	ut_reply r;
	ut_http(b, "POST", path, body, strlen(body), "application/x-www-form-urlencoded", &r);
	expect(&r, 403);
	assert_null(strcasestr(r.headers, "Set-Cookie: usher_session"));
	ut_reply_free(&r);
	/* A token the attacker made up, without the cookie the page sets. */
	snprintf(body, sizeof(body), "form_token=AAAAAAAAAAAAAAAAAAAAAAAA&password=correct+horse+battery");
	ut_http(b, "POST", path, body, strlen(body), "application/x-www-form-urlencoded", &r);
	expect(&r, 403);
	ut_reply_free(&r);
	assert_int_equal(sessions_of(user), before);

	/* From the page itself it works. */
	ut_browser_set_accept(b, "text/html");
	snprintf(body, sizeof(body), "/i/%s", token);
	ut_http(b, "GET", body, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_non_null(strcasestr(r.headers, "SameSite=Strict"));
	char *form_tok = page_form_token(r.body);
	ut_reply_free(&r);
	snprintf(body, sizeof(body), "form_token=%s&password=correct+horse+battery", form_tok);
	ut_http(b, "POST", path, body, strlen(body), "application/x-www-form-urlencoded", &r);
	/* Joined and signed in: on to My accounts. */
	expect(&r, 303);
	assert_non_null(strcasestr(r.headers, "Location: /accounts?m=accepted"));
	assert_non_null(strcasestr(r.headers, "Set-Cookie: usher_session"));
	ut_reply_free(&r);
	ut_browser_free(b);
}

/* Hole 12: the form checks before signing in, and a failed accept leaves no session. */
static void test_a_failed_accept_form_leaves_no_session(void **state)
{
	(void)state;
	char *user = ut_create_user(&sys, A, "unlucky@example.com", "Unlucky", PASSWORD);
	char *admin = ut_create_user(&sys, A, "passing.admin@example.com", "Passing", PASSWORD);
	char *sub = ut_create_subaccount(&sys, A, owner, account, "Passing Through");
	ut_grant(&sys, A, account, admin, USHER__V1__ROLE__ROLE_ADMIN, sub);
	const char *emails[] = {"unlucky@example.com"};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	assert_int_equal(ut_invite(&sys, A, admin, account, USHER__V1__ROLE__ROLE_MEMBER, sub, emails,
	                           1, &created, &st),
	                 US_OK);
	ut_email mail;
	assert_true(ut_wait_email(spool, A, "unlucky@example.com", NULL, 0, MAIL_WAIT_MS, &mail));

	ut_browser *b = ut_browser_new(&sys);
	ut_browser_set_accept(b, "text/html");
	char path[200], body[300];
	snprintf(path, sizeof(path), "/i/%s", mail.token);
	ut_reply r;
	ut_http(b, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	char *form_tok = page_form_token(r.body);
	ut_reply_free(&r);

	/* The inviter loses the right to grant before the invitee accepts. */
	ut_browser *o = signed_in("owner@gwsec.example");
	post_json(o, "/rpc/usher.v1.TenancyService/Remove",
	          json_pack("{s:s, s:s}", "accountId", account, "userId", admin), &r);
	expect(&r, 200);
	ut_reply_free(&r);

	long before = sessions_of(user);
	snprintf(path, sizeof(path), "/i/%s/accept-form", mail.token);
	snprintf(body, sizeof(body), "form_token=%s&password=correct+horse+battery", form_tok);
	ut_http(b, "POST", path, body, strlen(body), "application/x-www-form-urlencoded", &r);
	assert_true(r.status >= 400);
	assert_null(strcasestr(r.headers, "Set-Cookie: usher_session"));
	ut_reply_free(&r);
	assert_int_equal(sessions_of(user), before);

	/* Now the invitation is closed: the form says so without signing in at all. */
	ut_http(b, "POST", path, body, strlen(body), "application/x-www-form-urlencoded", &r);
	assert_true(r.status >= 400);
	assert_null(strcasestr(r.headers, "Set-Cookie: usher_session"));
	ut_reply_free(&r);
	assert_int_equal(sessions_of(user), before);
	ut_http(b, "GET", "/me", NULL, 0, NULL, &r);
	expect(&r, 401);
	ut_reply_free(&r);
	ut_browser_free(o);
	ut_browser_free(b);
}

/* Hole 10: a cell a spreadsheet would run as a formula starts with an apostrophe. */
static void test_csv_report_neutralises_formulas(void **state)
{
	(void)state;
	static const char csv[] = "email\r\n"
	                          "\"=cmd|' /C calc'!A1\"\r\n"
	                          "\"@SUM(1+1)*cmd|' /C calc'!A0\"\r\n"
	                          "\"+1+cmd|' /C calc'!A0\"\r\n"
	                          "-dash@example.com\r\n"
	                          "\"\tx@example.com\"\r\n"
	                          "\"\rcr@example.com\"\r\n"
	                          "plain@example.com\r\n";
	char path[200];
	snprintf(path, sizeof(path), "/accounts/%s/invitations/import?format=csv&dry_run=true",
	         account);
	ut_reply r;
	ut_http(owner_b, "POST", path, csv, sizeof(csv) - 1, "text/csv", &r);
	expect(&r, 200);
	/* Every cell of every data row: none may start a formula. */
	size_t rows = 0;
	char *line = strstr(r.body, "\r\n") + 2; /* after the header */
	while (*line != '\0') {
		char *end = strstr(line, "\"\r\n");
		assert_non_null(end);
		for (char *cell = strchr(line, '"'); cell != NULL && cell < end;) {
			char first = cell[1];
			if (first == '=' || first == '+' || first == '-' || first == '@' || first == '\t' ||
			    first == '\r')
				fail_msg("a cell starts with '%c': %.*s", first, (int)(end - line), line);
			/* The next cell: past this one's closing quote (doubled quotes are inside). */
			char *close = cell + 1;
			while ((close = strchr(close, '"')) != NULL && close[1] == '"')
				close += 2;
			cell = close != NULL && close < end ? strchr(close + 1, '"') : NULL;
		}
		rows++;
		line = end + 3;
	}
	assert_int_equal(rows, 7);
	assert_non_null(strstr(r.body, "\"'=cmd|' /C calc'!A1\""));
	assert_non_null(strstr(r.body, "\"'-dash@example.com\""));
	assert_non_null(strstr(r.body, "\"plain@example.com\""));
	ut_reply_free(&r);
}

static long login_from(const char *email, const char *password, const char *forwarded_for)
{
	ut_browser *b = ut_browser_new(&sys);
	char header[96];
	snprintf(header, sizeof(header), "X-Forwarded-For: %s", forwarded_for);
	ut_browser_set_header(b, header);
	ut_reply r;
	post_json(b, "/login", json_pack("{s:s, s:s}", "email", email, "password", password), &r);
	long status = r.status;
	ut_reply_free(&r);
	ut_browser_free(b);
	return status;
}

static void restart_gateway(const char *trusted_proxies)
{
	assert_int_not_equal(ut_system_signal(&sys, UT_GATEWAY, SIGTERM, 10000, NULL), -1);
	sys.extra_env[1] = trusted_proxies;
	ut_system_start(&sys, UT_GATEWAY);
}

/* Hole 14: five wrong passwords from one client lock that email for that client, not for
 * everyone; behind a trusted proxy, clients are told apart by X-Forwarded-For, and from
 * anyone else that header is not believed. */
static void test_throttling_tells_clients_apart_behind_trusted_proxies(void **state)
{
	(void)state;
	ut_create_user(&sys, A, "proxied@example.com", "Proxied", PASSWORD);
	ut_create_user(&sys, A, "direct@example.com", "Direct", PASSWORD);

	restart_gateway("TRUSTED_PROXIES=127.0.0.1");
	for (int i = 0; i < 5; i++)
		assert_int_equal(login_from("proxied@example.com", "wrong password", "203.0.113.5"), 401);
	assert_int_equal(login_from("proxied@example.com", PASSWORD, "203.0.113.5"), 429);
	/* The owner, another client behind the same proxy, is not locked out. */
	assert_int_equal(login_from("proxied@example.com", PASSWORD, "198.51.100.7"), 200);
	/* A client's own X-Forwarded-For entries, left of the proxy's, change nothing. */
	assert_int_equal(login_from("proxied@example.com", PASSWORD, "198.51.100.7, 203.0.113.5"),
	                 429);

	/* Without TRUSTED_PROXIES the header is the client's word: not believed. */
	restart_gateway(NULL);
	for (int i = 0; i < 5; i++)
		assert_int_equal(login_from("direct@example.com", "wrong password", "203.0.113.77"), 401);
	assert_int_equal(login_from("direct@example.com", PASSWORD, "198.51.100.99"), 429);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "gwsec");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	/* Throttle waits long enough that no test races them. */
	sys.extra_env[0] = "LOGIN_BACKOFF_BASE_MS=600000";
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "owner@gwsec.example", "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Gateway Security", "texting");
	owner_b = signed_in("owner@gwsec.example");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_browser_free(owner_b);
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_routes_refuse_what_a_cross_site_form_sends),
		cmocka_unit_test(test_invitee_forms_need_their_pages_token),
		cmocka_unit_test(test_a_failed_accept_form_leaves_no_session),
		cmocka_unit_test(test_csv_report_neutralises_formulas),
		cmocka_unit_test(test_throttling_tells_clients_apart_behind_trusted_proxies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
