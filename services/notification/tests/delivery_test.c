/* usher-notificationd as a process against a real Postgres and a real SMTP server on
 * loopback (tests/support/smtp_sink.py): what arrives, retries, refusals and
 * suppression, an outage of the server, bad input, and what GetDeliveries tells an admin
 * whose invitee "never got the email". */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "fixture.h"

#define SENT USHER__V1__DELIVERY_STATE__DELIVERY_SENT
#define QUEUED USHER__V1__DELIVERY_STATE__DELIVERY_QUEUED
#define FAILED USHER__V1__DELIVERY_STATE__DELIVERY_FAILED
#define SUPPRESSED USHER__V1__DELIVERY_STATE__DELIVERY_SUPPRESSED

#define LINK "https://usher.test/invitations/accept?token=Zm9v_YmFy-0123456789&from=email"

static nt_fixture F;

/* Starts the daemon, with a sink scripted by sink_flags unless they are NULL. */
static void start(const char *name, const char *const *sink_flags)
{
	nt_init(&F, name);
	if (sink_flags != NULL)
		nt_sink(&F, sink_flags);
	nt_start(&F);
}

static int teardown(void **state)
{
	(void)state;
	nt_teardown(&F);
	return 0;
}

static bool contains(const char *haystack, const char *needle)
{
	return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* "Nothing more happens" is checked once a later message has gone all the way through:
 * the queue was worked after whatever should not have happened would have. Sends a
 * marker message and waits until the sink has it; returns how many messages the sink
 * holds, the marker included. */
/* Waits (up to 30 s) until the message has been attempted at least n times. */
static Usher__V1__Delivery *wait_attempts(const char *recipient, const char *id, uint32_t n)
{
	int64_t deadline = us_monotonic_ms() + 30000;
	Usher__V1__Delivery *d = nt_delivery(&F, recipient, id);
	while (d->attempts < n) {
		if (us_monotonic_ms() > deadline)
			fail_msg("message %s attempted %u times in 30 s, not %u", id, d->attempts, n);
		usleep(50 * 1000);
		d = nt_delivery(&F, recipient, id);
	}
	return d;
}

static size_t after_a_marker(const char *key)
{
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, key, "marker@example.com", LINK), &id, NULL),
	                 US_OK);
	nt_wait_state(&F, "marker@example.com", id, SENT, 30000);
	ut_mail *mails;
	size_t n = ut_sink_mails(&F.sink, &mails);
	ut_mails_free(mails, n);
	return n;
}

/* Decodes "=?UTF-8?B?...?=" words (folding removed by ut_mail_header). */
static char *decode_subject(const char *value)
{
	char *out = calloc(1, strlen(value) + 1);
	size_t len = 0;
	const char *p = value;
	while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
		p += 10;
		const char *end = strstr(p, "?=");
		assert_non_null(end);
		size_t got = 0;
		assert_int_equal(sodium_base642bin((unsigned char *)out + len, strlen(value) - len, p,
		                                   (size_t)(end - p), NULL, &got, NULL,
		                                   sodium_base64_VARIANT_ORIGINAL),
		                 0);
		len += got;
		p = end + 2;
	}
	out[len] = '\0';
	return out;
}

