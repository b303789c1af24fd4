/* Invitations that services deliver themselves, redirects, metadata, reminders, expiry
 * notices and email language (issue 14), against the real daemons, a real SMTP sink and
 * the reminder loop's clock moved by the test (USHER_TEST_CLOCK_FILE, services/invitation/
 * schedule.h). Every wait is for a condition, with a generous deadline. */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"

#define PASSWORD "correct horse battery"
#define WAIT_MS 60000
#define HOUR_S 3600

static ut_system sys;
static ut_sink sink;
static us_arena *A;
static char *owner;
static char clock_file[200];

#define OWNER_EMAIL "owner@delivery.test"

/* --- helpers --- */

/* Moves the reminder loop's clock to hours from now. */
static void set_clock_hours(long hours)
{
	FILE *f = fopen(clock_file, "w");
	assert_non_null(f);
	fprintf(f, "%ld\n", hours * HOUR_S);
	assert_int_equal(fclose(f), 0);
}

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* Waits until the sink holds at least n distinct messages to rcpt whose subject holds
 * needle; returns how many it has. */
static long wait_mails(const char *rcpt, const char *needle, long n)
{
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	long got;
	do {
		long copies;
		bool identical;
		got = ut_sink_count(&sink, rcpt, needle, &copies, &identical);
		if (got >= n)
			return got;
		nap_ms(50);
	} while (us_monotonic_ms() < deadline);
	return got;
}

static long mails_to(const char *rcpt, const char *needle)
{
	long copies;
	bool identical;
	return ut_sink_count(&sink, rcpt, needle, &copies, &identical);
}

/* The text part of the first message to rcpt (malloc'd). */
static char *first_text_to(const char *rcpt)
{
	ut_mail *mails;
	size_t n = ut_sink_mails(&sink, &mails);
	char *text = NULL;
	for (size_t i = 0; i < n && text == NULL; i++) {
		if (strcmp(mails[i].rcpt_to, rcpt) == 0)
			text = ut_mail_part(mails[i].data, "text/plain");
	}
	ut_mails_free(mails, n);
	assert_non_null(text);
	return text;
}

static Usher__V1__InvitationSettings *set_settings(const char *account, const char *allowed,
                                                   uint32_t delay_hours, const char *locale,
                                                   bool notify_expiry)
{
	Usher__V1__InvitationSettings s = USHER__V1__INVITATION_SETTINGS__INIT;
	s.account_id = (char *)account;
	char *urls[1] = {(char *)allowed};
	s.redirect_urls = urls;
	s.n_redirect_urls = allowed != NULL ? 1 : 0;
	s.reminder_delay_hours = delay_hours;
	s.email_locale = (char *)locale;
	s.notify_inviter_on_expiry = notify_expiry;
	Usher__V1__SetInvitationSettingsRequest req = USHER__V1__SET_INVITATION_SETTINGS_REQUEST__INIT;
	req.settings = &s;
	Usher__V1__InvitationSettingsReply *reply;
	us_status st;
	us_err rc = ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/SetInvitationSettings",
	                    owner, ut_key(A), &req.base, &usher__v1__invitation_settings_reply__descriptor,
	                    A, (ProtobufCMessage **)&reply, &st);
	if (rc != US_OK)
		fail_msg("SetInvitationSettings: %s", st.message);
	us_status_clear(&st);
	return reply->settings;
}

typedef struct invite_opts {
	bool no_email;
	const char *redirect_url, *metadata, *locale;
	uint32_t expires_in_hours;
	const char *key; /* NULL: a fresh one */
} invite_opts;

static us_err invite(const char *account, const char *email, const invite_opts *o,
                     Usher__V1__CreateInvitationsReply **reply, us_status *st)
{
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	scope.organization = true;
	req.account_id = (char *)account;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.scope = &scope;
	req.emails = (char **)&email;
	req.n_emails = 1;
	if (o->no_email) {
		req.email_case = USHER__V1__CREATE_INVITATIONS_REQUEST__EMAIL_SEND_EMAIL;
		req.send_email = false;
	}
	req.redirect_url = (char *)(o->redirect_url ? o->redirect_url : "");
	req.metadata = (char *)(o->metadata ? o->metadata : "");
	req.locale = (char *)(o->locale ? o->locale : "");
	req.expires_in_hours = o->expires_in_hours;
	return ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/CreateInvitations", owner,
	               o->key ? o->key : ut_key(A), &req.base,
	               &usher__v1__create_invitations_reply__descriptor, A,
	               (ProtobufCMessage **)reply, st);
}

