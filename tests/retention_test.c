/* Retention: every growing table's upkeep deletes what is past its time and nothing
 * else. Rows are put in each schema at three ages (40 days past: past a 30-day
 * retention; 20 days past: within it; current), the daemons restarted (upkeep runs at
 * start-up), and exactly the old rows must be gone, table by table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "calls.h"
#include "harness.h"

#define PASSWORD "correct horse battery"
#define WAIT_MS 60000

static ut_system sys;
static us_arena *A;
static char *owner, *account, *link_id;

/* Row ids: age 0 is past retention, 1 within it, 2 current; n numbers the table. */
static const char *id(int n, int age)
{
	return us_arena_printf(A, "00000000-0000-4000-8000-%06d%06d", n, age);
}

static const char *const ages[] = {"40 days", "20 days", "-1 day"};

/* Runs the statement in the database of the schema it names first ("INSERT INTO
 * identity.sessions ..."). */
static void exec(const char *schema, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void exec(const char *schema, const char *fmt, ...)
{
	char sql[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	ut_db_admin_exec(ut_system_db_of(&sys, schema), sql);
}

/* --- what each table gets --- */

enum {
	T_SESSIONS = 1, T_EMAIL_CHANGES, T_PASSWORD_RESETS, T_LOGIN_THROTTLE, T_REQUEST_COUNTERS,
	T_MESSAGES, T_LINK_JOINS, T_LINK_JOIN_REQUESTS, T_AUDIT_IDENTITY, T_AUDIT_TENANCY,
	T_AUDIT_INVITATION, T_AUDIT_NOTIFICATION, T_WEBHOOK_ENDPOINTS, T_EVENTS,
	T_WEBHOOK_DELIVERIES, T_LIVE_ENDPOINT, T_EMAIL_VERIFICATIONS,
};

typedef struct table {
	int n;
	const char *from;   /* schema.table */
	const char *key;    /* the column the row's id is in (a uuid, or a text made from it) */
} table;

static const table tables[] = {
	{T_SESSIONS, "identity.sessions", "id::text"},
	{T_EMAIL_CHANGES, "identity.email_changes", "id::text"},
	{T_PASSWORD_RESETS, "identity.password_resets", "id::text"},
	{T_EMAIL_VERIFICATIONS, "identity.email_verifications", "id::text"},
	{T_LOGIN_THROTTLE, "identity.login_throttle", "subject"},
	{T_REQUEST_COUNTERS, "identity.request_counters", "subject"},
	{T_MESSAGES, "notification.messages", "id::text"},
	{T_LINK_JOINS, "invitation.link_joins", "user_id::text"},
	{T_LINK_JOIN_REQUESTS, "invitation.link_join_requests", "id::text"},
	{T_AUDIT_IDENTITY, "identity.audit_log", "id::text"},
	{T_AUDIT_TENANCY, "tenancy.audit_log", "id::text"},
	{T_AUDIT_INVITATION, "invitation.audit_log", "id::text"},
	{T_AUDIT_NOTIFICATION, "notification.audit_log", "id::text"},
	{T_WEBHOOK_ENDPOINTS, "notification.webhook_endpoints", "id::text"},
	{T_EVENTS, "notification.events", "id::text"},
	{T_WEBHOOK_DELIVERIES, "notification.webhook_deliveries", "id::text"},
};

static void put_rows(int age)
{
	const char *ago = ages[age];
	exec("identity",
	     "INSERT INTO identity.sessions (id, user_id, token_hash, expires_at) VALUES"
	     " ('%s', '%s', sha256('%s'), now() - interval '%s')",
	     id(T_SESSIONS, age), owner, id(T_SESSIONS, age), ago);
	exec("identity",
	     "INSERT INTO identity.email_changes (id, user_id, new_email, token_hash, expires_at)"
	     " VALUES ('%s', '%s', 'new%d@example.org', sha256('%s'), now() - interval '%s')",
	     id(T_EMAIL_CHANGES, age), owner, age, id(T_EMAIL_CHANGES, age), ago);
	exec("identity",
	     "INSERT INTO identity.password_resets (id, user_id, email, token_hash, expires_at)"
	     " VALUES ('%s', '%s', 'olivia@acme.example', sha256('%s'), now() - interval '%s')",
	     id(T_PASSWORD_RESETS, age), owner, id(T_PASSWORD_RESETS, age), ago);
	exec("identity",
	     "INSERT INTO identity.email_verifications (id, user_id, email, token_hash, expires_at)"
	     " VALUES ('%s', '%s', 'olivia@acme.example', sha256('%s'), now() - interval '%s')",
	     id(T_EMAIL_VERIFICATIONS, age), owner, id(T_EMAIL_VERIFICATIONS, age), ago);
	exec("identity",
	     "INSERT INTO identity.login_throttle (subject, failures, last_failure_at)"
	     " VALUES (sha256('%s'), 1, now() - interval '%s')",
	     id(T_LOGIN_THROTTLE, age), ago);
	exec("identity",
	     "INSERT INTO identity.request_counters (subject, requests, window_start)"
	     " VALUES (sha256('%s'), 1, now() - interval '%s')",
	     id(T_REQUEST_COUNTERS, age), ago);
	exec("notification",
	     "INSERT INTO notification.messages (id, idempotency_key, template, recipient, subject,"
	     " smtp_message_id, state, created_at, updated_at, sent_at) VALUES ('%s', '%s',"
	     " 'invite', 'x@example.org', 'Invitation', '<%s@test>', 'sent',"
	     " now() - interval '%s', now() - interval '%s', now() - interval '%s')",
	     id(T_MESSAGES, age), id(T_MESSAGES, age), id(T_MESSAGES, age), ago, ago, ago);
	exec("notification",
	     "INSERT INTO notification.attempts (message_id, number, reply, at)"
	     " VALUES ('%s', 1, '250 ok', now() - interval '%s')", id(T_MESSAGES, age), ago);
	exec("invitation",
	     "INSERT INTO invitation.link_joins (link_id, user_id, email, membership_id, joined_at,"
	     " account_id) SELECT '%s', '%s', 'joiner%d@example.org', gen_random_uuid(),"
	     " now() - interval '%s', account_id FROM invitation.links WHERE id = '%s'",
	     link_id, id(T_LINK_JOINS, age), age, ago, link_id);
	exec("invitation",
	     "INSERT INTO invitation.link_join_requests (id, link_id, user_id, email, token_hash,"
	     " state, created_at, expires_at, decided_at, account_id) SELECT '%s', '%s',"
	     " gen_random_uuid(), 'req%d@example.org', sha256('%s'), 'cancelled',"
	     " now() - interval '%s', now() - interval '%s', now() - interval '%s', account_id"
	     " FROM invitation.links WHERE id = '%s'",
	     id(T_LINK_JOIN_REQUESTS, age), link_id, age, id(T_LINK_JOIN_REQUESTS, age), ago, ago,
	     ago, link_id);
	/* A deleted endpoint; an event and its ended delivery (to an endpoint that stays: a
	 * disabled one of another account, so no event of this test is posted to it). */
	exec("notification",
	     "INSERT INTO notification.webhook_endpoints (id, url, sealed_secret, deleted_at)"
	     " VALUES ('%s', 'https://hooks.example.org/%d', 'sealed', now() - interval '%s')",
	     id(T_WEBHOOK_ENDPOINTS, age), age, ago);
	exec("notification",
	     "INSERT INTO notification.events (id, type, account_id, actor, object_type, object_id,"
	     " data, occurred_at, stored_at) VALUES ('%s', 'invitation.created', '%s', 'system',"
	     " 'invitation', gen_random_uuid(), '{}', now() - interval '%s', now() - interval "
	     "'%s')",
	     id(T_EVENTS, age), account, ago, ago);
	exec("notification",
	     "INSERT INTO notification.webhook_endpoints (id, account_id, url, sealed_secret, "
	     "enabled)"
	     " VALUES ('%s', gen_random_uuid(), 'https://hooks.example.org/live', 'sealed', false)"
	     " ON CONFLICT DO NOTHING",
	     id(T_LIVE_ENDPOINT, 0));
	exec("notification",
	     "INSERT INTO notification.webhook_deliveries (id, endpoint_id, event_seq, state,"
	     " created_at, updated_at, account_id) SELECT '%s', '%s', seq, 'succeeded',"
	     " now() - interval '%s', now() - interval '%s', account_id FROM notification.events"
	     " WHERE id = '%s'",
	     id(T_WEBHOOK_DELIVERIES, age), id(T_LIVE_ENDPOINT, 0), ago, ago, id(T_EVENTS, age));
	static const char *const schemas[] = {"identity", "tenancy", "invitation", "notification"};
	for (int s = 0; s < 4; s++)
		exec(schemas[s],
		     "INSERT INTO %s.audit_log (id, account_id, actor_caller, action, subject_type,"
		     " created_at) VALUES ('%s', '%s', 'test', 'test.retention', 'account',"
		     " now() - interval '%s')",
		     schemas[s], id(T_AUDIT_IDENTITY + s, age), account, ago);
}

static long count_row(const table *t, int age)
{
	const char *key = strcmp(t->key, "subject") == 0
	                          ? us_arena_printf(A, "sha256('%s')", id(t->n, age))
	                          : us_arena_printf(A, "'%s'", id(t->n, age));
	return ut_db_number(ut_system_db_of(&sys, t->from), "SELECT count(*) FROM %s WHERE %s = %s",
	                    t->from, t->key, key);
}

/* Invitations: closed ones count from their closing, pending ones from their expiry;
 * a batch goes once its invitations have. Made through the API, then aged. */
static char *invite(const char *email, char **batch)
{
	const char *emails[] = {email};
	Usher__V1__CreateInvitationsReply *reply;
	us_status st;
	if (ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, 1, &reply,
	              &st) != US_OK)
		fail_msg("invite %s: %s", email, st.message);
	*batch = reply->batch_id;
	return reply->results[0]->invitation_id;
}

static void revoke_invitation(const char *invitation)
{
	Usher__V1__InvitationRef req = USHER__V1__INVITATION_REF__INIT;
	req.invitation_id = (char *)invitation;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/Revoke", owner, ut_key(A),
	            &req.base, &usher__v1__revoke_reply__descriptor, A, NULL, &st) != US_OK)
		fail_msg("revoke: %s", st.message);
}

