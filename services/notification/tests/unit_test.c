/* The pieces of a message and of the retry policy, without a database: templates and
 * their overrides, escaping, the MIME layout and encodings, backoff and its bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "compose.h"
#include "harness.h"
#include "mime.h"
#include "policy.h"
#include "template.h"

static const notification_template_var invite_vars[] = {
	{"account_name", "Acme <R&D>"},
	{"inviter_name", "Ada"},
	{"role", "admin"},
	{"link", "https://usher.test/i?t=abc&x=1"},
	{"expires_at", "8 January 2030"},
};
#define N_INVITE (sizeof(invite_vars) / sizeof(invite_vars[0]))

static notification_template_set *load(const char *dir)
{
	notification_template_set *set = NULL;
	char err[256];
	if (notification_template_set_load(dir, &set, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	return set;
}

static char *render(const notification_template_set *set, const char *name, notification_template_part part,
                    const notification_template_var *vars, size_t n)
{
	const notification_template *t = notification_template_find(set, name);
	assert_non_null(t);
	us_buf b = US_BUF_INIT;
	assert_null(notification_template_render(t, part, vars, n, &b));
	return b.data;
}

static void test_subjects_follow_the_reference_emails(void **state)
{
	(void)state;
	notification_template_set *set = load(NULL);
	char *s = render(set, "invitation_new_user", TEMPLATE_SUBJECT, invite_vars, N_INVITE);
	assert_string_equal(s, "Invitation");
	free(s);
	s = render(set, "invitation_existing_user", TEMPLATE_SUBJECT, invite_vars, N_INVITE);
	assert_string_equal(s, "Invitation for Acme <R&D>");
	free(s);
	notification_template_set_free(set);
}

static void test_values_are_escaped_in_html_only(void **state)
{
	(void)state;
	notification_template_set *set = load(NULL);
	char *text = render(set, "invitation_new_user", TEMPLATE_TEXT, invite_vars, N_INVITE);
	char *html = render(set, "invitation_new_user", TEMPLATE_HTML, invite_vars, N_INVITE);
	assert_non_null(strstr(text, "join Acme <R&D> as admin"));
	assert_non_null(strstr(text, "https://usher.test/i?t=abc&x=1"));
	assert_non_null(strstr(html, "Acme &lt;R&amp;D&gt;"));
	assert_null(strstr(html, "<R&D>"));
	assert_non_null(strstr(html, "href=\"https://usher.test/i?t=abc&amp;x=1\""));
	free(text);
	free(html);
	notification_template_set_free(set);
}

static void test_a_missing_variable_is_named(void **state)
{
	(void)state;
	notification_template_set *set = load(NULL);
	const notification_template *t = notification_template_find(set, "email_change_verification");
	const notification_template_var vars[] = {{"name", "Ada"}, {"expires_at", "soon"}};
	assert_string_equal(notification_template_missing(t, vars, 2), "link");
	assert_true(notification_template_declares(t, "link"));
	assert_false(notification_template_declares(t, "account_name"));
	assert_null(notification_template_find(set, "nope"));
	notification_template_set_free(set);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_a_template_dir_overrides_files_and_is_checked(void **state)
{
	(void)state;
	char dir[] = "/tmp/ut-templates-XXXXXX";
	assert_non_null(mkdtemp(dir));
	write_file(dir, "invitation_new_user.subject", "You are invited to {{account_name}}\n");
	notification_template_set *set = load(dir);
	char *s = render(set, "invitation_new_user", TEMPLATE_SUBJECT, invite_vars, N_INVITE);
	assert_string_equal(s, "You are invited to Acme <R&D>");
	free(s);
	s = render(set, "invitation_new_user", TEMPLATE_TEXT, invite_vars, N_INVITE);
	assert_non_null(strstr(s, "accept or decline")); /* the built-in text part */
	free(s);
	notification_template_set_free(set);

	/* A variable callers never pass would fail every email: refused at load. */
	write_file(dir, "invitation_new_user.txt", "Hello {{first_name}}\n");
	char err[256];
	set = NULL;
	assert_int_equal(notification_template_set_load(dir, &set, err, sizeof(err)), US_EINVAL);
	assert_null(set);
	assert_non_null(strstr(err, "invitation_new_user.txt"));
	assert_non_null(strstr(err, "first_name"));
	write_file(dir, "invitation_new_user.txt", "Hello {{link\n");
	assert_int_equal(notification_template_set_load(dir, &set, err, sizeof(err)), US_EINVAL);

	char path[256];
	snprintf(path, sizeof(path), "%s/invitation_new_user.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/invitation_new_user.subject", dir);
	unlink(path);
	rmdir(dir);
}

