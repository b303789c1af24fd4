/* CSV import and permanent invitation links through the gateway, as an admin and as the
 * people joining would use them. */
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
#include "harness.h"
#include "http.h"

#define PASSWORD "correct horse battery"

static ut_system sys;
static us_arena *A;
static char *owner, *account;
static ut_browser *admin;
static char import_path[200];

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

static size_t count_invitations(void)
{
	ut_reply r;
	post_json(admin, "/rpc/usher.v1.InvitationService/ListInvitations",
	          json_pack("{s:s, s:i}", "accountId", account, "pageSize", 500), &r);
	expect(&r, 200);
	size_t n = json_array_size(json_object_get(r.json, "invitations"));
	ut_reply_free(&r);
	return n;
}

/* The outcome the report gives a row number. */
static const char *outcome_of(json_t *rows, int row)
{
	for (size_t i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);
		if (json_integer_value(json_object_get(r, "row")) == row)
			return json_string_value(json_object_get(r, "outcome"));
	}
	return "(no such row)";
}

static const char fixture[] =
        "\xef\xbb\xbf"
        "Name,Email\r\n"
        "Ann,ann@example.com\r\n"
        "\"Smith, Bob\",\"bob@example.com\"\r\n"
        "\r\n"
        "X,<x@y.com>\r\n"
        "Dup,ANN@example.com\r\n"
        "Mem,mia@example.com\r\n"
        "Pen,pending@example.com\r\n"
        "Burn,burner@mailinator.com\r\n"
        "Bad,not-an-email\r\n";

static void test_csv_rules(void **state)
{
	(void)state;
	char *member = ut_create_user(&sys, A, "mia@example.com", "Mia", PASSWORD);
	ut_grant(&sys, A, account, member, USHER__V1__ROLE__ROLE_MEMBER, NULL);
	const char *pending[] = {"pending@example.com"};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	assert_int_equal(ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, pending,
	                           1, &created, &st),
	                 US_OK);

	/* A dry run reports every row and writes nothing. */
	size_t before = count_invitations();
	char path[300];
	snprintf(path, sizeof(path), "%s?dry_run=true", import_path);
	ut_reply r;
	ut_http(admin, "POST", path, fixture, sizeof(fixture) - 1, "text/csv", &r);
	expect(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "dryRun")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "counts"), "created")), 2);
	ut_reply_free(&r);
	assert_int_equal(count_invitations(), before);

	ut_http(admin, "POST", import_path, fixture, sizeof(fixture) - 1, "text/csv", &r);
	expect(&r, 200);
	json_t *rows = json_object_get(r.json, "rows");
	assert_int_equal(json_array_size(rows), 8); /* the blank line is no row of addresses */
	assert_string_equal(outcome_of(rows, 2), "created");
	assert_string_equal(outcome_of(rows, 3), "created");
	assert_string_equal(outcome_of(rows, 5), "invalid");
	assert_string_equal(outcome_of(rows, 6), "duplicate_in_batch");
	assert_string_equal(outcome_of(rows, 7), "already_member");
	assert_string_equal(outcome_of(rows, 8), "already_pending");
	assert_string_equal(outcome_of(rows, 9), "disposable_domain");
	assert_string_equal(outcome_of(rows, 10), "invalid");
	for (size_t i = 0; i < json_array_size(rows); i++) {
		json_t *row = json_array_get(rows, i);
		if (json_integer_value(json_object_get(row, "row")) == 5)
			assert_string_equal(json_string_value(json_object_get(row, "reason")),
			                    "must not contain < or >");
	}
	ut_reply_free(&r);
	assert_int_equal(count_invitations(), before + 2);

	/* The report as a CSV download; a multipart upload reads the same. */
	static const char small[] = "email\ncarol@example.com\n";
	snprintf(path, sizeof(path), "%s?format=csv&dry_run=true", import_path);
	ut_http(admin, "POST", path, small, sizeof(small) - 1, "text/csv", &r);
	expect(&r, 200);
	assert_non_null(strcasestr(r.headers, "Content-Type: text/csv"));
	assert_non_null(strstr(r.body, "row,email,outcome,reason,invitation_id\r\n"));
	assert_non_null(strstr(r.body, "2,\"carol@example.com\",\"created\""));
	ut_reply_free(&r);
	static const char multipart[] =
	        "--XyZ\r\n"
	        "Content-Disposition: form-data; name=\"role\"\r\n\r\n"
	        "moderator\r\n"
	        "--XyZ\r\n"
	        "Content-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n"
	        "Content-Type: text/csv\r\n\r\n"
	        "Email\ncarol@example.com\ndave@example.com\n\r\n"
	        "--XyZ--\r\n";
	ut_http(admin, "POST", import_path, multipart, sizeof(multipart) - 1,
	        "multipart/form-data; boundary=XyZ", &r);
	expect(&r, 200);
	rows = json_object_get(r.json, "rows");
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(outcome_of(rows, 3), "created");
	ut_reply_free(&r);
}

