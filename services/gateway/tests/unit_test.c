/* The gateway's pure pieces, without a server or a daemon behind it: which route serves a
 * request, reading the invitee's form, the pages' HTML and its escaping, the upload's CSV
 * report, the JSON error mapping and body reading, and the session's cookie and CSRF
 * token. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/limits.h"
#include "form.h"
#include "http.h"
#include "render.h"
#include "report.h"
#include "routes.h"
#include "session.h"
#include "tmpl.h"

/* --- routes --- */

static const gateway_route *route(const char *method, const char *path, unsigned *status)
{
	gateway_request req = {.method = method, .path = path};
	return gateway_routes_find(&req, status);
}

static void expect_route(const char *method, const char *path, const char *name)
{
	unsigned status;
	const gateway_route *r = route(method, path, &status);
	if (r == NULL)
		fail_msg("%s %s: no route (%u), expected %s", method, path, status, name);
	if (strcmp(r->name, name) != 0)
		fail_msg("%s %s: route %s, expected %s", method, path, r->name, name);
}

static void expect_no_route(const char *method, const char *path, unsigned want)
{
	unsigned status;
	const gateway_route *r = route(method, path, &status);
	if (r != NULL)
		fail_msg("%s %s: route %s, expected none", method, path, r->name);
	if (status != want)
		fail_msg("%s %s: status %u, expected %u", method, path, status, want);
}

static void test_routes_match_exact_prefix_and_segment_patterns(void **state)
{
	(void)state;
	expect_route("GET", "/livez", "/livez");
	expect_route("POST", "/login", "/login");
	expect_route("GET", "/i/abc", "/i/{token}");
	expect_route("POST", "/i/abc/accept", "/i/{token}/{action}");
	/* The forms come before the JSON route they share a prefix with. */
	expect_route("POST", "/i/abc/accept-form", "/i/{token}/accept-form");
	expect_route("POST", "/i/abc/decline-form", "/i/{token}/decline-form");
	expect_route("POST", "/password-reset", "/password-reset");
	expect_route("POST", "/password-reset/tok", "/password-reset/{token}");
	expect_route("POST", "/rpc/usher.v1.TenancyService/GetAccount", "/rpc/{method}");
	expect_route("POST", "/accounts/a1/invitations/import",
	             "/accounts/{account}/invitations/import");
	/* The console: "/" is the home page only, not a prefix of every path; its forms
	 * come before the JSON routes they share a prefix with. */
	expect_route("GET", "/", "/");
	expect_route("GET", "/signin", "/signin");
	expect_route("GET", "/a/x/users", "/a/{account}/{page}");
	expect_route("POST", "/accounts/invitations/x/accept", "/accounts/invitations/{id}/accept");
	expect_route("POST", "/password-reset/tok/set", "/password-reset/{token}/set");
	expect_route("POST", "/l/tok/join-form", "/l/{token}/join-form");
	expect_route("POST", "/l/tok/accept", "/l/{token}/{action}");
	expect_route("POST", "/j/tok/confirm-form", "/j/{token}/confirm-form");
	expect_route("POST", "/j/tok/confirm", "/j/{token}/confirm");
}

static void test_routes_refuse_what_they_do_not_serve(void **state)
{
	(void)state;
	expect_no_route("GET", "/nowhere", 404);
	expect_no_route("GET", "/signin/more", 404);
	/* A prefix route needs something after the prefix. */
	expect_no_route("GET", "/i/", 404);
	expect_no_route("GET", "/livez/more", 404);
	/* {} is one non-empty segment. */
	expect_no_route("POST", "/accounts//invitations/import", 404);
	expect_no_route("POST", "/accounts/a/b/invitations/import", 404);
	/* The path exists under another method. */
	expect_no_route("POST", "/livez", 405);
	expect_no_route("GET", "/login", 405);
}

static void test_routes_say_how_their_body_comes(void **state)
{
	(void)state;
	unsigned status;
	assert_true(route("POST", "/login", &status)->json);
	assert_true(route("POST", "/rpc/x/y", &status)->json);
	/* The forms are form-encoded; the upload streams. */
	assert_false(route("POST", "/i/t/accept-form", &status)->json);
	const gateway_route *upload = route("POST", "/accounts/a/invitations/import", &status);
	assert_false(upload->json);
	assert_non_null(upload->stream);
	assert_null(route("POST", "/login", &status)->stream);
}

/* --- the form --- */

