#define _GNU_SOURCE /* strcasestr */
/* The HTTP/JSON gateway end to end, driven with an HTTP client like a browser: an admin
 * invites, invitees preview, one signs up and accepts, the other declines; CSRF, internal
 * methods, body limits and malformed input are refused. */
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
#define MAIL_WAIT_MS 30000

static ut_system sys;
static char spool[200];
static us_arena *A;
static char *owner, *account;
static ut_browser *admin;

static json_t *field(const ut_reply *r, const char *name)
{
	if (r->json == NULL)
		fail_msg("not JSON (%ld): %s", r->status, r->body);
	return json_object_get(r->json, name);
}

static const char *string_field(const ut_reply *r, const char *name)
{
	const char *s = json_string_value(field(r, name));
	if (s == NULL)
		fail_msg("no string \"%s\" in %s", name, r->body);
	return s;
}

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
	size_t n = json_array_size(field(&r, "invitations"));
	ut_reply_free(&r);
	return n;
}

static void test_admin_invites_invitees_respond(void **state)
{
	(void)state;
	ut_reply r;
	post_json(admin, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          json_pack("{s:s, s:{s:b}, s:s, s:[s,s]}", "accountId", account, "scope",
	                    "organization", 1, "role", "ROLE_MEMBER", "emails", "ivy@example.com",
	                    "dan@example.com"),
	          &r);
	expect(&r, 200);
	assert_int_equal(json_integer_value(field(&r, "created")), 2);
	ut_reply_free(&r);

	ut_email to_ivy, to_dan;
	assert_true(ut_wait_email(spool, A, "ivy@example.com", "Invitation", 0, MAIL_WAIT_MS, &to_ivy));
	assert_true(ut_wait_email(spool, A, "dan@example.com", "Invitation", 0, MAIL_WAIT_MS, &to_dan));

	/* Each invitee previews their link; the link's page sends no Referer onward. */
	ut_browser *ivy = ut_browser_new(&sys);
	char path[256];
	snprintf(path, sizeof(path), "/i/%s", to_ivy.token);
	ut_http(ivy, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_string_equal(string_field(&r, "accountName"), "Acme Team");
	assert_string_equal(string_field(&r, "state"), "INVITATION_PENDING");
	assert_non_null(strcasestr(r.headers, "Referrer-Policy: no-referrer"));
	ut_reply_free(&r);

	/* Ivy signs up and accepts: she is created, a member, and signed in. */
	snprintf(path, sizeof(path), "/i/%s/accept", to_ivy.token);
	post_json(ivy, path, json_pack("{s:s, s:s}", "name", "Ivy", "password", PASSWORD), &r);
	expect(&r, 200);
	json_t *accepted = field(&r, "accepted");
	assert_true(json_is_true(json_object_get(accepted, "userCreated")));
	char *ivy_id = us_arena_strdup(
	        A, json_string_value(json_object_get(json_object_get(accepted, "user"), "id")));
	assert_non_null(strcasestr(r.headers, "Set-Cookie: usher_session="));
	assert_non_null(strcasestr(r.headers, "HttpOnly"));
	assert_non_null(strcasestr(r.headers, "SameSite=Lax"));
	ut_reply_free(&r);
	ut_http(ivy, "GET", "/me", NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_string_equal(json_string_value(json_object_get(field(&r, "user"), "email")),
	                    "ivy@example.com");
	json_t *memberships = field(&r, "memberships");
	assert_int_equal(json_array_size(memberships), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(memberships, 0),
	                                                       "accountName")),
	                    "Acme Team");
	ut_reply_free(&r);

	/* Dan declines. */
	ut_browser *dan = ut_browser_new(&sys);
	snprintf(path, sizeof(path), "/i/%s/decline", to_dan.token);
	ut_http(dan, "POST", path, "", 0, NULL, &r);
	expect(&r, 200);
	assert_string_equal(json_string_value(json_object_get(field(&r, "invitation"), "state")),
	                    "INVITATION_DECLINED");
	ut_reply_free(&r);

	/* The admin's members list shows Ivy; the invitations list shows Dan declined. */
	post_json(admin, "/rpc/usher.v1.TenancyService/ListMembers",
	          json_pack("{s:s}", "accountId", account), &r);
	expect(&r, 200);
	bool found = false;
	json_t *members = field(&r, "members");
	for (size_t i = 0; i < json_array_size(members); i++)
		found |= strcmp(json_string_value(json_object_get(json_array_get(members, i), "userId")),
		                ivy_id) == 0;
	assert_true(found);
	ut_reply_free(&r);
	post_json(admin, "/rpc/usher.v1.InvitationService/ListInvitations",
	          json_pack("{s:s, s:s}", "accountId", account, "state", "INVITATION_DECLINED"), &r);
	expect(&r, 200);
	json_t *declined = field(&r, "invitations");
	assert_int_equal(json_array_size(declined), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(declined, 0), "email")),
	                    "dan@example.com");
	ut_reply_free(&r);
	ut_browser_free(ivy);
	ut_browser_free(dan);
}