static void test_too_many_rows_is_refused_before_writing(void **state)
{
	(void)state;
	size_t before = count_invitations();
	size_t rows = 50001;
	size_t cap = 40 * (rows + 2);
	char *csv = malloc(cap);
	size_t len = (size_t)snprintf(csv, cap, "email\n");
	for (size_t i = 0; i < rows; i++)
		len += (size_t)snprintf(csv + len, cap - len, "bulk.person.%zu@example.com\n", i);
	ut_reply r;
	ut_http(admin, "POST", import_path, csv, len, "text/csv", &r);
	expect(&r, 400);
	assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")),
	                       "more than 50000 rows"));
	ut_reply_free(&r);
	free(csv);
	assert_int_equal(count_invitations(), before);
}

static char *enable_link(json_t *extra, char **token)
{
	json_t *body = json_pack("{s:s}", "accountId", account);
	if (extra != NULL) {
		json_object_update(body, extra);
		json_decref(extra);
	}
	ut_reply r;
	post_json(admin, "/rpc/usher.v1.InvitationService/EnableLink", body, &r);
	expect(&r, 200);
	json_t *link = json_object_get(r.json, "link");
	const char *url = json_string_value(json_object_get(link, "url"));
	assert_non_null(url);
	const char *slash = strstr(url, "/l/");
	assert_non_null(slash);
	*token = us_arena_strdup(A, slash + 3);
	char *id = us_arena_strdup(A, json_string_value(json_object_get(link, "id")));
	ut_reply_free(&r);
	return id;
}

/* The token of the join confirmation mailed to email (the link proves the address). */
static char *confirmation_token(const char *email)
{
	ut_email mail;
	char spool[200];
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	assert_true(ut_wait_email(spool, A, email, "Confirm your email address", 0, 15000, &mail));
	char *flat = us_arena_strdup(A, mail.text), *w = flat;
	for (const char *r = mail.text; *r; r++) {
		if (r[0] == '=' && r[1] == '\r' && r[2] == '\n')
			r += 2;
		else
			*w++ = *r;
	}
	*w = '\0';
	const char *p = strstr(flat, "/j/");
	assert_non_null(p);
	return us_arena_strndup(A, p + 3, 43);
}

/* Joins through a link as a new user, following the confirmation mailed to the address
 * (a link proves nothing about an address until then); returns the HTTP status of the
 * step that decided, the body in *out. */
static long join(const char *token, const char *email, ut_reply *out)
{
	ut_browser *b = ut_browser_new(&sys);
	char path[200];
	snprintf(path, sizeof(path), "/l/%s/accept", token);
	post_json(b, path, json_pack("{s:s, s:s, s:s}", "email", email, "name", "Joiner", "password",
	                             PASSWORD), out);
	if (out->status == 202) {
		ut_reply_free(out);
		snprintf(path, sizeof(path), "/j/%s/confirm", confirmation_token(email));
		post_json(b, path, json_object(), out);
	}
	ut_browser_free(b);
	return out->status;
}