static void test_form_values_are_decoded(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	const char *body = "names=no&name=Ada+L%C3%B6w&phone=%2B14155550123&empty=&password=a%26b%3Dc";
	assert_string_equal(gateway_form_value(a, body, "name"), "Ada L\xc3\xb6w");
	assert_string_equal(gateway_form_value(a, body, "phone"), "+14155550123");
	assert_string_equal(gateway_form_value(a, body, "password"), "a&b=c");
	assert_string_equal(gateway_form_value(a, body, "empty"), "");
	assert_string_equal(gateway_form_value(a, body, "absent"), "");
	assert_string_equal(gateway_form_value(a, NULL, "name"), "");
	us_arena_free(a);
}

static void test_form_refuses_malformed_and_long_values(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	assert_null(gateway_form_value(a, "name=Ada%4", "name"));   /* a cut escape */
	assert_null(gateway_form_value(a, "name=Ada%zz", "name"));  /* not hex */
	assert_null(gateway_form_value(a, "name=A%00da", "name"));  /* an encoded NUL */
	char body[GATEWAY_FORM_FIELD_MAX + 16];
	snprintf(body, sizeof(body), "password=");
	memset(body + 9, 'x', GATEWAY_FORM_FIELD_MAX);
	body[9 + GATEWAY_FORM_FIELD_MAX] = '\0';
	assert_int_equal(strlen(gateway_form_value(a, body, "password")), GATEWAY_FORM_FIELD_MAX);
	strcat(body, "x");
	assert_null(gateway_form_value(a, body, "password"));
	/* A pasted list may be longer, up to the limit its caller gives. */
	assert_int_equal(strlen(gateway_form_value_up_to(a, body, "password", GATEWAY_FORM_FIELD_MAX + 1)),
	                 GATEWAY_FORM_FIELD_MAX + 1);
	assert_null(gateway_form_value_up_to(a, body, "password", GATEWAY_FORM_FIELD_MAX));
	us_arena_free(a);
}

/* --- the pages --- */

static Usher__V1__PreviewReply preview(bool existing_user)
{
	Usher__V1__PreviewReply inv = USHER__V1__PREVIEW_REPLY__INIT;
	inv.account_name = "<script>alert(1)</script> & Co";
	inv.inviter_name = "Eve \"the\" 'owner'";
	inv.email = "ivy@example.com";
	inv.expires_at = "2030-01-08T10:00:00.000Z";
	inv.role = USHER__V1__ROLE__ROLE_ADMIN;
	inv.existing_user = existing_user;
	return inv;
}

static void test_invitation_page_escapes_what_it_shows(void **state)
{
	(void)state;
	Usher__V1__PreviewReply inv = preview(false);
	us_buf page = US_BUF_INIT;
	gateway_render_invitation(&page, &inv, "tok\"en", "form<tok>");
	assert_false(us_buf_failed(&page));
	const char *html = page.data;
	assert_null(strstr(html, "<script>"));
	assert_non_null(strstr(html, "<title>Join &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co · Usher</title>"));
	assert_non_null(strstr(html, "Eve &quot;the&quot; &#39;owner&#39; invited you (ivy@example.com)"));
	assert_non_null(strstr(html, "as an admin."));
	assert_non_null(strstr(html, "action=\"/i/tok&quot;en/accept-form\""));
	assert_non_null(strstr(html, "action=\"/i/tok&quot;en/decline-form\""));
	assert_non_null(strstr(html, "name=form_token value=\"form&lt;tok&gt;\""));
	assert_non_null(strstr(html, "expires 2030-01-08T10:00:00.000Z."));
	us_buf_free(&page);
}

static void test_invitation_page_asks_new_and_existing_users_differently(void **state)
{
	(void)state;
	Usher__V1__PreviewReply inv = preview(false);
	us_buf page = US_BUF_INIT;
	gateway_render_invitation(&page, &inv, "t", "f");
	/* A sign-up, with the limits the daemons hold it to. */
	assert_non_null(strstr(page.data, "name=name required maxlength=200 "));
	assert_non_null(strstr(page.data, "minlength=8 autocomplete=new-password"));
	assert_null(strstr(page.data, "current-password"));
	us_buf_free(&page);
	inv = preview(true);
	gateway_render_invitation(&page, &inv, "t", "f");
	assert_non_null(strstr(page.data, "autocomplete=current-password"));
	assert_null(strstr(page.data, "name=name"));
	us_buf_free(&page);
}