static Usher__V1__AddressResult *invite_ok(const char *account, const char *email,
                                           const invite_opts *o)
{
	Usher__V1__CreateInvitationsReply *reply;
	us_status st;
	if (invite(account, email, o, &reply, &st) != US_OK)
		fail_msg("CreateInvitations: %s", st.message);
	us_status_clear(&st);
	assert_int_equal(reply->created, 1);
	return reply->results[0];
}

/* The token of a link PUBLIC_BASE_URL/i/<token>. */
static const char *token_of(const char *link)
{
	const char *t = strstr(link, "/i/");
	assert_non_null(t);
	return t + 3;
}

static long invitations_to(const char *email)
{
	return ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                    "SELECT count(*) FROM invitation.invitations WHERE email = '%s'",
	                    email);
}

static long reminders_of(const char *email)
{
	return ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                    "SELECT coalesce(max(reminders_sent), -1) FROM invitation.invitations"
	                    " WHERE email = '%s'",
	                    email);
}

static long reminded_events(const char *email)
{
	return ut_db_number(
	        ut_system_db(&sys, UT_NOTIFICATION),
	        "SELECT count(*) FROM notification.events WHERE type = 'invitation.reminded'"
	        " AND data->>'email' = '%s'",
	        email);
}

/* The text the query selects (one row, one column), in A. */
static char *db_text(const char *sql)
{
	PGconn *c = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	PGresult *res = PQexec(c, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	char *out = us_arena_strdup(A, PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return out;
}

static Usher__V1__Invitation *get_invitation(const char *id)
{
	Usher__V1__InvitationRef req = USHER__V1__INVITATION_REF__INIT;
	req.invitation_id = (char *)id;
	Usher__V1__GetInvitationReply *reply;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/GetInvitation", owner, NULL,
	            &req.base, &usher__v1__get_invitation_reply__descriptor, A,
	            (ProtobufCMessage **)&reply, &st) != US_OK)
		fail_msg("GetInvitation: %s", st.message);
	us_status_clear(&st);
	return reply->invitation;
}

/* --- tests --- */

/* send_email = false: the link comes back once, works, is stored nowhere, and no email
 * goes out; metadata and the redirect are kept and shown. */