static void test_permanent_links(void **state)
{
	(void)state;
	char *token;
	enable_link(NULL, &token);
	ut_browser *visitor = ut_browser_new(&sys);
	char path[200];
	snprintf(path, sizeof(path), "/l/%s", token);
	ut_reply r;
	ut_http(visitor, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "role")), "ROLE_MEMBER");
	assert_string_equal(json_string_value(json_object_get(r.json, "state")), "LINK_ACTIVE");
	ut_reply_free(&r);

	/* A new user joins as a member once the address is confirmed. */
	assert_int_equal(join(token, "joiner@example.com", &r), 200);
	json_t *membership = json_object_get(json_object_get(r.json, "joined"), "membership");
	assert_string_equal(json_string_value(json_object_get(membership, "role")), "ROLE_MEMBER");
	ut_reply_free(&r);
	post_json(visitor, "/login",
	          json_pack("{s:s, s:s}", "email", "joiner@example.com", "password", PASSWORD), &r);
	expect(&r, 200);
	ut_browser_set_csrf(visitor, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	/* Joining again as that (now signed-in) member changes nothing and says so. */
	snprintf(path, sizeof(path), "/l/%s/accept", token);
	post_json(visitor, path, json_object(), &r);
	expect(&r, 409);
	assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")), "already a member"));
	ut_reply_free(&r);
	ut_browser_free(visitor);

	/* Who joined through which link is recorded. */
	post_json(admin, "/rpc/usher.v1.InvitationService/ListLinkJoins",
	          json_pack("{s:s}", "accountId", account), &r);
	expect(&r, 200);
	json_t *joins = json_object_get(r.json, "joins");
	assert_int_equal(json_array_size(joins), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(joins, 0), "email")),
	                    "joiner@example.com");
	ut_reply_free(&r);

	/* Enabling again gives a different link, and the old one dies. */
	char *token2;
	enable_link(NULL, &token2);
	assert_string_not_equal(token, token2);
	assert_int_equal(join(token, "late@example.com", &r), 400);
	assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")), "turned off"));
	ut_reply_free(&r);
	/* Deleting kills it at once. */
	post_json(admin, "/rpc/usher.v1.InvitationService/DeleteLink",
	          json_pack("{s:s}", "accountId", account), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	assert_int_equal(join(token2, "later@example.com", &r), 400);
	ut_reply_free(&r);

	/* Nobody can ask a link for more than member. */
	post_json(admin, "/rpc/usher.v1.InvitationService/EnableLink",
	          json_pack("{s:s, s:s}", "accountId", account, "role", "ROLE_OWNER"), &r);
	expect(&r, 400);
	ut_reply_free(&r);
}

static void test_link_limits(void **state)
{
	(void)state;
	ut_reply r;
	/* Expiry. */
	char *token;
	char *id = enable_link(json_pack("{s:i}", "expiresInHours", 1), &token);
	char sql[200];
	snprintf(sql, sizeof(sql),
	         "UPDATE invitation.links SET expires_at = now() - interval '1 minute' WHERE id = '%s'", id);
	ut_db_admin_exec(ut_system_db(&sys, UT_INVITATION), sql);
	assert_int_equal(join(token, "expired.join@example.com", &r), 400);
	assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")), "expired"));
	ut_reply_free(&r);

	/* Maximum uses. */
	enable_link(json_pack("{s:i}", "maxUses", 1), &token);
	assert_int_equal(join(token, "first.use@example.com", &r), 200);
	ut_reply_free(&r);
	assert_int_equal(join(token, "second.use@example.com", &r), 400);
	assert_non_null(strstr(json_string_value(json_object_get(r.json, "message")), "as many times"));
	ut_reply_free(&r);

	/* Allowed email domains. */
	enable_link(json_pack("{s:[s]}", "allowedEmailDomains", "corp.example"), &token);
	assert_int_equal(join(token, "outsider@elsewhere.example", &r), 403);
	ut_reply_free(&r);
	assert_int_equal(join(token, "insider@corp.example", &r), 200);
	ut_reply_free(&r);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "import");
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s/mail", sys.dir);
	sys.extra_env[0] = spool_setting;
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "owner@acme.example", "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	snprintf(import_path, sizeof(import_path), "/accounts/%s/invitations/import", account);
	admin = ut_browser_new(&sys);
	ut_reply r;
	post_json(admin, "/login",
	          json_pack("{s:s, s:s}", "email", "owner@acme.example", "password", PASSWORD), &r);
	expect(&r, 200);
	ut_browser_set_csrf(admin, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_browser_free(admin);
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_rules),
		cmocka_unit_test(test_too_many_rows_is_refused_before_writing),
		cmocka_unit_test(test_permanent_links),
		cmocka_unit_test(test_link_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