static void test_mutation_without_csrf_is_refused(void **state)
{
	(void)state;
	size_t before = count_invitations();
	ut_browser *sneaky = ut_browser_new(&sys);
	/* Same cookie as the admin (a forged cross-site request carries it), no CSRF token. */
	ut_reply r;
	post_json(sneaky, "/login", json_pack("{s:s, s:s}", "email", "owner@acme.example", "password",
	                                      PASSWORD), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	post_json(sneaky, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          json_pack("{s:s, s:{s:b}, s:s, s:[s]}", "accountId", account, "scope",
	                    "organization", 1, "role", "ROLE_MEMBER", "emails", "forged@example.com"),
	          &r);
	expect(&r, 403);
	assert_string_equal(string_field(&r, "code"), "PERMISSION_DENIED");
	ut_reply_free(&r);
	ut_browser_set_csrf(sneaky, "not-the-token");
	post_json(sneaky, "/logout", json_object(), &r);
	expect(&r, 403);
	ut_reply_free(&r);
	assert_int_equal(count_invitations(), before);
	ut_browser_free(sneaky);
}

static void test_internal_methods_are_not_reachable(void **state)
{
	(void)state;
	const char *paths[] = {
		"/rpc/usher.v1.TenancyService/GrantMembership",
		"/rpc/usher.v1.TenancyService/CheckGrant",
		"/rpc/usher.v1.IdentityService/CreateUser",
		"/rpc/usher.v1.IdentityService/LookupEmails",
		"/rpc/usher.v1.NotificationService/SendEmail",
		"/rpc/usher.v1.Health/Check",
		"/rpc/nonsense",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		ut_reply r;
		post_json(admin, paths[i], json_object(), &r);
		if (r.status != 404)
			fail_msg("%s: %ld", paths[i], r.status);
		ut_reply_free(&r);
	}
}

static void test_body_over_the_limit_is_413(void **state)
{
	(void)state;
	size_t size = 200 * 1024; /* the gateway runs here with a 64 KiB limit */
	char *body = malloc(size + 32);
	int n = snprintf(body, size + 32, "{\"accountId\":\"");
	memset(body + n, 'a', size);
	strcpy(body + n + size, "\"}");
	ut_reply r;
	ut_http(admin, "POST", "/rpc/usher.v1.TenancyService/GetAccount", body, strlen(body), NULL, &r);
	expect(&r, 413);
	ut_reply_free(&r);
	free(body);
}

static void test_malformed_json_and_wrong_types_are_400(void **state)
{
	(void)state;
	ut_reply r;
	ut_http(admin, "POST", "/rpc/usher.v1.TenancyService/GetAccount", "{not json", 9, NULL, &r);
	expect(&r, 400);
	assert_string_equal(string_field(&r, "code"), "INVALID_ARGUMENT");
	assert_non_null(strstr(string_field(&r, "message"), "malformed JSON"));
	ut_reply_free(&r);

	const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"accountId\": 5}", "accountId"},
		{"{\"accountId\": \"x\", \"emails\": \"a@b.c\"}", "emails"},
		{"{\"scope\": {\"organization\": \"yes\"}}", "scope.organization"},
		{"{\"role\": \"ROLE_EMPEROR\"}", "role"},
		{"{\"emails\": [\"a@example.com\", 7]}", "emails[1]"},
		{"{\"bogus\": 1}", "bogus"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_http(admin, "POST", "/rpc/usher.v1.InvitationService/CreateInvitations", cases[i].body,
		        strlen(cases[i].body), NULL, &r);
		expect(&r, 400);
		json_t *v = json_array_get(field(&r, "violations"), 0);
		if (v == NULL || strcmp(json_string_value(json_object_get(v, "field")), cases[i].field) != 0)
			fail_msg("%s: expected a violation on %s, got %s", cases[i].body, cases[i].field, r.body);
		ut_reply_free(&r);
	}
	/* A request the daemon itself finds invalid names the field too. */
	post_json(admin, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          json_pack("{s:s, s:{s:b}, s:s, s:[s]}", "accountId", "not-a-uuid", "scope",
	                    "organization", 1, "role", "ROLE_MEMBER", "emails", "a@example.com"),
	          &r);
	expect(&r, 400);
	assert_string_equal(json_string_value(json_object_get(json_array_get(field(&r, "violations"), 0),
	                                                      "field")),
	                    "account_id");
	ut_reply_free(&r);
}