static void test_service_delivered(void **state)
{
	(void)state;
	char *account = ut_create_account(&sys, A, owner, "Self Delivery", "");
	set_settings(account, "https://app.example.com/", 0, "", false);
	const char *email = "silent@delivery.test";
	const char *key = ut_key(A);
	invite_opts o = {.no_email = true,
	                 .redirect_url = "https://app.example.com/welcome?from=usher",
	                 .metadata = "{\"crm_id\": \"42\", \"tags\": [\"vip\"]}",
	                 .key = key};
	Usher__V1__AddressResult *res = invite_ok(account, email, &o);
	assert_non_null(strstr(res->link, "/i/"));
	const char *token = us_arena_strdup(A, token_of(res->link));

	/* Asked again with the same key: the same answer, without the link (given once). */
	Usher__V1__CreateInvitationsReply *again;
	us_status st;
	assert_int_equal(invite(account, email, &o, &again, &st), US_OK);
	assert_string_equal(again->results[0]->invitation_id, res->invitation_id);
	assert_string_equal(again->results[0]->link, "");

	/* Nowhere in the invitation schema's rows: not as written, not as the hex of a bytea
	 * (a kept reply), and no sealed copy or outbox row for a reminder. */
	char hex[2 * 64 + 1];
	sodium_bin2hex(hex, sizeof(hex), (const unsigned char *)token, strlen(token));
	assert_int_equal(
	        ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                     "SELECT count(*) FROM information_schema.tables t,"
	                     " LATERAL (SELECT query_to_xml(format('SELECT x::text AS r"
	                     " FROM invitation.%%I x', t.table_name), false, false, '')::text"
	                     " AS dump) d WHERE t.table_schema = 'invitation'"
	                     " AND t.table_type = 'BASE TABLE'"
	                     " AND (strpos(d.dump, '%s') > 0 OR strpos(d.dump, '%s') > 0)",
	                     token, hex),
	        0);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.invitations"
	                              " WHERE email = '%s' AND sealed_token IS NOT NULL",
	                              email),
	                 0);

	/* Shown as stored. */
	Usher__V1__Invitation *inv = get_invitation(res->invitation_id);
	assert_string_equal(inv->redirect_url, "https://app.example.com/welcome?from=usher");
	assert_false(inv->send_email);
	json_error_t jerr;
	json_t *meta = json_loads(inv->metadata, 0, &jerr);
	assert_non_null(meta);
	assert_string_equal(json_string_value(json_object_get(meta, "crm_id")), "42");
	json_decref(meta);

	/* Resent, it gets a new link, returned the same way; the old one is dead. */
	const char *other = "silent2@delivery.test";
	invite_opts o2 = {.no_email = true};
	const char *old_token = us_arena_strdup(A, token_of(invite_ok(account, other, &o2)->link));
	Usher__V1__InvitationRef ref = USHER__V1__INVITATION_REF__INIT;
	ref.invitation_id = (char *)db_text(us_arena_printf(
	        A, "SELECT id FROM invitation.invitations WHERE email = '%s'", other));
	Usher__V1__ReinviteReply *resent;
	if (ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Reinvite", owner, ut_key(A),
	            &ref.base, &usher__v1__reinvite_reply__descriptor, A, (ProtobufCMessage **)&resent,
	            &st) != US_OK)
		fail_msg("Reinvite: %s", st.message);
	const char *new_token = token_of(resent->link);
	assert_string_not_equal(new_token, old_token);
	Usher__V1__PreviewRequest pv = USHER__V1__PREVIEW_REQUEST__INIT;
	ProtobufCMessage *seen;
	pv.token = (char *)old_token;
	assert_int_equal(ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Preview", NULL, NULL,
	                         &pv.base, &usher__v1__preview_reply__descriptor, A, &seen, &st),
	                 US_ENOTFOUND);
	us_status_clear(&st);
	pv.token = (char *)new_token;
	assert_int_equal(ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Preview", NULL, NULL,
	                         &pv.base, &usher__v1__preview_reply__descriptor, A, &seen, &st),
	                 US_OK);

	/* The link works: accepting through it makes the member. */
	Usher__V1__AcceptRequest acc = USHER__V1__ACCEPT_REQUEST__INIT;
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = "Silent Sam";
	profile.phone = "";
	profile.password = PASSWORD;
	acc.token = (char *)token;
	acc.new_user = &profile;
	Usher__V1__AcceptReply *accepted;
	if (ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Accept", NULL, NULL, &acc.base,
	            &usher__v1__accept_reply__descriptor, A, (ProtobufCMessage **)&accepted,
	            &st) != US_OK)
		fail_msg("Accept: %s", st.message);
	assert_string_equal(accepted->invitation->redirect_url,
	                    "https://app.example.com/welcome?from=usher");
	assert_int_equal(ut_count_memberships(&sys, A, account, accepted->user->id), 1);

	/* The inviter's notice of the accept is queued after any invitation email would have
	 * been: once it has arrived, the invitee has had nothing. */
	assert_true(wait_mails(OWNER_EMAIL, "silent@delivery.test accepted", 1) >= 1);
	assert_int_equal(mails_to(email, ""), 0);
	assert_int_equal(mails_to(other, ""), 0);
}

/* Refused with the field named, and nothing created: a redirect off the allow-list
 * (another host, a look-alike prefix, any redirect where the account has no list),
 * metadata too long or not an object, a malformed locale. */