static void test_message_arrives_with_subject_parts_link_and_headers(void **state)
{
	(void)state;
	const char *flags[] = {NULL};
	start("notify_arrives", flags);
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-arrives", " New.Person@Example.COM ", LINK),
	                         &id, NULL),
	                 US_OK);
	Usher__V1__Delivery *d = nt_wait_state(&F, "new.person@example.com", id, SENT, 30000);
	assert_int_equal(d->attempts, 1);
	assert_true(strncmp(d->last_reply, "250 ", 4) == 0);
	assert_string_not_equal(d->sent_at, "");

	ut_mail *mails;
	size_t n = ut_sink_mails(&F.sink, &mails);
	assert_int_equal(n, 1);
	const char *data = mails[0].data;
	assert_string_equal(mails[0].mail_from, "invites@usher.test");
	assert_string_equal(mails[0].rcpt_to, "new.person@example.com");

	char *subject = ut_mail_header(data, "Subject");
	char *from = ut_mail_header(data, "From");
	char *to = ut_mail_header(data, "To");
	char *date = ut_mail_header(data, "Date");
	char *mid = ut_mail_header(data, "Message-ID");
	char *mime = ut_mail_header(data, "MIME-Version");
	char *auto_submitted = ut_mail_header(data, "Auto-Submitted");
	char *type = ut_mail_header(data, "Content-Type");
	assert_string_equal(subject, "Invitation");
	assert_string_equal(from, "\"Usher Invitations\" <invites@usher.test>");
	assert_string_equal(to, "<new.person@example.com>");
	assert_non_null(date);
	assert_true(contains(date, " +0000"));
	assert_string_equal(mid, d->smtp_message_id);
	assert_true(contains(mid, "@usher.test>"));
	assert_string_equal(mime, "1.0");
	assert_string_equal(auto_submitted, "auto-generated");
	assert_true(contains(type, "multipart/alternative"));

	char *text = ut_mail_part(data, "text/plain");
	char *html = ut_mail_part(data, "text/html");
	assert_true(contains(text, "Ada Admin has invited you to join Acme & Co as member."));
	assert_true(contains(text, "accept or decline the invitation at this link"));
	assert_true(contains(text, LINK));
	/* Values are escaped in HTML, the link included. */
	assert_true(contains(html, "Acme &amp; Co"));
	assert_false(contains(html, "Acme & Co"));
	assert_true(contains(html, "href=\"https://usher.test/invitations/accept?token=Zm9v_YmFy-0123456789&amp;from=email\""));

	/* The link is not kept at rest once the message is sent. */
	assert_int_equal(nt_sql_number(&F, "SELECT count(*) FROM notification.messages"
	                                   " WHERE variables IS NOT NULL"),
	                 0);
	free(subject), free(from), free(to), free(date), free(mid), free(mime);
	free(auto_submitted), free(type), free(text), free(html);
	ut_mails_free(mails, n);
}

static void test_existing_user_invitation_has_account_in_utf8_subject(void **state)
{
	(void)state;
	const char *flags[] = {NULL};
	start("notify_existing", flags);
	char *id = NULL;
	Usher__V1__Email *e = nt_email(&F, "k-existing", "invitation_existing_user", "old@example.com",
	                               "invitation:7", "account_name", "Zürich Bürger Team",
	                               "inviter_name", "Ada", "role", "admin", "link",
	                               "https://usher.test/accounts", "expires_at", "Jan 8", NULL);
	assert_int_equal(nt_send(&F, e, &id, NULL), US_OK);
	nt_wait_state(&F, "old@example.com", id, SENT, 30000);

	ut_mail *mails;
	size_t n = ut_sink_mails(&F.sink, &mails);
	assert_int_equal(n, 1);
	char *raw = ut_mail_header(mails[0].data, "Subject");
	assert_true(contains(raw, "=?UTF-8?B?")); /* RFC 2047: no raw 8-bit in headers */
	char *subject = decode_subject(raw);
	assert_string_equal(subject, "Invitation for Zürich Bürger Team");
	char *text = ut_mail_part(mails[0].data, "text/plain");
	assert_true(contains(text, "The invitation also waits for you under My accounts"));
	assert_true(contains(text, "https://usher.test/accounts"));
	assert_true(contains(text, "Zürich Bürger Team"));
	free(raw), free(subject), free(text);
	ut_mails_free(mails, n);
}

static void test_451_twice_then_250_delivers_once_after_three_attempts(void **state)
{
	(void)state;
	const char *flags[] = {"--codes", "451,451", NULL};
	start("notify_451", flags);
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-451", "slow@example.com", LINK), &id, NULL),
	                 US_OK);
	Usher__V1__Delivery *d = nt_wait_state(&F, "slow@example.com", id, SENT, 30000);
	assert_int_equal(d->attempts, 3);
	assert_int_equal(d->n_attempt_log, 3);
	assert_true(contains(d->attempt_log[0]->reply, "451 4.7.1"));
	assert_true(contains(d->attempt_log[1]->reply, "451 4.7.1"));
	assert_true(strncmp(d->attempt_log[2]->reply, "250 ", 4) == 0);
	assert_int_equal(d->attempt_log[2]->number, 3);
	/* Nothing more comes later: one message and the marker. */
	assert_int_equal(after_a_marker("k-451-marker"), 2);
}