static void restart(int which)
{
	long from = ut_log_lines(&sys.daemons[which]);
	assert_int_equal(ut_system_signal(&sys, which, SIGTERM, WAIT_MS, NULL) != -1, 1);
	ut_system_start(&sys, which);
	if (ut_log_wait(&sys.daemons[which], "upkeep finished", from, WAIT_MS) == 0)
		fail_msg("usher-%sd: no upkeep round after the restart", sys.daemons[which].name);
}

static void test_upkeep_deletes_exactly_what_is_past_its_time(void **state)
{
	(void)state;
	char *old_batch, *recent_batch, *open_batch, *expired_batch;
	char *old_closed = invite("old@example.org", &old_batch);
	char *recent_closed = invite("recent@example.org", &recent_batch);
	char *open = invite("open@example.org", &open_batch);
	char *expired = invite("expired@example.org", &expired_batch);
	revoke_invitation(old_closed);
	revoke_invitation(recent_closed);
	/* An invitation an outbox row still names is never deleted: wait for the relay. */
	for (int i = 0; i < 600 && ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                                        "SELECT count(*) FROM invitation.outbox");
	     i++)
		usleep(100 * 1000);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.outbox"),
	                 0);
	exec("invitation",
	     "UPDATE invitation.invitations SET updated_at = now() - interval '40 days' WHERE id = "
	     "'%s'",
	     old_closed);
	exec("invitation",
	     "UPDATE invitation.invitations SET updated_at = now() - interval '20 days' WHERE id = "
	     "'%s'",
	     recent_closed);
	exec("invitation",
	     "UPDATE invitation.invitations SET created_at = now() - interval '50 days',"
	     " expires_at = now() - interval '40 days' WHERE id = '%s'",
	     expired);
	exec("invitation",
	     "UPDATE invitation.batches SET created_at = now() - interval '50 days'"
	     " WHERE id IN ('%s', '%s', '%s')",
	     old_batch, recent_batch, expired_batch);
	for (int age = 0; age < 3; age++)
		put_rows(age);
	/* An old event whose delivery is still being retried stays, and so does that delivery. */
	const char *retried = "00000000-0000-4000-8000-999999000000";
	exec("notification",
	     "INSERT INTO notification.events (id, type, account_id, actor, object_type, object_id,"
	     " data, occurred_at, stored_at) VALUES ('%s', 'invitation.created', '%s', 'system',"
	     " 'invitation', gen_random_uuid(), '{}', now() - interval '40 days',"
	     " now() - interval '40 days')", retried, account);
	exec("notification",
	     "INSERT INTO notification.webhook_deliveries (endpoint_id, event_seq, next_attempt_at,"
	     " created_at, updated_at, account_id) SELECT '%s', seq, now() + interval '1 hour',"
	     " now() - interval '40 days', now() - interval '40 days', account_id"
	     " FROM notification.events"
	     " WHERE id = '%s'", id(T_LIVE_ENDPOINT, 0), retried);

	restart(UT_IDENTITY);
	restart(UT_TENANCY);
	restart(UT_INVITATION);
	restart(UT_NOTIFICATION);

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		const table *t = &tables[i];
		if (count_row(t, 0) != 0)
			fail_msg("%s: the row past its time is still there", t->from);
		if (count_row(t, 1) != 1 || count_row(t, 2) != 1)
			fail_msg("%s: a row within its time was deleted", t->from);
	}
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                              "SELECT count(*) FROM notification.events e"
	                              " JOIN notification.webhook_deliveries d"
	                              " ON d.event_seq = e.seq WHERE e.id = '%s'",
	                              retried),
	                 1);
	/* A message's attempts go with it. */
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                              "SELECT count(*) FROM notification.attempts"
	                              " WHERE message_id = '%s'",
	                              id(T_MESSAGES, 0)),
	                 0);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                              "SELECT count(*) FROM notification.attempts"
	                              " WHERE message_id = '%s'",
	                              id(T_MESSAGES, 1)),
	                 1);
	/* Invitations and their batches. */
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.invitations"
	                              " WHERE id IN ('%s', '%s')",
	                              old_closed, expired),
	                 0);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.invitations"
	                              " WHERE id IN ('%s', '%s')",
	                              recent_closed, open),
	                 2);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.batches"
	                              " WHERE id IN ('%s', '%s')",
	                              old_batch, expired_batch),
	                 0);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.batches"
	                              " WHERE id IN ('%s', '%s')",
	                              recent_batch, open_batch),
	                 2);
	/* Idempotency keys keep their own retention; the owner's real session is current. */
	assert_true(ut_db_number(ut_system_db(&sys, UT_IDENTITY),
	                         "SELECT count(*) FROM identity.users") >= 1);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "retention");
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s/mail", sys.dir);
	static const char *const settings[] = {
		"AUDIT_RETENTION_DAYS=30",       "SESSION_RETENTION_DAYS=30",
		"TOKEN_RETENTION_DAYS=30",       "THROTTLE_RETENTION_DAYS=30",
		"MESSAGE_RETENTION_DAYS=30",     "INVITATION_RETENTION_DAYS=30",
		"LINK_JOIN_RETENTION_DAYS=30",   "EVENT_RETENTION_DAYS=30",
	};
	sys.extra_env[0] = spool_setting;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		sys.extra_env[1 + i] = settings[i];
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "olivia@acme.example", "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	Usher__V1__EnableLinkRequest req = USHER__V1__ENABLE_LINK_REQUEST__INIT;
	req.account_id = account;
	ProtobufCMessage *reply;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, "usher.v1.InvitationService/EnableLink", owner, ut_key(A),
	            &req.base, &usher__v1__link_reply__descriptor, A, &reply, &st) != US_OK)
		fail_msg("enable link: %s", st.message);
	link_id = ((Usher__V1__LinkReply *)reply)->link->id;
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
		cmocka_unit_test(test_upkeep_deletes_exactly_what_is_past_its_time),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