static void test_refusals(void **state)
{
	(void)state;
	char *account = ut_create_account(&sys, A, owner, "Strict Redirects", "");
	char *bare = ut_create_account(&sys, A, owner, "No Allow List", "");
	set_settings(account, "https://app.example.com/", 0, "", false);
	char big[4200];
	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"k\": \"", 7);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	const struct {
		const char *account;
		invite_opts o;
		const char *field, *says;
	} cases[] = {
		{account, {.redirect_url = "https://evil.example.net/welcome"}, "redirect_url",
		 "is not on the account's redirect allow-list"},
		{account, {.redirect_url = "https://app.example.com.evil.net/"}, "redirect_url",
		 "is not on the account's redirect allow-list"},
		{account, {.redirect_url = "https://user@app.example.com/"}, "redirect_url",
		 "must not carry credentials"},
		{account, {.redirect_url = "javascript:alert(1)"}, "redirect_url",
		 "must be an absolute http:// or https:// URL"},
		{bare, {.redirect_url = "https://app.example.com/"}, "redirect_url",
		 "the account has no redirect allow-list"},
		{account, {.metadata = big}, "metadata", "must be at most 4096 bytes"},
		{account, {.metadata = "[1, 2]"}, "metadata", "must be a JSON object"},
		{account, {.metadata = "{\"a\": 1"}, "metadata", "must be valid JSON"},
		{account, {.locale = "fr_FR!"}, "locale", "must be a language tag"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *email = us_arena_printf(A, "refused%zu@delivery.test", i);
		Usher__V1__CreateInvitationsReply *reply;
		us_status st;
		assert_int_equal(invite(cases[i].account, email, &cases[i].o, &reply, &st), US_EINVAL);
		assert_int_equal(st.n_violations, 1);
		assert_string_equal(st.violations[0].field, cases[i].field);
		if (strstr(st.violations[0].description, cases[i].says) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, st.violations[0].description,
			         cases[i].says);
		us_status_clear(&st);
		assert_int_equal(invitations_to(email), 0);
	}
	/* Inside the list, at its prefix: taken. */
	invite_opts ok = {.redirect_url = "https://app.example.com/a/b"};
	invite_ok(account, "allowed@delivery.test", &ok);
}

/* A form from the invitee's page (the gateway's) that accepts or declines sends the
 * browser to redirect_url. */
static void test_redirect_pages(void **state)
{
	(void)state;
	char *account = ut_create_account(&sys, A, owner, "Redirecting", "");
	set_settings(account, "https://app.example.com/", 0, "", false);
	invite_opts o = {.no_email = true, .redirect_url = "https://app.example.com/joined"};
	const char *yes = token_of(invite_ok(account, "page.yes@delivery.test", &o)->link);
	o.redirect_url = "https://app.example.com/declined";
	const char *no = token_of(invite_ok(account, "page.no@delivery.test", &o)->link);

	ut_browser *b = ut_browser_new(&sys);
	ut_browser_set_accept(b, "text/html");
	const char *tokens[2] = {yes, no};
	const char *where[2] = {"https://app.example.com/joined", "https://app.example.com/declined"};
	for (int i = 0; i < 2; i++) {
		char path[256];
		snprintf(path, sizeof(path), "/i/%s", tokens[i]);
		ut_reply r;
		ut_http(b, "GET", path, NULL, 0, NULL, &r);
		assert_int_equal(r.status, 200);
		const char *p = strstr(r.body, "name=form_token value=\"");
		assert_non_null(p);
		p += strlen("name=form_token value=\"");
		char *form_tok = us_arena_strndup(A, p, strcspn(p, "\""));
		ut_reply_free(&r);
		char body[300];
		if (i == 0)
			snprintf(body, sizeof(body),
			         "form_token=%s&name=Page+Yes&phone=&password=correct+horse+battery", form_tok);
		else
			snprintf(body, sizeof(body), "form_token=%s", form_tok);
		snprintf(path, sizeof(path), "/i/%s/%s", tokens[i], i == 0 ? "accept-form" : "decline-form");
		ut_http(b, "POST", path, body, strlen(body), "application/x-www-form-urlencoded", &r);
		assert_int_equal(r.status, 303);
		char *expect = us_arena_printf(A, "Location: %s\r\n", where[i]);
		if (strcasestr(r.headers, expect) == NULL)
			fail_msg("no \"%s\" in:\n%s", where[i], r.headers);
		ut_reply_free(&r);
	}
	ut_browser_free(b);
}