static void test_550_fails_and_suppresses_until_removed(void **state)
{
	(void)state;
	const char *flags[] = {"--reject", "gone@example.com", NULL};
	start("notify_550", flags);
	char *first = NULL, *second = NULL, *other = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-550-1", "gone@example.com", LINK), &first, NULL),
	                 US_OK);
	Usher__V1__Delivery *d = nt_wait_state(&F, "gone@example.com", first, FAILED, 30000);
	assert_int_equal(d->attempts, 1);
	assert_true(strncmp(d->last_reply, "550 5.1.1", 9) == 0);

	/* The next message to that address is not attempted; others are. */
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-550-2", "Gone@Example.com", LINK), &second, NULL),
	                 US_OK);
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-550-3", "fine@example.com", LINK), &other, NULL),
	                 US_OK);
	nt_wait_state(&F, "fine@example.com", other, SENT, 30000);
	d = nt_wait_state(&F, "gone@example.com", second, SUPPRESSED, 30000);
	assert_int_equal(d->attempts, 0);
	assert_int_equal(ut_sink_wait(&F.sink, 2, 0), 1);
	assert_int_equal(nt_sql_number(&F, "SELECT count(*) FROM notification.messages"
	                                   " WHERE variables IS NOT NULL"),
	                 0);

	/* Taken off the list, the address is attempted again. */
	Usher__V1__RemoveSuppressionRequest req = USHER__V1__REMOVE_SUPPRESSION_REQUEST__INIT;
	req.email = "GONE@example.com";
	us_rpc_call_opts opts = {.timeout_ms = 5000, .idempotency_key = "unsuppress-1"};
	ProtobufCMessage *reply = NULL;
	assert_int_equal(us_rpc_call(F.client, "usher.v1.NotificationService/RemoveSuppression", &opts,
	                             &req.base, &usher__v1__remove_suppression_reply__descriptor,
	                             F.arena, &reply, NULL),
	                 US_OK);
	assert_true(((Usher__V1__RemoveSuppressionReply *)reply)->removed);
	char *third = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-550-4", "gone@example.com", LINK), &third, NULL),
	                 US_OK);
	d = nt_wait_state(&F, "gone@example.com", third, FAILED, 30000);
	assert_int_equal(d->attempts, 1);
}

/* Another replica (or an earlier message) suppressed the address while this message
 * waited for a retry: it is not attempted again. */
static void test_a_waiting_message_to_a_newly_suppressed_address_stops(void **state)
{
	(void)state;
	const char *flags[] = {NULL};
	start("notify_late_suppress", flags);
	ut_sink_stop(&F.sink);
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-late", "later@example.com", LINK), &id, NULL),
	                 US_OK);
	Usher__V1__Delivery *d = wait_attempts("later@example.com", id, 1);
	assert_int_equal(d->state, QUEUED);
	ut_db_admin_exec(ut_system_db(&F.sys, UT_NOTIFICATION),
	                 "INSERT INTO notification.suppressions (email, reason)"
	                 " VALUES ('later@example.com', '550 5.1.1 elsewhere')");
	ut_sink_resume(&F.sink);
	d = nt_wait_state(&F, "later@example.com", id, SUPPRESSED, 30000);
	assert_true(d->attempts >= 1);
	/* Only the marker arrives. */
	assert_int_equal(after_a_marker("k-late-marker"), 1);
}

static void test_messages_wait_while_the_server_is_down(void **state)
{
	(void)state;
	const char *flags[] = {NULL};
	start("notify_down", flags);
	ut_sink_stop(&F.sink);
	enum { N = 20 };
	Usher__V1__Email *emails[N];
	for (int i = 0; i < N; i++) {
		char key[32], to[64];
		snprintf(key, sizeof(key), "k-down-%d", i);
		snprintf(to, sizeof(to), "person%d@example.com", i);
		emails[i] = nt_invitation(&F, key, to, LINK);
		emails[i]->reference = "batch:down";
	}
	char **ids = NULL;
	assert_int_equal(nt_send_many(&F, emails, N, &ids, NULL), US_OK);

	/* Attempted, refused by the network, still queued. */
	Usher__V1__GetDeliveriesReply *r;
	int64_t deadline = us_monotonic_ms() + 30000;
	for (;;) {
		r = nt_deliveries(&F, "batch:down", "");
		size_t attempted = 0;
		for (size_t i = 0; i < r->n_deliveries; i++)
			attempted += r->deliveries[i]->attempts >= 1;
		if (attempted == N)
			break;
		if (us_monotonic_ms() > deadline)
			fail_msg("%zu of %d messages attempted in 30 s while the server was down",
			         attempted, N);
		usleep(50 * 1000);
	}
	assert_int_equal(r->n_deliveries, N);
	for (size_t i = 0; i < r->n_deliveries; i++) {
		Usher__V1__Delivery *d = r->deliveries[i];
		assert_int_equal(d->state, QUEUED);
		assert_true(d->attempts >= 1);
		assert_true(contains(d->last_reply, "no answer"));
		assert_string_not_equal(d->next_attempt_at, "");
	}

	ut_sink_resume(&F.sink);
	assert_int_equal(ut_sink_wait(&F.sink, N, 20000), N);
	for (int i = 0; i < N; i++) {
		char to[64];
		snprintf(to, sizeof(to), "person%d@example.com", i);
		nt_wait_state(&F, to, ids[i], SENT, 30000);
	}
	/* Each one arrived, exactly once. */
	ut_mail *mails;
	size_t n = ut_sink_mails(&F.sink, &mails);
	assert_int_equal(n, N);
	for (int i = 0; i < N; i++) {
		char to[64];
		snprintf(to, sizeof(to), "person%d@example.com", i);
		int seen = 0;
		for (size_t m = 0; m < n; m++)
			seen += strcmp(mails[m].rcpt_to, to) == 0;
		assert_int_equal(seen, 1);
	}
	ut_mails_free(mails, n);
}