/* The form token a page gave, from its hidden field. */
static char *page_form_token(const char *body)
{
	const char *p = strstr(body, "name=form_token value=\"");
	assert_non_null(p);
	p += strlen("name=form_token value=\"");
	return us_arena_strndup(A, p, strcspn(p, "\""));
}

/* A browser following the email's link gets a page, and its forms work without script. */
static void test_invitee_pages(void **state)
{
	(void)state;
	/* An account name that would run as script if it were not escaped. */
	char *shady = ut_create_account(&sys, A, owner, "<script>alert(1)</script> & Co", "");
	ut_create_user(&sys, A, "page.old@example.com", "Old Hand", PASSWORD);
	const char *emails[] = {"page.new@example.com", "page.old@example.com",
	                        "page.no@example.com"};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	assert_int_equal(ut_invite(&sys, A, owner, shady, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails,
	                           3, &created, &st),
	                 US_OK);
	ut_email mails[3];
	for (int i = 0; i < 3; i++)
		assert_true(ut_wait_email(spool, A, emails[i], NULL, 0, MAIL_WAIT_MS, &mails[i]));

	ut_browser *b = ut_browser_new(&sys);
	ut_browser_set_accept(b, "text/html,application/xhtml+xml");
	char path[256];
	snprintf(path, sizeof(path), "/i/%s", mails[0].token);
	ut_reply r;
	ut_http(b, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_non_null(strcasestr(r.headers, "Content-Type: text/html"));
	assert_non_null(strcasestr(r.headers, "Content-Security-Policy: default-src 'none'"));
	assert_non_null(strcasestr(r.headers, "Referrer-Policy: no-referrer"));
	assert_null(strstr(r.body, "<script>"));
	assert_non_null(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
	assert_non_null(strstr(r.body, "Accept and create my account"));
	char *form_tok = page_form_token(r.body);
	ut_reply_free(&r);

	/* The new user signs up through the form: joined, and signed in. */
	snprintf(path, sizeof(path), "/i/%s/accept-form", mails[0].token);
	char signup[200];
	snprintf(signup, sizeof(signup), "form_token=%s&name=Page+New&phone=&password=correct+horse+battery",
	         form_tok);
	ut_http(b, "POST", path, signup, strlen(signup), "application/x-www-form-urlencoded", &r);
	/* Joined and signed in: on to My accounts. */
	expect(&r, 303);
	assert_non_null(strcasestr(r.headers, "Location: /accounts?m=accepted"));
	assert_non_null(strcasestr(r.headers, "Set-Cookie: usher_session="));
	ut_reply_free(&r);
	ut_http(b, "GET", "/me", NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_non_null(strstr(r.body, "page.new@example.com"));
	ut_reply_free(&r);

	/* An existing user signs in with their password through the form. */
	ut_browser *old = ut_browser_new(&sys);
	ut_browser_set_accept(old, "text/html");
	snprintf(path, sizeof(path), "/i/%s", mails[1].token);
	ut_http(old, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_non_null(strstr(r.body, "sign in to accept"));
	char *old_tok = page_form_token(r.body);
	ut_reply_free(&r);
	snprintf(path, sizeof(path), "/i/%s/accept-form", mails[1].token);
	char wrong[200], right[200];
	snprintf(wrong, sizeof(wrong), "form_token=%s&password=not+the+password", old_tok);
	ut_http(old, "POST", path, wrong, strlen(wrong), "application/x-www-form-urlencoded", &r);
	expect(&r, 401);
	assert_null(strcasestr(r.headers, "Set-Cookie"));
	ut_reply_free(&r);
	snprintf(right, sizeof(right), "form_token=%s&password=correct+horse+battery", old_tok);
	ut_http(old, "POST", path, right, strlen(right), "application/x-www-form-urlencoded", &r);
	/* Joined and signed in: on to My accounts. */
	expect(&r, 303);
	assert_non_null(strcasestr(r.headers, "Location: /accounts?m=accepted"));
	ut_reply_free(&r);

	/* Declining through the form. */
	snprintf(path, sizeof(path), "/i/%s/decline-form", mails[2].token);
	char decline[100];
	snprintf(decline, sizeof(decline), "form_token=%s", form_tok);
	ut_http(b, "POST", path, decline, strlen(decline), "application/x-www-form-urlencoded", &r);
	expect(&r, 200);
	assert_non_null(strstr(r.body, "Invitation declined"));
	ut_reply_free(&r);
	/* The same link again says it is closed. */
	snprintf(path, sizeof(path), "/i/%s", mails[2].token);
	ut_http(b, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_non_null(strstr(r.body, "declined"));
	ut_reply_free(&r);
	ut_browser_free(old);
	ut_browser_free(b);
}

/* Other front ends can show who members are: ListMembers with withUsers gives each
 * member's name and email; without it, neither (no call to identityd). */
static void test_members_come_with_names_and_emails(void **state)
{
	(void)state;
	ut_reply r;
	post_json(admin, "/rpc/usher.v1.TenancyService/ListMembers",
	          json_pack("{s:s, s:b}", "accountId", account, "withUsers", 1), &r);
	expect(&r, 200);
	assert_non_null(strstr(r.body, "\"userName\":\"Olivia Owner\""));
	assert_non_null(strstr(r.body, "\"userEmail\":\"owner@acme.example\""));
	ut_reply_free(&r);
	post_json(admin, "/rpc/usher.v1.TenancyService/ListMembers",
	          json_pack("{s:s}", "accountId", account), &r);
	expect(&r, 200);
	assert_null(strstr(r.body, "userEmail"));
	ut_reply_free(&r);
}

static void test_signed_out_is_401(void **state)
{
	(void)state;
	ut_browser *stranger = ut_browser_new(&sys);
	ut_reply r;
	ut_http(stranger, "GET", "/me", NULL, 0, NULL, &r);
	expect(&r, 401);
	ut_reply_free(&r);
	post_json(stranger, "/login",
	          json_pack("{s:s, s:s}", "email", "owner@acme.example", "password", "wrong password"),
	          &r);
	expect(&r, 401);
	ut_reply_free(&r);
	ut_browser_free(stranger);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "gateway");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s", spool);
	sys.extra_env[0] = spool_setting;
	sys.extra_env[1] = "HTTP_MAX_BODY_BYTES=65536";
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "owner@acme.example", "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	admin = ut_browser_new(&sys);
	ut_reply r;
	post_json(admin, "/login",
	          json_pack("{s:s, s:s}", "email", "owner@acme.example", "password", PASSWORD), &r);
	expect(&r, 200);
	ut_browser_set_csrf(admin, string_field(&r, "csrfToken"));
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
		cmocka_unit_test(test_admin_invites_invitees_respond),
		cmocka_unit_test(test_mutation_without_csrf_is_refused),
		cmocka_unit_test(test_internal_methods_are_not_reachable),
		cmocka_unit_test(test_body_over_the_limit_is_413),
		cmocka_unit_test(test_malformed_json_and_wrong_types_are_400),
		cmocka_unit_test(test_invitee_pages),
		cmocka_unit_test(test_members_come_with_names_and_emails),
		cmocka_unit_test(test_signed_out_is_401),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