static us_err put_settings(Usher__V1__InvitationSettings *s, Usher__V1__InvitationSettings **out,
                           us_status *st)
{
	Usher__V1__SetInvitationSettingsRequest req = USHER__V1__SET_INVITATION_SETTINGS_REQUEST__INIT;
	req.settings = s;
	Usher__V1__InvitationSettingsReply *reply;
	us_err rc = ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/SetInvitationSettings",
	                    owner, ut_key(A), &req.base, &usher__v1__invitation_settings_reply__descriptor,
	                    A, (ProtobufCMessage **)&reply, st);
	if (rc == US_OK)
		*out = reply->settings;
	return rc;
}

/* Accepts the invitation of link as a new user; the reply's next_url. */
static const char *accept_next_url(const char *link, const char *name)
{
	Usher__V1__AcceptRequest acc = USHER__V1__ACCEPT_REQUEST__INIT;
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = (char *)name;
	profile.phone = "";
	profile.password = PASSWORD;
	acc.token = (char *)token_of(link);
	acc.new_user = &profile;
	Usher__V1__AcceptReply *accepted;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Accept", NULL, NULL, &acc.base,
	            &usher__v1__accept_reply__descriptor, A, (ProtobufCMessage **)&accepted,
	            &st) != US_OK)
		fail_msg("Accept: %s", st.message);
	return accepted->next_url;
}

static const char *decline_next_url(const char *link)
{
	Usher__V1__DeclineRequest req = USHER__V1__DECLINE_REQUEST__INIT;
	req.token = (char *)token_of(link);
	Usher__V1__DeclineReply *declined;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Decline", NULL, NULL, &req.base,
	            &usher__v1__decline_reply__descriptor, A, (ProtobufCMessage **)&declined,
	            &st) != US_OK)
		fail_msg("Decline: %s", st.message);
	return declined->next_url;
}

/* The account's home_url: checked like a redirect, kept, and where an accept sends the
 * person when the invitation names no redirect_url; a decline goes only to redirect_url. */
static void test_home_url(void **state)
{
	(void)state;
	char *account = ut_create_account(&sys, A, owner, "Has A Home", "");
	char *homeless = ut_create_account(&sys, A, owner, "No Home", "");
	Usher__V1__InvitationSettings s = USHER__V1__INVITATION_SETTINGS__INIT, *got = NULL;
	char *urls[] = {"https://app.example.com/"};
	s.account_id = account;
	s.redirect_urls = urls;
	s.n_redirect_urls = 1;
	us_status st;
	const char *bad[] = {"javascript:alert(1)", "https://user:pw@home.example.com/",
	                     "https://home.example.com/#x", "ftp://home.example.com/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.home_url = (char *)bad[i];
		assert_int_equal(put_settings(&s, &got, &st), US_EINVAL);
		assert_int_equal(st.n_violations, 1);
		assert_string_equal(st.violations[0].field, "settings.home_url");
		us_status_clear(&st);
	}
	char too_long[2100] = "https://home.example.com/";
	memset(too_long + strlen(too_long), 'a', sizeof(too_long) - strlen(too_long) - 1);
	s.home_url = too_long;
	assert_int_equal(put_settings(&s, &got, &st), US_EINVAL);
	us_status_clear(&st);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.account_settings"
	                              " WHERE account_id = '%s'",
	                              account),
	                 0);

	s.home_url = "https://home.example.com/start?src=usher";
	assert_int_equal(put_settings(&s, &got, &st), US_OK);
	assert_string_equal(got->home_url, "https://home.example.com/start?src=usher");
	Usher__V1__GetInvitationSettingsRequest get = USHER__V1__GET_INVITATION_SETTINGS_REQUEST__INIT;
	get.account_id = account;
	Usher__V1__InvitationSettingsReply *read;
	assert_int_equal(ut_call(&sys, UT_INVITATION,
	                         "usher.v1.InvitationService/GetInvitationSettings", owner, NULL,
	                         &get.base, &usher__v1__invitation_settings_reply__descriptor, A,
	                         (ProtobufCMessage **)&read, &st),
	                 US_OK);
	assert_string_equal(read->settings->home_url, "https://home.example.com/start?src=usher");

	invite_opts plain = {.no_email = true};
	invite_opts redirected = {.no_email = true, .redirect_url = "https://app.example.com/r"};
	assert_string_equal(accept_next_url(invite_ok(account, "home.a@delivery.test", &plain)->link,
	                                    "Home A"),
	                    "https://home.example.com/start?src=usher");
	assert_string_equal(
	        accept_next_url(invite_ok(account, "home.b@delivery.test", &redirected)->link, "Home B"),
	        "https://app.example.com/r");
	assert_string_equal(decline_next_url(invite_ok(account, "home.c@delivery.test", &plain)->link),
	                    "");
	assert_string_equal(accept_next_url(invite_ok(homeless, "home.d@delivery.test", &plain)->link,
	                                    "Home D"),
	                    "");
}