/* Sends email and expects INVALID_ARGUMENT with a violation on field mentioning what. */
static void expect_invalid(Usher__V1__Email *email, const char *field, const char *what)
{
	us_status st;
	us_status_init(&st);
	assert_int_equal(nt_send(&F, email, NULL, &st), US_EINVAL);
	const char *v = us_status_violation(&st, field);
	if (v == NULL || (what != NULL && strstr(v, what) == NULL))
		fail_msg("expected a violation on %s (%s), got: %s", field, what ? what : "", st.message);
	us_status_clear(&st);
}

static void test_bad_input_is_refused_naming_the_field_and_queues_nothing(void **state)
{
	(void)state;
	start("notify_bad", NULL);
	char big[2002];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	expect_invalid(nt_invitation(&F, "k-1", "", LINK), "email.recipient", "required");
	expect_invalid(nt_invitation(&F, "k-2", "not-an-address", LINK), "email.recipient", NULL);
	expect_invalid(nt_invitation(&F, "k-3", "a@b@example.com", LINK), "email.recipient", NULL);
	expect_invalid(nt_invitation(&F, "", "a@example.com", LINK), "email.idempotency_key", "required");
	expect_invalid(nt_email(&F, "k-4", "invitation_to_mars", "a@example.com", "", NULL),
	               "email.template", "not a known template");
	expect_invalid(nt_email(&F, "k-5", "invitation_new_user", "a@example.com", "", "account_name",
	                        "Acme", "inviter_name", "Ada", "role", "member", "expires_at", "soon",
	                        NULL),
	               "email.variables", "\"link\"");
	expect_invalid(nt_email(&F, "k-6", "invitation_new_user", "a@example.com", "", "account_name",
	                        big, "inviter_name", "Ada", "role", "member", "link", LINK,
	                        "expires_at", "soon", NULL),
	               "email.variables[0].value", "2000");
	expect_invalid(nt_email(&F, "k-7", "invitation_accepted", "a@example.com", "", "account_name",
	                        "Acme\r\nBcc: victim@example.com", "invitee_email", "b@example.com",
	                        "role", "member", NULL),
	               "email.variables[0].value", "control");
	expect_invalid(nt_email(&F, "k-8", "invitation_accepted", "a@example.com", "", "account_name",
	                        "Acme", "invitee_email", "b@example.com", "role", "member", "colour",
	                        "red", NULL),
	               "email.variables[3].name", "not a variable");

	/* One bad email in a batch: the call names it and queues none of them. */
	Usher__V1__Email *batch[3] = {
		nt_invitation(&F, "k-b0", "one@example.com", LINK),
		nt_invitation(&F, "k-b1", "two@@example.com", LINK),
		nt_invitation(&F, "k-b2", "three@example.com", LINK),
	};
	us_status st;
	us_status_init(&st);
	assert_int_equal(nt_send_many(&F, batch, 3, NULL, &st), US_EINVAL);
	assert_non_null(us_status_violation(&st, "emails[1].recipient"));
	assert_int_equal(st.n_violations, 1);
	us_status_clear(&st);

	assert_int_equal(nt_sql_number(&F, "SELECT count(*) FROM notification.messages"), 0);
}