/* A template file is text: one holding a NUL byte is refused, not cut short there. */
static void test_a_template_with_a_nul_byte_is_refused(void **state)
{
	(void)state;
	static const char text[] = "Hello {{link}}\0 and the rest";
	notification_template_set *set = NULL;
	char err[256];
	assert_int_equal(notification_template_set_load_text("invitation_new_user.txt", text,
	                                                     sizeof(text) - 1, &set, err, sizeof(err)),
	                 US_EINVAL);
	assert_null(set);
	assert_string_equal(err, "template \"invitation_new_user.txt\" holds a NUL byte");
	/* Without it, the same text loads. */
	assert_int_equal(notification_template_set_load_text("invitation_new_user.txt", text,
	                                                     strlen(text), &set, err, sizeof(err)),
	                 US_OK);
	char *s = render(set, "invitation_new_user", TEMPLATE_TEXT, invite_vars, N_INVITE);
	assert_string_equal(s, "Hello https://usher.test/i?t=abc&x=1");
	free(s);
	notification_template_set_free(set);
}

static char *compose(const notification_compose_input *in)
{
	notification_template_set *set = load(NULL);
	notification_mime_mailbox from;
	assert_null(notification_mime_parse_mailbox("Usher <no-reply@usher.test>", &from));
	us_buf out = US_BUF_INIT;
	char why[200];
	if (notification_compose_message(set, &from, in, &out, why, sizeof(why)) != US_OK)
		fail_msg("%s", why);
	notification_template_set_free(set);
	return out.data;
}

static const notification_compose_input sample = {
	.id = "0b8e2f4c-2f67-4a53-9d61-6b1a1c0e9a11",
	.template = "invitation_existing_user",
	.recipient = "ann@example.com",
	.subject = "Invitation for Acme",
	.variables = "{\"account_name\":\"Acme\",\"inviter_name\":\"Ada\",\"role\":\"member\","
	             "\"link\":\"https://usher.test/accounts\",\"expires_at\":\"soon\"}",
	.smtp_message_id = "<0b8e2f4c-2f67-4a53-9d61-6b1a1c0e9a11@usher.test>",
	.created_at = 1893456000, /* 2030-01-01 00:00:00 UTC, a Tuesday */
};

static void test_message_layout_and_headers(void **state)
{
	(void)state;
	char *m = compose(&sample);
	char *date = ut_mail_header(m, "Date");
	char *type = ut_mail_header(m, "Content-Type");
	char *from = ut_mail_header(m, "From");
	assert_string_equal(date, "Tue, 1 Jan 2030 00:00:00 +0000");
	assert_non_null(strstr(type, "multipart/alternative; boundary="));
	assert_string_equal(from, "\"Usher\" <no-reply@usher.test>");
	char *text = ut_mail_part(m, "text/plain");
	char *html = ut_mail_part(m, "text/html");
	assert_non_null(text);
	assert_non_null(html);
	assert_non_null(strstr(html, "<a href=\"https://usher.test/accounts\">"));
	/* Every line ends with CRLF and none is too long. */
	for (const char *p = m; *p; p++) {
		if (*p == '\n')
			assert_true(p > m && p[-1] == '\r');
	}
	/* The same message composed again is byte for byte the same: a retry or a resend
	 * after a crash carries the same Message-ID and body. */
	char *again = compose(&sample);
	assert_string_equal(m, again);
	free(date), free(type), free(from), free(text), free(html), free(m), free(again);
}

static void test_utf8_subject_is_encoded_and_long_lines_quoted(void **state)
{
	(void)state;
	notification_compose_input in = sample;
	in.subject = "Invitation for Zürich Bürgerinnen und Bürger, Ortsgruppe Süd — 2030";
	char long_name[1400];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	char vars[2000];
	snprintf(vars, sizeof(vars),
	         "{\"account_name\":\"%s\",\"inviter_name\":\"Zoë\",\"role\":\"member\","
	         "\"link\":\"https://usher.test/a?b=c\",\"expires_at\":\"soon\"}",
	         long_name);
	in.variables = vars;
	char *m = compose(&in);
	/* No 8-bit byte anywhere, and every line within 998 octets. */
	size_t line = 0;
	for (const unsigned char *p = (const unsigned char *)m; *p; p++) {
		assert_true(*p < 0x80);
		line = *p == '\n' ? 0 : line + 1;
		assert_true(line <= 998);
	}
	char *subject = ut_mail_header(m, "Subject");
	assert_non_null(strstr(subject, "=?UTF-8?B?"));
	char *text = ut_mail_part(m, "text/plain");
	assert_non_null(strstr(text, "Zoë has invited you"));
	assert_non_null(strstr(text, long_name));
	assert_non_null(strstr(text, "https://usher.test/a?b=c"));
	free(subject), free(text), free(m);
}

/* Found by fuzzing: content holding the MIME boundary went out as 7bit, ending its part
 * where the boundary stood. Such content is quoted-printable, where it cannot appear. */