/* Reminders come after the account's delay, at most two, never to an expired invitation;
 * an expiry tells the inviter when the account asks. The reminder loop's clock moves. */
static void test_reminders_and_expiry(void **state)
{
	(void)state;
	char *account = ut_create_account(&sys, A, owner, "Reminding", "");
	/* Invitations may last 30 days here. */
	Usher__V1__UpdateAccountSettingsRequest up = USHER__V1__UPDATE_ACCOUNT_SETTINGS_REQUEST__INIT;
	up.account_id = account;
	up.name = "Reminding";
	up.invitation_expiry_hours = 720;
	ProtobufCMessage *updated;
	us_status st;
	if (ut_call(&sys, UT_TENANCY, "usher.v1.TenancyService/UpdateAccountSettings", owner,
	            ut_key(A), &up.base, &usher__v1__update_account_settings_reply__descriptor, A,
	            &updated, &st) != US_OK)
		fail_msg("UpdateAccountSettings: %s", st.message);
	set_settings(account, NULL, 0, "", true); /* the default delay: 72 hours */
	const char *remind = "remind@delivery.test", *lapse = "lapse@delivery.test";
	const char *most = "most@delivery.test", *early = "early@delivery.test";
	invite_opts week = {.expires_in_hours = 168}, day = {.expires_in_hours = 24},
	            three_days = {.expires_in_hours = 72}, long_ = {.expires_in_hours = 500};
	invite_ok(account, remind, &week);
	invite_ok(account, early, &day);
	invite_ok(account, lapse, &three_days); /* lapses just as its reminder falls due */
	invite_ok(account, most, &long_);
	char first[128];
	ut_sink_wait_token(&sink, remind, 0, WAIT_MS, first, sizeof(first));

	/* 71 hours on: the day-long invitation has lapsed (its inviter is told), nobody is
	 * reminded yet. The loop is sequential, so once the notice was queued, a reminder
	 * due at any earlier round would have been counted. */
	set_clock_hours(71);
	assert_int_equal(wait_mails(OWNER_EMAIL, "Your invitation to early@delivery.test expired", 1), 1);
	assert_int_equal(reminders_of(remind), 0);
	assert_int_equal(reminders_of(lapse), 0);

	/* 73 hours on: the first reminder, with the link the invitee already has; the
	 * three-day invitation, due for one too, has expired in the same jump: no reminder. */
	set_clock_hours(73);
	char again[128];
	assert_true(ut_sink_wait_link(&sink, remind, "Reminder:", 'i', 0, WAIT_MS, again, sizeof(again)));
	assert_string_equal(again, first);
	assert_int_equal(wait_mails(OWNER_EMAIL, "Your invitation to lapse@delivery.test expired", 1), 1);
	assert_int_equal(reminders_of(lapse), 0);
	char tmp[128];
	assert_true(ut_sink_wait_link(&sink, most, "Reminder:", 'i', 0, WAIT_MS, tmp, sizeof(tmp)));

	/* 146 hours on: the second; 219 hours on (the week-long one has expired): a third is
	 * due by the delay for the 500-hour one, but two is the most. An invitation made
	 * (with the clock back at now, so it is not due at once) is reminded at 219 hours in
	 * the same statement a third reminder would have been. */
	set_clock_hours(146);
	assert_int_equal(wait_mails(remind, "Reminder:", 2), 2);
	assert_int_equal(wait_mails(most, "Reminder:", 2), 2);
	set_clock_hours(0);
	const char *marker = "marker@delivery.test";
	invite_ok(account, marker, &long_);
	ut_sink_wait_token(&sink, marker, 0, WAIT_MS, tmp, sizeof(tmp));
	set_clock_hours(219);
	assert_int_equal(wait_mails(marker, "Reminder:", 1), 1);
	assert_int_equal(reminders_of(most), 2);
	assert_int_equal(mails_to(most, "Reminder:"), 2);
	/* One invitation.reminded event per reminder, numbered, relayed to notificationd. */
	for (int i = 0; i < 600 && reminded_events(most) < 2; i++)
		usleep(50 * 1000);
	assert_int_equal(reminded_events(most), 2);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                              "SELECT count(*) FROM notification.events"
	                              " WHERE type = 'invitation.reminded'"
	                              " AND data->>'email' = '%s'"
	                              " AND (data->>'reminder_number')::int IN (1, 2)",
	                              most),
	                 2);
	/* Never after expiry. */
	assert_int_equal(wait_mails(OWNER_EMAIL, "Your invitation to remind@delivery.test expired", 1), 1);
	assert_int_equal(mails_to(remind, "Reminder:"), 2);
	assert_int_equal(mails_to(lapse, "Reminder:"), 0);
	assert_int_equal(mails_to(early, "Reminder:"), 0);
	/* Nothing sealed is kept for invitations that will get no more reminders. */
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.invitations WHERE email IN"
	                              " ('%s', '%s', '%s', '%s') AND sealed_token IS NOT NULL",
	                              remind, lapse, most, early),
	                 0);
	set_clock_hours(0);
}