static void test_the_same_key_queues_one_message(void **state)
{
	(void)state;
	const char *flags[] = {NULL};
	start("notify_dedupe", flags);
	char *a = NULL, *b = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-same", "once@example.com", LINK), &a, NULL), US_OK);
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-same", "once@example.com", LINK), &b, NULL), US_OK);
	assert_string_equal(a, b);
	Usher__V1__Email *batch[3] = {
		nt_invitation(&F, "k-same", "once@example.com", LINK),
		nt_invitation(&F, "k-new", "twice@example.com", LINK),
		nt_invitation(&F, "k-new", "twice@example.com", LINK),
	};
	char **ids = NULL;
	assert_int_equal(nt_send_many(&F, batch, 3, &ids, NULL), US_OK);
	assert_string_equal(ids[0], a);
	assert_string_equal(ids[1], ids[2]);
	assert_string_not_equal(ids[1], a);
	nt_wait_state(&F, "twice@example.com", ids[1], SENT, 30000);
	nt_wait_state(&F, "once@example.com", a, SENT, 30000);
	assert_int_equal(after_a_marker("k-dedupe-marker"), 3);
}

static void test_deliveries_by_reference_and_recipient(void **state)
{
	(void)state;
	const char *flags[] = {"--codes", "451", NULL};
	start("notify_status", flags);
	char *a = NULL, *b = NULL, *c = NULL;
	Usher__V1__Email *e = nt_invitation(&F, "k-s1", "ann@example.com", LINK);
	e->reference = "invitation:A";
	assert_int_equal(nt_send(&F, e, &a, NULL), US_OK);
	e = nt_invitation(&F, "k-s2", "bob@example.com", LINK);
	e->reference = "invitation:A";
	assert_int_equal(nt_send(&F, e, &b, NULL), US_OK);
	e = nt_invitation(&F, "k-s3", "bob@example.com", LINK);
	e->reference = "invitation:B";
	assert_int_equal(nt_send(&F, e, &c, NULL), US_OK);
	nt_wait_state(&F, "ann@example.com", a, SENT, 30000);
	nt_wait_state(&F, "bob@example.com", b, SENT, 30000);
	nt_wait_state(&F, "bob@example.com", c, SENT, 30000);

	Usher__V1__GetDeliveriesReply *r = nt_deliveries(&F, "invitation:A", "");
	assert_int_equal(r->n_deliveries, 2);
	assert_string_equal(r->deliveries[0]->message_id, b); /* newest first */
	assert_string_equal(r->deliveries[1]->message_id, a);
	r = nt_deliveries(&F, "", "Bob@Example.com");
	assert_int_equal(r->n_deliveries, 2);
	r = nt_deliveries(&F, "invitation:B", "bob@example.com");
	assert_int_equal(r->n_deliveries, 1);
	Usher__V1__Delivery *d = r->deliveries[0];
	assert_string_equal(d->message_id, c);
	assert_string_equal(d->recipient, "bob@example.com");
	assert_string_equal(d->template_, "invitation_new_user");
	assert_string_equal(d->subject, "Invitation");
	assert_string_equal(d->reference, "invitation:B");
	assert_int_equal(d->state, SENT);
	assert_true(strncmp(d->last_reply, "250 ", 4) == 0);
	assert_int_equal(strlen(d->created_at), 24); /* 2030-01-08T12:00:00.000Z */
	assert_true(d->created_at[23] == 'Z');
	assert_string_not_equal(d->updated_at, "");
	assert_string_not_equal(d->sent_at, "");
	assert_string_equal(d->next_attempt_at, "");
	assert_true(d->n_attempt_log == d->attempts);

	/* The sink refused the first message that reached it once: that one shows two. */
	uint32_t total = 0;
	const char *const recipients[] = {"ann@example.com", "bob@example.com"};
	for (size_t i = 0; i < 2; i++) {
		r = nt_deliveries(&F, "", recipients[i]);
		for (size_t j = 0; j < r->n_deliveries; j++)
			total += r->deliveries[j]->attempts;
	}
	assert_int_equal(total, 4);

	us_status st;
	us_status_init(&st);
	Usher__V1__GetDeliveriesRequest req = USHER__V1__GET_DELIVERIES_REQUEST__INIT;
	req.limit = 501;
	ProtobufCMessage *reply = NULL;
	us_rpc_call_opts opts = {.timeout_ms = 5000};
	assert_int_equal(us_rpc_call(F.client, "usher.v1.NotificationService/GetDeliveries", &opts,
	                             &req.base, &usher__v1__get_deliveries_reply__descriptor, F.arena,
	                             &reply, &st),
	                 US_EINVAL);
	assert_non_null(us_status_violation(&st, "reference"));
	assert_non_null(us_status_violation(&st, "limit"));
	us_status_clear(&st);
}