static void test_content_holding_the_boundary_is_quoted(void **state)
{
	(void)state;
	notification_compose_input in = sample;
	char vars[600];
	snprintf(vars, sizeof(vars),
	         "{\"account_name\":\"x\\r\\n--=_usher_%s--\\r\\n\",\"inviter_name\":\"Ada\","
	         "\"role\":\"member\",\"link\":\"https://usher.test/accounts\",\"expires_at\":\"soon\"}",
	         sample.id);
	in.variables = vars;
	char *m = compose(&in);
	char boundary[128];
	snprintf(boundary, sizeof(boundary), "--=_usher_%s", sample.id);
	/* Two parts and the closing line: the boundary nowhere else. */
	size_t seen = 0;
	for (const char *p = strstr(m, boundary); p != NULL; p = strstr(p + 1, boundary))
		seen++;
	assert_int_equal(seen, 3);
	char *text = ut_mail_part(m, "text/plain");
	assert_non_null(text);
	assert_non_null(strstr(text, "x\r\n--=_usher_"));
	free(text), free(m);

	/* Found by fuzzing too: a CR inside it, which the part drops, hid the boundary. */
	snprintf(vars, sizeof(vars),
	         "{\"account_name\":\"x\\n--=_usher_%.20s\\r%s\",\"inviter_name\":\"Ada\","
	         "\"role\":\"member\",\"link\":\"https://usher.test/accounts\",\"expires_at\":\"soon\"}",
	         sample.id, sample.id + 20);
	m = compose(&in);
	seen = 0;
	for (const char *p = strstr(m, boundary); p != NULL; p = strstr(p + 1, boundary))
		seen++;
	assert_int_equal(seen, 3);
	free(m);
}

static void test_mailbox_settings(void **state)
{
	(void)state;
	notification_mime_mailbox mb;
	assert_null(notification_mime_parse_mailbox("no-reply@usher.test", &mb));
	assert_string_equal(mb.name, "");
	assert_string_equal(mb.address, "no-reply@usher.test");
	assert_null(notification_mime_parse_mailbox("Usher Team <team@usher.test>", &mb));
	assert_string_equal(mb.name, "Usher Team");
	assert_non_null(notification_mime_parse_mailbox("Usher <team@usher.test", &mb));
	assert_non_null(notification_mime_parse_mailbox("\"Usher\" <team@usher.test>", &mb));
	assert_non_null(notification_mime_parse_mailbox("Usher <not an address>", &mb));
}

static const notification_retry_policy policy = {.base_ms = 1000, .max_ms = 60000, .max_age_ms = 3600000};

static void test_backoff_doubles_within_jitter_and_cap(void **state)
{
	(void)state;
	int64_t expected = 1000;
	for (uint32_t attempt = 1; attempt <= 12; attempt++) {
		int64_t lo = notification_policy_backoff_ms(&policy, attempt, 0);
		int64_t hi = notification_policy_backoff_ms(&policy, attempt, UINT32_MAX);
		int64_t cap = expected < 60000 ? expected : 60000;
		assert_true(lo >= cap / 2 && lo <= cap);
		assert_true(hi >= cap / 2 && hi <= cap);
		for (uint32_t r = 0; r < 1000; r += 37) {
			int64_t d = notification_policy_backoff_ms(&policy, attempt, r * 2654435761u);
			assert_true(d >= cap - cap / 2 && d <= cap);
		}
		expected *= 2;
	}
	/* Jitter spreads retries of messages that failed together. */
	assert_true(notification_policy_backoff_ms(&policy, 3, 1) != notification_policy_backoff_ms(&policy, 3, 1777));
}

static void test_decisions(void **state)
{
	(void)state;
	int64_t delay = -1;
	assert_int_equal(notification_policy_decide(&policy, SEND_OK, 1, 0, 0, &delay), POLICY_SENT);
	assert_int_equal(notification_policy_decide(&policy, SEND_REFUSED, 1, 0, 0, &delay), POLICY_FAIL_AND_SUPPRESS);
	assert_int_equal(notification_policy_decide(&policy, SEND_BROKEN, 1, 0, 0, &delay), POLICY_FAIL);
	assert_int_equal(notification_policy_decide(&policy, SEND_TRANSIENT, 1, 0, 0, &delay), POLICY_RETRY);
	assert_true(delay >= 500 && delay <= 1000);
	/* The last retry comes at the maximum age, not after it; then the message fails. */
	assert_int_equal(notification_policy_decide(&policy, SEND_TRANSIENT, 30, 3600000 - 10, 0, &delay), POLICY_RETRY);
	assert_int_equal(delay, 10);
	assert_int_equal(notification_policy_decide(&policy, SEND_TRANSIENT, 31, 3600000, 0, &delay), POLICY_FAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subjects_follow_the_reference_emails),
		cmocka_unit_test(test_values_are_escaped_in_html_only),
		cmocka_unit_test(test_a_missing_variable_is_named),
		cmocka_unit_test(test_a_template_dir_overrides_files_and_is_checked),
		cmocka_unit_test(test_a_template_with_a_nul_byte_is_refused),
		cmocka_unit_test(test_message_layout_and_headers),
		cmocka_unit_test(test_utf8_subject_is_encoded_and_long_lines_quoted),
		cmocka_unit_test(test_mailbox_settings),
		cmocka_unit_test(test_content_holding_the_boundary_is_quoted),
		cmocka_unit_test(test_backoff_doubles_within_jitter_and_cap),
		cmocka_unit_test(test_decisions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