/* The invitation's locale, else the account's, picks the emails' language; a language
 * without templates gets English. */
static void test_locale(void **state)
{
	(void)state;
	set_clock_hours(0); /* whatever a failed test left */
	char *account = ut_create_account(&sys, A, owner, "Polyglot", "");
	char *french = ut_create_account(&sys, A, owner, "Francophone", "");
	set_settings(french, NULL, 0, "fr", false);
	invite_opts fr = {.locale = "fr"}, xx = {.locale = "xx"}, fr_ca = {.locale = "fr-CA"};
	invite_opts none = {0};
	invite_ok(account, "fr@delivery.test", &fr);
	invite_ok(account, "xx@delivery.test", &xx);
	invite_ok(account, "frca@delivery.test", &fr_ca);
	invite_ok(french, "account.fr@delivery.test", &none);
	const struct {
		const char *to, *says;
	} expect[] = {
		{"fr@delivery.test", "vous invite"},
		{"xx@delivery.test", "has invited you"},
		{"frca@delivery.test", "vous invite"},
		{"account.fr@delivery.test", "vous invite"},
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		char tok[128];
		ut_sink_wait_token(&sink, expect[i].to, 0, WAIT_MS, tok, sizeof(tok));
		char *text = first_text_to(expect[i].to);
		if (strstr(text, expect[i].says) == NULL)
			fail_msg("the email to %s does not say \"%s\":\n%s", expect[i].to, expect[i].says,
			         text);
		free(text);
	}
}

/* Over the gateway's JSON API: settings, and "sendEmail": false returning the link (proto3
 * JSON of the oneof: present when set, false included). */