static void test_message_page_escapes_and_links_back(void **state)
{
	(void)state;
	us_buf page = US_BUF_INIT;
	gateway_render_message(&page, "A <b>title</b>", "x < y & \"z\"", "/i/a\"b");
	assert_non_null(strstr(page.data, "<h1>A &lt;b&gt;title&lt;/b&gt;</h1><p>x &lt; y &amp; &quot;z&quot;</p>"));
	assert_non_null(strstr(page.data, "<a href=\"/i/a&quot;b\">Back to the invitation</a>"));
	assert_non_null(strstr(page.data, "</main>\n</body>\n</html>\n")); /* in the layout */
	us_buf_free(&page);
	gateway_render_message(&page, "t", "m", NULL);
	assert_null(strstr(page.data, "Back to the invitation"));
	us_buf_free(&page);
}

static void test_a_page_past_its_limit_fails(void **state)
{
	(void)state;
	us_buf page = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	static char big[GATEWAY_PAGE_MAX_BYTES / 4];
	memset(big, '<', sizeof(big) - 1); /* each becomes &lt; */
	gateway_render_message(&page, "t", big, NULL);
	assert_true(us_buf_failed(&page));
	us_buf_free(&page);
}

/* --- the upload's report --- */

/* --- templates --- */

static void test_templates_escape_values_and_keep_raw_html(void **state)
{
	(void)state;
	us_buf b = US_BUF_INIT;
	const char *const vars[] = {"message", "<b>\"x\" & 'y'</b>", NULL};
	assert_true(gateway_tmpl_render(&b, "flash", vars));
	assert_non_null(strstr(b.data, "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"));
	assert_null(strstr(b.data, "<b>"));
	us_buf_free(&b);
	/* {{{key}}}: HTML built from another template, as it is. */
	const char *const page[] = {"title", "T", "nav", "<nav>n</nav>", "account_nav", "",
	                            "flash", "", "body", "<h1>B</h1>", NULL};
	assert_true(gateway_tmpl_render(&b, "layout", page));
	assert_non_null(strstr(b.data, "<nav>n</nav>"));
	assert_non_null(strstr(b.data, "<h1>B</h1>"));
	us_buf_free(&b);
}

static void test_templates_refuse_unknown_names_and_missing_keys(void **state)
{
	(void)state;
	us_buf b = US_BUF_INIT;
	assert_false(gateway_tmpl_render(&b, "no_such_page", NULL));
	assert_true(us_buf_failed(&b));
	us_buf_free(&b);
	b = (us_buf)US_BUF_INIT;
	/* flash names "message": without it the page is not half shown. */
	const char *const wrong[] = {"msg", "x", NULL};
	assert_false(gateway_tmpl_render(&b, "flash", wrong));
	assert_true(us_buf_failed(&b));
	us_buf_free(&b);
}

/* Every template renders once given the keys it names, and none loads anything from
 * elsewhere or runs a script (the console's CSP allows neither). */
static void test_every_template_renders_and_stays_on_our_origin(void **state)
{
	(void)state;
	size_t n = 0;
	for (const gateway_template *t = gateway_templates; t->name != NULL; t++, n++) {
		const char *vars[64];
		size_t k = 0;
		for (const char *p = strstr(t->data, "{{"); p != NULL; p = strstr(p, "{{")) {
			p += p[2] == '{' ? 3 : 2;
			size_t len = strcspn(p, "}");
			assert_true(k + 3 < sizeof(vars) / sizeof(vars[0]));
			vars[k++] = strndup(p, len);
			vars[k++] = "v";
			p += len;
		}
		vars[k] = NULL;
		us_buf b = US_BUF_INIT;
		if (!gateway_tmpl_render(&b, t->name, vars))
			fail_msg("template %s did not render", t->name);
		for (size_t i = 0; i < k; i += 2)
			free((char *)vars[i]);
		assert_null(strstr(b.data, "<script"));
		assert_null(strstr(b.data, "http://"));
		assert_null(strstr(b.data, "https://"));
		assert_null(strstr(b.data, "src=\"//"));
		us_buf_free(&b);
	}
	assert_true(n >= 20);
}

