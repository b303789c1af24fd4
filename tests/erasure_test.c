/* DeleteUser against the five real daemons: a person with a membership, a session, a
 * role change, invitations sent and received, emails, a link and a suppression is erased
 * while usher-invitationd is killed (SIGKILL) in the middle of the saga; after a restart
 * the recovery loop finishes it. Then no table of any schema holds their email or name
 * (every column, bytea included), the audit rows that named them name the pseudonym, and
 * nobody else lost anything. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "calls.h"
#include "harness.h"
#include "usher/v1/erasure.pb-c.h"

#define PASSWORD "correct horse battery"
#define ERIN_EMAIL "erin.quixote@example.org"
#define ERIN_NAME "Erin Zyxwvut"
#define WAIT_MS 60000

static ut_system sys;
static us_arena *A;
static char spool[256];
static char *owner, *account, *other_account, *erin, *carol_invitation;
static char fault_setting[128];

/* The tables of the four schemas holding needle in any column (text as is, bytea as its
 * bytes), as "schema.table" names joined by spaces; "" when none. Each schema is searched
 * in its own service's database. */
static char *tables_holding(const char *needle)
{
	static const char *const schemas[] = {"identity", "tenancy", "invitation", "notification"};
	char *out = "";
	for (int s = 0; s < 4; s++) {
		PGconn *conn = ut_db_admin(ut_system_db_of(&sys, schemas[s]));
		const char *params[] = {needle, schemas[s]};
		PGresult *res = PQexecParams(
		        conn,
		        "SELECT coalesce(string_agg(s || '.' || t, ' '), '') FROM ("
		        " SELECT table_schema AS s, table_name AS t, (xpath('/row/n/text()',"
		        "  query_to_xml(format('SELECT count(*) AS n FROM %I.%I x WHERE"
		        "   strpos(lower(x::text), %L) > 0 OR strpos(x::text, %L) > 0',"
		        "   table_schema, table_name, lower($1), encode(convert_to($1, 'UTF8'), "
		        "'hex')),"
		        "  false, true, '')))[1]::text::int AS n"
		        " FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
		        " AND table_schema = $2) x"
		        " WHERE n > 0",
		        2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail_msg("%s", PQresultErrorMessage(res));
		const char *found = PQgetvalue(res, 0, 0);
		if (found[0] != '\0')
			out = us_arena_printf(A, "%s%s%s", out, out[0] ? " " : "", found);
		PQclear(res);
		PQfinish(conn);
	}
	return out;
}

/* A number from the database of schema. */
#define number(schema, ...) ut_db_number(ut_system_db_of(&sys, schema), __VA_ARGS__)

static void call_ok(int daemon, const char *method, const char *actor, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *type, ProtobufCMessage **reply)
{
	us_status st;
	if (ut_call(&sys, daemon, method, actor, ut_key(A), req, type, A, reply, &st) != US_OK)
		fail_msg("%s: %s", method, st.message);
}

/* Erin's life in Usher: everything DeleteUser must reach. */
static void give_erin_a_past(void)
{
	ut_grant(&sys, A, account, erin, USHER__V1__ROLE__ROLE_MEMBER, NULL);
	(void)ut_login(&sys, A, ERIN_EMAIL, PASSWORD);
	Usher__V1__ChangeRoleRequest cr = USHER__V1__CHANGE_ROLE_REQUEST__INIT;
	cr.account_id = account;
	cr.user_id = erin;
	cr.role = USHER__V1__ROLE__ROLE_OWNER;
	call_ok(UT_TENANCY, "usher.v1.TenancyService/ChangeRole", owner, &cr.base,
	        &usher__v1__change_role_reply__descriptor, NULL);
	/* She invites Carol (her name and address go into the batch and Carol's email)... */
	const char *carol[] = {"carol@example.org"};
	Usher__V1__CreateInvitationsReply *inv;
	us_status st;
	if (ut_invite(&sys, A, erin, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, carol, 1, &inv,
	              &st) != US_OK)
		fail_msg("erin invites: %s", st.message);
	carol_invitation = inv->results[0]->invitation_id;
	/* ...and is invited to another account, which emails her. */
	const char *her[] = {ERIN_EMAIL};
	if (ut_invite(&sys, A, owner, other_account, USHER__V1__ROLE__ROLE_MEMBER, NULL, her, 1, &inv,
	              &st) != US_OK)
		fail_msg("invite erin: %s", st.message);
	Usher__V1__EnableLinkRequest el = USHER__V1__ENABLE_LINK_REQUEST__INIT;
	el.account_id = account;
	call_ok(UT_INVITATION, "usher.v1.InvitationService/EnableLink", erin, &el.base,
	        &usher__v1__link_reply__descriptor, NULL);
	ut_email mail;
	assert_true(ut_wait_email(spool, A, ERIN_EMAIL, NULL, 0, WAIT_MS, &mail));
	assert_true(ut_wait_email(spool, A, "carol@example.org", NULL, 0, WAIT_MS, &mail));
	ut_db_admin_exec(ut_system_db(&sys, UT_NOTIFICATION),
	                 "INSERT INTO notification.suppressions (email, reason)"
	                 " VALUES ('" ERIN_EMAIL "', '550 test')");
	/* Everything is in place: the grep finds her, so it can find her. */
	assert_string_not_equal(tables_holding(ERIN_EMAIL), "");
	assert_string_not_equal(tables_holding(ERIN_NAME), "");
	assert_true(number("tenancy",
	                   "SELECT count(*) FROM tenancy.audit_log WHERE subject_id = '%s'",
	                   erin) >= 2);
	assert_true(number("invitation",
	                   "SELECT count(*) FROM invitation.audit_log WHERE actor_user_id = '%s'",
	                   erin) >= 2);
}

static void *delete_erin(void *arg)
{
	(void)arg;
	Usher__V1__DeleteUserRequest req = USHER__V1__DELETE_USER_REQUEST__INIT;
	req.user_id = erin;
	us_status st;
	us_arena *a = us_arena_new();
	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts opts = {.url = sys.daemons[UT_INVITATION].url, .caller = "test"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	/* The daemon dies under it, and the call gives up before it is restarted: only the
	 * recovery loop can finish the saga. */
	us_rpc_call_opts call = {.timeout_ms = 3000};
	ProtobufCMessage *reply;
	us_err rc = us_rpc_call(c, "usher.v1.ErasureService/DeleteUser", &call, &req.base,
	                        &usher__v1__delete_user_reply__descriptor, a, &reply, &st);
	assert_int_not_equal(rc, US_OK);
	us_rpc_client_close(c);
	us_status_clear(&st);
	us_arena_free(a);
	return NULL;
}

static void test_delete_user_survives_a_kill_and_leaves_nothing(void **state)
{
	(void)state;
	give_erin_a_past();
	long audit_rows = number("tenancy",
	                         "SELECT (SELECT count(*) FROM tenancy.audit_log WHERE"
	                         " actor_user_id = '%s' OR subject_id = '%s')",
	                         erin, erin) +
	                  number("invitation",
	                         "SELECT (SELECT count(*) FROM invitation.audit_log WHERE"
	                         " actor_user_id = '%s' OR subject_id = '%s')",
	                         erin, erin);

	/* usher-invitationd dies after identityd and tenancyd have done their part. */
	assert_int_not_equal(ut_system_signal(&sys, UT_INVITATION, SIGTERM, WAIT_MS, NULL), -1);
	snprintf(fault_setting, sizeof(fault_setting), "USHER_FAULT=erasure.after_tenancy");
	sys.extra_env[2] = fault_setting;
	ut_system_start(&sys, UT_INVITATION);
	sys.extra_env[2] = NULL;
	long from = ut_log_lines(&sys.daemons[UT_INVITATION]);
	pthread_t t;
	pthread_create(&t, NULL, delete_erin, NULL);
	int status = ut_system_wait(&sys, UT_INVITATION, WAIT_MS);
	if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("usher-invitationd was not killed in the middle of the erasure");
	assert_true(ut_log_wait(&sys.daemons[UT_INVITATION], "fault injected", from, 0) > 0);
	/* Half done: she is gone from identityd, her saga is not finished. */
	assert_int_equal(
	        number("identity", "SELECT count(*) FROM identity.users WHERE id = '%s'", erin), 0);
	assert_int_equal(number("invitation",
	                        "SELECT count(*) FROM invitation.erasures WHERE user_id = '%s'"
	                        " AND state = 'erasing'",
	                        erin),
	                 1);

	pthread_join(t, NULL);
	from = ut_log_lines(&sys.daemons[UT_INVITATION]);
	ut_system_start(&sys, UT_INVITATION);
	if (ut_log_wait(&sys.daemons[UT_INVITATION], "user erased", from, WAIT_MS) == 0)
		fail_msg("the recovery loop did not finish the erasure");

	/* Asking again says it is done, under the same pseudonym. */
	Usher__V1__DeleteUserRequest req = USHER__V1__DELETE_USER_REQUEST__INIT;
	req.user_id = erin;
	ProtobufCMessage *reply;
	call_ok(UT_INVITATION, "usher.v1.ErasureService/DeleteUser", NULL, &req.base,
	        &usher__v1__delete_user_reply__descriptor, &reply);
	const Usher__V1__DeleteUserReply *done = (const Usher__V1__DeleteUserReply *)reply;
	assert_string_equal(done->state, "done");
	/* usherctl says the same; a user nobody knows is NOT_FOUND (exit 1). */
	char bin[512], *out = NULL;
	ut_bin("usherctl", bin, sizeof(bin));
	char *argv[] = {bin, "users", "delete", erin, NULL};
	assert_int_equal(ut_run(argv, NULL, false, &out), 0);
	assert_non_null(strstr(out, done->pseudonym_id));
	free(out);
	char *unknown[] = {bin, "users", "delete", "00000000-0000-4000-8000-000000000001", NULL};
	assert_int_equal(ut_run(unknown, NULL, true, &out), 1);
	assert_non_null(strstr(out, "no such user"));
	free(out);

	/* Nothing of her anywhere. */
	char *left = tables_holding(ERIN_EMAIL);
	if (left[0] != '\0')
		fail_msg("her email is still in: %s", left);
	left = tables_holding(ERIN_NAME);
	if (left[0] != '\0')
		fail_msg("her name is still in: %s", left);
	static const char *const schemas[] = {"identity", "tenancy", "invitation", "notification"};
	long pseudonymised = 0;
	for (int s = 0; s < 4; s++) {
		assert_int_equal(
		        number(schemas[s],
		               "SELECT count(*) FROM %s.audit_log WHERE actor_user_id = '%s'"
		               " OR subject_id = '%s'",
		               schemas[s], erin, erin),
		        0);
		pseudonymised +=
		        number(schemas[s],
		               "SELECT count(*) FROM %s.audit_log WHERE actor_user_id = '%s'"
		               " OR subject_id = '%s'",
		               schemas[s], done->pseudonym_id, done->pseudonym_id);
	}
	assert_int_equal(pseudonymised, audit_rows);
	assert_int_equal(ut_count_memberships(&sys, A, account, erin), 0);

	/* Nobody else lost anything: the owner, the account, Carol's invitation (Erin's batch
	 * now names the pseudonym). */
	assert_int_equal(
	        number("identity", "SELECT count(*) FROM identity.users WHERE id = '%s'", owner),
	        1);
	assert_int_equal(ut_count_memberships(&sys, A, account, owner), 1);
	assert_int_equal(
	        number("invitation",
	               "SELECT count(*) FROM invitation.invitations i JOIN invitation.batches b"
	               " ON b.id = i.batch_id WHERE i.id = '%s' AND b.invited_by = '%s'",
	               carol_invitation, done->pseudonym_id),
	        1);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "erasure");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	static char spool_setting[300];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s", spool);
	sys.extra_env[0] = spool_setting;
	sys.extra_env[1] = "RECOVERY_INTERVAL_MS=200";
	ut_system_start_all(&sys);
	ut_system_export_urls(&sys);
	owner = ut_create_user(&sys, A, "olivia@acme.example", "Olivia Owner", PASSWORD);
	erin = ut_create_user(&sys, A, ERIN_EMAIL, ERIN_NAME, PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	other_account = ut_create_account(&sys, A, owner, "Other Team", "texting");
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
		cmocka_unit_test(test_delete_user_survives_a_kill_and_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