static void test_http_api(void **state)
{
	(void)state;
	char *account = ut_create_account(&sys, A, owner, "Over HTTP", "");
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	char *body = us_arena_printf(A, "{\"email\": \"%s\", \"password\": \"%s\"}", OWNER_EMAIL,
	                             PASSWORD);
	ut_http(b, "POST", "/login", body, strlen(body), NULL, &r);
	assert_int_equal(r.status, 200);
	ut_browser_set_csrf(b, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);

	body = us_arena_printf(A, "{\"settings\": {\"accountId\": \"%s\", \"redirectUrls\":"
	                          " [\"https://app.example.com/\"], \"emailLocale\": \"fr\"}}",
	                       account);
	ut_http(b, "POST", "/rpc/usher.v1.InvitationService/SetInvitationSettings", body, strlen(body),
	        NULL, &r);
	assert_int_equal(r.status, 200);
	ut_reply_free(&r);
	body = us_arena_printf(A, "{\"accountId\": \"%s\"}", account);
	ut_http(b, "POST", "/rpc/usher.v1.InvitationService/GetInvitationSettings", body, strlen(body),
	        NULL, &r);
	assert_int_equal(r.status, 200);
	json_t *settings = json_object_get(r.json, "settings");
	assert_string_equal(json_string_value(json_object_get(settings, "emailLocale")), "fr");
	assert_int_equal(json_integer_value(json_object_get(settings, "reminderDelayHours")), 72);
	ut_reply_free(&r);

	body = us_arena_printf(A, "{\"accountId\": \"%s\", \"scope\": {\"organization\": true},"
	                          " \"role\": \"ROLE_MEMBER\", \"emails\": [\"http@delivery.test\"],"
	                          " \"sendEmail\": false, \"redirectUrl\": \"https://app.example.com/x\","
	                          " \"metadata\": \"{\\\"k\\\": 1}\"}",
	                       account);
	ut_http(b, "POST", "/rpc/usher.v1.InvitationService/CreateInvitations", body, strlen(body),
	        NULL, &r);
	if (r.status != 200)
		fail_msg("%ld: %s", r.status, r.body);
	json_t *result = json_array_get(json_object_get(r.json, "results"), 0);
	assert_non_null(strstr(json_string_value(json_object_get(result, "link")), "/i/"));
	ut_reply_free(&r);
	/* Without sendEmail, the email goes (in the account's language). */
	body = us_arena_printf(A, "{\"accountId\": \"%s\", \"scope\": {\"organization\": true},"
	                          " \"role\": \"ROLE_MEMBER\", \"emails\": [\"http2@delivery.test\"]}",
	                       account);
	ut_http(b, "POST", "/rpc/usher.v1.InvitationService/CreateInvitations", body, strlen(body),
	        NULL, &r);
	assert_int_equal(r.status, 200);
	result = json_array_get(json_object_get(r.json, "results"), 0);
	assert_null(json_object_get(result, "link"));
	ut_reply_free(&r);
	char tok[128];
	ut_sink_wait_token(&sink, "http2@delivery.test", 0, WAIT_MS, tok, sizeof(tok));
	char *text = first_text_to("http2@delivery.test");
	assert_non_null(strstr(text, "vous invite"));
	free(text);
	ut_browser_free(b);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_sink_start(&sink, NULL);
	ut_system_init(&sys, "delivery");
	snprintf(clock_file, sizeof(clock_file), "%s/clock", sys.dir);
	set_clock_hours(0);
	static char smtp[160], clock_setting[240];
	char url[128];
	ut_sink_url(&sink, url, sizeof(url));
	snprintf(smtp, sizeof(smtp), "SMTP_URL=%s", url);
	snprintf(clock_setting, sizeof(clock_setting), "USHER_TEST_CLOCK_FILE=%s", clock_file);
	const char *env[] = {
		smtp, clock_setting, "MAIL_FROM=Usher <invites@usher.test>", "REMINDER_INTERVAL_MS=100",
		"OUTBOX_POLL_MS=100", "DELIVERY_POLL_MS=100", "REINVITE_MIN_INTERVAL_S=0", NULL,
	};
	for (size_t i = 0; env[i] != NULL; i++)
		sys.extra_env[i] = env[i];
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, OWNER_EMAIL, "Olivia Owner", PASSWORD);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	ut_sink_teardown(&sink);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_delivered),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_redirect_pages),
		cmocka_unit_test(test_home_url),
		cmocka_unit_test(test_reminders_and_expiry),
		cmocka_unit_test(test_locale),
		cmocka_unit_test(test_http_api),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