/* A certificate for 127.0.0.1 in dir (cert.pem, key.pem), made with openssl. */
static void make_certificate(const char *dir)
{
	char key[128], cert[128];
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	char *argv[] = {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
	                "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
	                "-addext", "subjectAltName=IP:127.0.0.1", NULL};
	assert_int_equal(ut_run(argv, NULL, true, NULL), 0);
}

static void test_starttls_and_auth(void **state)
{
	(void)state;
	char cert[96], key[96], ca[128];
	nt_init(&F, "notify_tls");
	make_certificate(F.scratch);
	snprintf(cert, sizeof(cert), "%s/cert.pem", F.scratch);
	snprintf(key, sizeof(key), "%s/key.pem", F.scratch);
	snprintf(ca, sizeof(ca), "SMTP_CA_FILE=%s", cert);
	const char *flags[] = {"--tls-cert", cert, "--tls-key", key, "--auth", "mailer:s3cret", NULL};
	nt_sink(&F, flags);
	nt_setenv(&F, ca);
	nt_setenv(&F, "SMTP_STARTTLS=require");
	nt_setenv(&F, "SMTP_USER=mailer");
	nt_setenv(&F, "SMTP_PASSWORD=wrong");
	nt_start(&F);

	/* Refused credentials are the operator's to fix: the message waits. */
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-tls", "secure@example.com", LINK), &id, NULL),
	                 US_OK);
	Usher__V1__Delivery *d = wait_attempts("secure@example.com", id, 2);
	assert_int_equal(d->state, QUEUED);
	assert_true(strncmp(d->last_reply, "535", 3) == 0);

	ut_system_signal(&F.sys, UT_NOTIFICATION, SIGTERM, 5000, NULL);
	nt_setenv(&F, "SMTP_PASSWORD=s3cret");
	nt_start(&F);
	nt_wait_state(&F, "secure@example.com", id, SENT, 30000);
	assert_int_equal(ut_sink_wait(&F.sink, 1, 0), 1);
}

static void test_without_smtp_url_messages_go_to_the_spool(void **state)
{
	(void)state;
	nt_init(&F, "notify_spool");
	nt_start(&F);
	char *id = NULL;
	assert_int_equal(nt_send(&F, nt_invitation(&F, "k-spool", "spooled@example.com", LINK), &id, NULL),
	                 US_OK);
	Usher__V1__Delivery *d = nt_wait_state(&F, "spooled@example.com", id, SENT, 30000);
	assert_string_equal(d->last_reply, "spooled");

	/* MAIL_SPOOL_DIR/<message id>.eml, complete, and nothing else. */
	char dir[128], path[256];
	snprintf(dir, sizeof(dir), "%s/mail", F.scratch);
	snprintf(path, sizeof(path), "%s/%s.eml", dir, id);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char data[16384];
	size_t len = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[len] = '\0';
	char *mid = ut_mail_header(data, "Message-ID");
	char *text = ut_mail_part(data, "text/plain");
	assert_string_equal(mid, d->smtp_message_id);
	assert_true(contains(text, LINK));
	assert_true(contains(data, "\r\n--=_usher_"));
	free(mid), free(text);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_message_arrives_with_subject_parts_link_and_headers, teardown),
		cmocka_unit_test_teardown(test_existing_user_invitation_has_account_in_utf8_subject, teardown),
		cmocka_unit_test_teardown(test_451_twice_then_250_delivers_once_after_three_attempts, teardown),
		cmocka_unit_test_teardown(test_550_fails_and_suppresses_until_removed, teardown),
		cmocka_unit_test_teardown(test_a_waiting_message_to_a_newly_suppressed_address_stops, teardown),
		cmocka_unit_test_teardown(test_messages_wait_while_the_server_is_down, teardown),
		cmocka_unit_test_teardown(test_bad_input_is_refused_naming_the_field_and_queues_nothing, teardown),
		cmocka_unit_test_teardown(test_the_same_key_queues_one_message, teardown),
		cmocka_unit_test_teardown(test_deliveries_by_reference_and_recipient, teardown),
		cmocka_unit_test_teardown(test_starttls_and_auth, teardown),
		cmocka_unit_test_teardown(test_without_smtp_url_messages_go_to_the_spool, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