static void test_report_csv_quotes_and_defuses_formulas(void **state)
{
	(void)state;
	const gateway_report_row rows[] = {
		{2, "ada@example.com", "created", "", "c0ffee"},
		{3, "=HYPERLINK(\"x\")", "invalid", "must be an email address", ""},
		{4, "-1+2", "invalid", "say \"hi\"", ""},
	};
	us_buf csv = US_BUF_INIT;
	gateway_report_csv(&csv, rows, 3);
	assert_string_equal(csv.data,
	                    "row,email,outcome,reason,invitation_id\r\n"
	                    "2,\"ada@example.com\",\"created\",\"\",\"c0ffee\"\r\n"
	                    "3,\"'=HYPERLINK(\"\"x\"\")\",\"invalid\",\"must be an email address\",\"\"\r\n"
	                    "4,\"'-1+2\",\"invalid\",\"say \"\"hi\"\"\",\"\"\r\n");
	us_buf_free(&csv);
}

static void test_report_names_every_outcome(void **state)
{
	(void)state;
	assert_string_equal(gateway_report_outcome_name(USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED),
	                    "created");
	assert_string_equal(gateway_report_outcome_name(
	                            USHER__V1__ADDRESS_OUTCOME__OUTCOME_DUPLICATE_IN_BATCH),
	                    "duplicate_in_batch");
	assert_string_equal(gateway_report_outcome_name(
	                            USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED),
	                    "domain_not_allowed");
	assert_string_equal(gateway_report_outcome_name((Usher__V1__AddressOutcome)99), "unknown");
}

/* --- JSON --- */

static void test_status_codes_map_to_http(void **state)
{
	(void)state;
	assert_int_equal(gateway_http_status(US_OK), 200);
	assert_int_equal(gateway_http_status(US_EINVAL), 400);
	assert_int_equal(gateway_http_status(US_EPRECONDITION), 400);
	assert_int_equal(gateway_http_status(US_EUNAUTHENTICATED), 401);
	assert_int_equal(gateway_http_status(US_EDENIED), 403);
	assert_int_equal(gateway_http_status(US_ENOTFOUND), 404);
	assert_int_equal(gateway_http_status(US_EEXISTS), 409);
	assert_int_equal(gateway_http_status(US_EEXHAUSTED), 429);
	assert_int_equal(gateway_http_status(US_EUNAVAILABLE), 503);
	assert_int_equal(gateway_http_status(US_EDEADLINE), 504);
	assert_int_equal(gateway_http_status(US_EINTERNAL), 500);
}

static void test_errors_are_one_document(void **state)
{
	(void)state;
	us_status st;
	us_status_init(&st);
	us_status_add_violation(&st, "emails[3]", "must be an email address");
	gateway_response res = {0};
	gateway_http_reply_error(&res, US_EINVAL, "invalid emails[3]", &st);
	us_status_clear(&st);
	assert_int_equal(res.status, 400);
	char *text = json_dumps(res.json, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"invalid emails[3]\","
	                          "\"violations\":[{\"description\":\"must be an email address\","
	                          "\"field\":\"emails[3]\"}]}");
	free(text);
	/* An internal error's detail stays in the logs. */
	gateway_http_reply_error(&res, US_EINTERNAL, "connection to db lost", NULL);
	assert_int_equal(res.status, 500);
	assert_string_equal(json_string_value(json_object_get(res.json, "message")), "internal error");
	json_decref(res.json);
}

static json_t *read_body(const char *body, gateway_response *res)
{
	gateway_request req = {.body = US_BUF_INIT};
	us_buf_puts(&req.body, body);
	req.body_len = strlen(body);
	json_t *doc = gateway_http_body_json(&req, res);
	us_buf_free(&req.body);
	return doc;
}

static void test_bodies_must_be_one_json_object(void **state)
{
	(void)state;
	gateway_response res = {0};
	json_t *doc = read_body("", &res);
	assert_true(json_is_object(doc) && json_object_size(doc) == 0);
	json_decref(doc);
	doc = read_body("{\"email\":\"a@b.example\"}", &res);
	assert_string_equal(json_string_value(json_object_get(doc, "email")), "a@b.example");
	json_decref(doc);
	assert_null(res.json);

	assert_null(read_body("[1]", &res));
	assert_int_equal(res.status, 400);
	assert_string_equal(json_string_value(json_object_get(res.json, "message")),
	                    "the body must be a JSON object");
	assert_null(read_body("{\"a\":1,\"a\":2}", &res)); /* duplicate members */
	assert_int_equal(res.status, 400);
	assert_null(read_body("{\"a\":", &res));
	assert_non_null(strstr(json_string_value(json_object_get(res.json, "message")),
	                       "malformed JSON at line 1"));
	json_decref(res.json);
}

/* --- the session --- */

static void test_csrf_token_is_keyed_and_stable(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	gateway_ctx ctx = {0};
	memset(ctx.csrf_key, 7, sizeof(ctx.csrf_key));
	const char *one = gateway_session_csrf_token(&ctx, a, "session-1");
	assert_string_equal(one, gateway_session_csrf_token(&ctx, a, "session-1"));
	assert_string_not_equal(one, gateway_session_csrf_token(&ctx, a, "session-2"));
	assert_int_equal(strlen(one), 43); /* 32 bytes, base64url without padding */
	ctx.csrf_key[0] ^= 1;
	assert_string_not_equal(one, gateway_session_csrf_token(&ctx, a, "session-1"));
	us_arena_free(a);
}

static void test_session_cookie_is_secure_behind_https(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	gateway_ctx ctx = {0};
	assert_string_equal(gateway_session_cookie(&ctx, a, "s3cret", 60),
	                    "usher_session=s3cret; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
	ctx.secure_cookies = true;
	/* One that deletes the session holds no token. */
	assert_string_equal(gateway_session_cookie(&ctx, a, "s3cret", 0),
	                    "usher_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
	us_arena_free(a);
}

static void test_lists_split_at_commas(void **state)
{
	(void)state;
	char list[] = ",a,,bb,c,";
	char *items[3];
	size_t n;
	assert_true(gateway_form_split_list(list, items, 3, &n));
	assert_int_equal(n, 3);
	assert_string_equal(items[0], "a");
	assert_string_equal(items[1], "bb");
	assert_string_equal(items[2], "c");
	char over[] = "a,b,c,d";
	assert_false(gateway_form_split_list(over, items, 3, &n));
	char none[] = "";
	assert_true(gateway_form_split_list(none, items, 3, &n));
	assert_int_equal(n, 0);
}

/* Each thread splits lists of its own, as uploads on the gateway's threads do: with
 * strtok() (one position for the whole process) they took items from one another. */
static void *split_many(void *arg)
{
	int id = *(int *)arg;
	for (int round = 0; round < 20000; round++) {
		char list[64];
		snprintf(list, sizeof(list), "p%d_a,p%d_b,p%d_c,p%d_d", id, id, id, id);
		char *items[4];
		size_t n = 0;
		char want[16];
		if (!gateway_form_split_list(list, items, 4, &n) || n != 4)
			return (void *)1;
		for (size_t i = 0; i < n; i++) {
			snprintf(want, sizeof(want), "p%d_%c", id, (char)('a' + i));
			if (strcmp(items[i], want) != 0)
				return (void *)1;
		}
	}
	return NULL;
}

static void test_lists_split_on_many_threads_at_once(void **state)
{
	(void)state;
	enum { THREADS = 4 };
	pthread_t threads[THREADS];
	int ids[THREADS];
	for (int i = 0; i < THREADS; i++) {
		ids[i] = i;
		assert_int_equal(pthread_create(&threads[i], NULL, split_many, &ids[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *failed;
		pthread_join(threads[i], &failed);
		assert_null(failed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_match_exact_prefix_and_segment_patterns),
		cmocka_unit_test(test_routes_refuse_what_they_do_not_serve),
		cmocka_unit_test(test_routes_say_how_their_body_comes),
		cmocka_unit_test(test_form_values_are_decoded),
		cmocka_unit_test(test_form_refuses_malformed_and_long_values),
		cmocka_unit_test(test_lists_split_at_commas),
		cmocka_unit_test(test_lists_split_on_many_threads_at_once),
		cmocka_unit_test(test_invitation_page_escapes_what_it_shows),
		cmocka_unit_test(test_invitation_page_asks_new_and_existing_users_differently),
		cmocka_unit_test(test_message_page_escapes_and_links_back),
		cmocka_unit_test(test_a_page_past_its_limit_fails),
		cmocka_unit_test(test_templates_escape_values_and_keep_raw_html),
		cmocka_unit_test(test_templates_refuse_unknown_names_and_missing_keys),
		cmocka_unit_test(test_every_template_renders_and_stays_on_our_origin),
		cmocka_unit_test(test_report_csv_quotes_and_defuses_formulas),
		cmocka_unit_test(test_report_names_every_outcome),
		cmocka_unit_test(test_status_codes_map_to_http),
		cmocka_unit_test(test_errors_are_one_document),
		cmocka_unit_test(test_bodies_must_be_one_json_object),
		cmocka_unit_test(test_csrf_token_is_keyed_and_stable),
		cmocka_unit_test(test_session_cookie_is_secure_behind_https),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
