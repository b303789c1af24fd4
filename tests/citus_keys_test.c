/* Ready to shard by account (issue 17, docs/scaling.md): after every service's migrations,
 * each table of the four schemas is either tenant-owned, carrying its account in a NOT NULL
 * column that every primary key and unique index includes (so Citus can distribute it by
 * that column and enforce each key on one shard), or listed below as global with why. A
 * new table that is neither fails the test, and so does a listed table that is gone: the
 * list cannot silently go stale. The others show that a token, which arrives without its
 * account, is routed to it; that the upgrade fills in the account of rows written before
 * it (the invitation schema is migrated in two steps, rows in between); and, last, the
 * check failing on bad tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "common/db.h"
#include "common/migrate.h"
#include "harness.h"

extern const us_migration identity_migrations[];
extern const us_migration tenancy_migrations[];
extern const us_migration invitation_migrations[];
extern const us_migration notification_migrations[];

static const struct {
	const char *schema;
	const us_migration *migrations;
} SERVICES[] = {
	{"identity", identity_migrations},
	{"tenancy", tenancy_migrations},
	{"invitation", invitation_migrations},
	{"notification", notification_migrations},
};

/* Tables that are not distributed by account, and why. "global": a table of its service's
 * own cluster (in Citus, a local table on the coordinator, or distributed by its own key,
 * never co-located with accounts); "reference": small and read with every account's rows,
 * replicated to every node. */
static const struct {
	const char *schema, *table, *kind, *why;
} GLOBAL_TABLES[] = {
	/* In every schema (common/migrations). */
	{"*", "schema_migrations", "global", "which migrations ran: the schema's own bookkeeping"},
	{"*", "idempotency_keys", "global",
	 "keyed by caller, actor, method and key; a retry carries no account to route by"},
	{"*", "audit_log", "global",
	 "account_id is NULL for changes made outside an account (principals, operators, "
	 "erasures); append-only, no key but its id; distributed by id, reads by account fan out"},
	/* identityd: people are global, by user id; one person belongs to many accounts. */
	{"identity", "users", "global", "a person, by user id; emails are unique platform-wide"},
	{"identity", "sessions", "global", "a user's sessions, by token hash and user id"},
	{"identity", "email_changes", "global", "a user's pending address change, by token hash"},
	{"identity", "password_resets", "global", "a user's reset links, by token hash"},
	{"identity", "email_verifications", "global", "a user's verification links, by token hash"},
	{"identity", "login_throttle", "global", "failed logins per hashed address or network"},
	{"identity", "request_counters", "global", "requests per hashed address or network"},
	{"identity", "principals", "global", "service principals span accounts (all_accounts)"},
	{"identity", "principal_keys", "global", "a principal's public keys, by key"},
	/* invitationd */
	{"invitation", "erasures", "global", "a DeleteUser saga: one per user, across accounts"},
	{"invitation", "token_routes", "global",
	 "token hash -> account: routes a token that arrives without its account; distributed "
	 "by token_hash, not co-located"},
	/* notificationd: the email queue is per recipient, not per account. */
	{"notification", "messages", "global",
	 "the email queue, by message id and idempotency key; a message goes to an address, "
	 "not to an account"},
	{"notification", "attempts", "global", "a message's delivery attempts (with messages)"},
	{"notification", "suppressions", "global", "addresses refused for good, platform-wide"},
	{"notification", "webhook_endpoints", "reference",
	 "few rows, read with every event; account_id NULL for a global endpoint"},
};

/* Tenant-owned tables whose account is in another column than account_id. */
static const struct {
	const char *schema, *table, *column;
} ACCOUNT_COLUMN[] = {
	{"tenancy", "accounts", "id"},
};

static ut_db db;

static const char *account_column(const char *schema, const char *table)
{
	for (size_t i = 0; i < sizeof(ACCOUNT_COLUMN) / sizeof(ACCOUNT_COLUMN[0]); i++) {
		if (strcmp(ACCOUNT_COLUMN[i].schema, schema) == 0 &&
		    strcmp(ACCOUNT_COLUMN[i].table, table) == 0)
			return ACCOUNT_COLUMN[i].column;
	}
	return "account_id";
}

static int global_entry(const char *schema, const char *table)
{
	for (size_t i = 0; i < sizeof(GLOBAL_TABLES) / sizeof(GLOBAL_TABLES[0]); i++) {
		if ((strcmp(GLOBAL_TABLES[i].schema, "*") == 0 ||
		     strcmp(GLOBAL_TABLES[i].schema, schema) == 0) &&
		    strcmp(GLOBAL_TABLES[i].table, table) == 0)
			return (int)i;
	}
	return -1;
}

static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	return res;
}

static void add_problem(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_problem(char *out, size_t size, const char *fmt, ...)
{
	size_t len = strlen(out);
	if (len + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out + len, size - len, fmt, ap);
	va_end(ap);
	len = strlen(out);
	if (len + 1 < size)
		strcat(out, "\n");
}

/* Checks every table of the four schemas; out gets one line per problem. Returns how many. */
static int check_keys(PGconn *c, char *out, size_t size)
{
	out[0] = '\0';
	int problems = 0;
	bool listed_seen[sizeof(GLOBAL_TABLES) / sizeof(GLOBAL_TABLES[0])] = {0};
	PGresult *tables = query(c,
	                         "SELECT n.nspname, c.relname FROM pg_class c"
	                         " JOIN pg_namespace n ON n.oid = c.relnamespace"
	                         " WHERE n.nspname IN ('identity', 'tenancy', 'invitation', 'notification')"
	                         "  AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
	                         " ORDER BY 1, 2",
	                         0, NULL);
	for (int t = 0; t < PQntuples(tables); t++) {
		const char *schema = PQgetvalue(tables, t, 0), *table = PQgetvalue(tables, t, 1);
		int listed = global_entry(schema, table);
		if (listed >= 0) {
			listed_seen[listed] = true;
			continue;
		}
		const char *column = account_column(schema, table);
		const char *params[] = {schema, table, column};
		PGresult *col = query(c,
		                      "SELECT a.attnotnull FROM pg_attribute a"
		                      " WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass"
		                      "  AND a.attname = $3 AND NOT a.attisdropped",
		                      3, params);
		if (PQntuples(col) == 0) {
			problems++;
			add_problem(out, size, "%s.%s: no %s column and not listed as global", schema,
			            table, column);
			PQclear(col);
			continue;
		}
		if (strcmp(PQgetvalue(col, 0, 0), "t") != 0) {
			problems++;
			add_problem(out, size, "%s.%s: %s may be NULL", schema, table, column);
		}
		PQclear(col);
		/* Key columns only: an INCLUDE column takes no part in uniqueness. */
		PGresult *keys = query(c,
		                       "SELECT i.indexrelid::regclass::text FROM pg_index i"
		                       " WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass"
		                       "  AND i.indisunique AND NOT EXISTS ("
		                       "   SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid"
		                       "    AND a.attname = $3"
		                       "    AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))"
		                       " ORDER BY 1",
		                       3, params);
		for (int k = 0; k < PQntuples(keys); k++) {
			problems++;
			add_problem(out, size, "%s.%s: unique index %s lacks %s", schema, table,
			            PQgetvalue(keys, k, 0), column);
		}
		PQclear(keys);
	}
	PQclear(tables);
	for (size_t i = 0; i < sizeof(GLOBAL_TABLES) / sizeof(GLOBAL_TABLES[0]); i++) {
		if (!listed_seen[i]) {
			problems++;
			add_problem(out, size, "%s.%s: listed as %s but no such table", GLOBAL_TABLES[i].schema,
			            GLOBAL_TABLES[i].table, GLOBAL_TABLES[i].kind);
		}
	}
	return problems;
}

static void migrate(PGconn *c, const char *schema, const us_migration *migrations)
{
	char err[512];
	if (us_migrate(c, schema, migrations, NULL, err, sizeof(err)) != US_OK)
		fail_msg("migrating %s: %s", schema, err);
}

static void run(PGconn *c, const char *sql);

/* Rows written before the keys changed, whose account the upgrade must fill in. */
#define OLD_LINK "00000000-0000-4000-8000-00000000011e"
#define OLD_ACCOUNT "00000000-0000-4000-8000-0000000001a1"

static void write_old_rows(PGconn *c)
{
	run(c, "INSERT INTO batches (id, account_id, account_name, invited_by, inviter_name,"
	       " inviter_email, role, organization) VALUES ('00000000-0000-4000-8000-0000000001b1',"
	       " '" OLD_ACCOUNT "', 'Old', gen_random_uuid(), 'I', 'i@x.org', 1, true)");
	run(c, "INSERT INTO invitations (batch_id, account_id, email, token_hash, existing_user,"
	       " expires_at) VALUES ('00000000-0000-4000-8000-0000000001b1', '" OLD_ACCOUNT "',"
	       " 'old@x.org', sha256('old-inv'::bytea), false, now() + interval '1 day')");
	run(c, "INSERT INTO outbox (kind, invitation_id, send_number)"
	       " SELECT 'invite', id, 1 FROM invitations WHERE email = 'old@x.org'");
	run(c, "INSERT INTO links (id, account_id, account_name, created_by, token_hash,"
	       " sealed_token) VALUES ('" OLD_LINK "', '" OLD_ACCOUNT "', 'Old', gen_random_uuid(),"
	       " sha256('old-link'::bytea), 'sealed')");
	run(c, "INSERT INTO link_join_requests (id, link_id, user_id, email, token_hash, expires_at)"
	       " VALUES ('00000000-0000-4000-8000-0000000001c1', '" OLD_LINK "', gen_random_uuid(),"
	       " 'j@x.org', sha256('old-join'::bytea), now() + interval '1 day')");
	run(c, "INSERT INTO link_claims (link_id, email, use_number, request_hash, join_request_id)"
	       " VALUES ('" OLD_LINK "', 'j@x.org', 1, 'h', '00000000-0000-4000-8000-0000000001c1')");
	run(c, "INSERT INTO link_joins (link_id, user_id, email, membership_id)"
	       " VALUES ('" OLD_LINK "', gen_random_uuid(), 'k@x.org', gen_random_uuid())");
}

static int setup(void **state)
{
	(void)state;
	ut_db_create(&db, "citus");
	for (size_t i = 0; i < sizeof(SERVICES) / sizeof(SERVICES[0]); i++) {
		char url[512], err[512];
		ut_db_role_url(&db, SERVICES[i].schema, url, sizeof(url));
		PGconn *c = NULL;
		if (us_db_connect(url, SERVICES[i].schema, &c, err, sizeof(err)) != US_OK)
			fail_msg("connecting as %s: %s", SERVICES[i].schema, err);
		if (SERVICES[i].migrations == invitation_migrations) {
			/* An upgrade: the migrations before the keys changed, rows, then the rest. */
			static us_migration before[64];
			size_t n = 0;
			for (const us_migration *m = invitation_migrations; m->name != NULL; m++) {
				if (strcmp(m->name, "0040") < 0 && n + 1 < sizeof(before) / sizeof(before[0]))
					before[n++] = *m;
			}
			migrate(c, "invitation", before);
			write_old_rows(c);
		}
		migrate(c, SERVICES[i].schema, SERVICES[i].migrations);
		PQfinish(c);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_db_drop(&db);
	return 0;
}

static void test_every_tenant_owned_key_includes_the_account(void **state)
{
	(void)state;
	PGconn *c = ut_db_admin(&db);
	char problems[8192];
	int n = check_keys(c, problems, sizeof(problems));
	PQfinish(c);
	if (n != 0)
		fail_msg("%d table(s) not ready to shard by account:\n%s", n, problems);
}

/* The check itself: a key without the account, a unique index carrying it only as an
 * INCLUDE column, a nullable account, and a table neither tenant-owned nor listed. */
static void test_the_check_refuses_bad_tables(void **state)
{
	(void)state;
	ut_db_admin_exec(&db,
	                 "CREATE TABLE invitation.probe_pk (id uuid PRIMARY KEY,"
	                 " account_id uuid NOT NULL);"
	                 "CREATE TABLE invitation.probe_include (account_id uuid NOT NULL, id uuid,"
	                 " email text, PRIMARY KEY (id, account_id));"
	                 "CREATE UNIQUE INDEX probe_include_email ON invitation.probe_include (email)"
	                 " INCLUDE (account_id);"
	                 "CREATE TABLE tenancy.probe_nullable (account_id uuid, id uuid,"
	                 " UNIQUE (account_id, id));"
	                 "CREATE TABLE notification.probe_unlisted (id uuid PRIMARY KEY);"
	                 "DROP TABLE invitation.token_routes CASCADE");
	PGconn *c = ut_db_admin(&db);
	char problems[8192];
	int n = check_keys(c, problems, sizeof(problems));
	PQfinish(c);
	const char *expected[] = {
		"invitation.probe_pk: unique index invitation.probe_pk_pkey lacks account_id",
		"invitation.probe_include: unique index invitation.probe_include_email lacks account_id",
		"tenancy.probe_nullable: account_id may be NULL",
		"notification.probe_unlisted: no account_id column and not listed as global",
		"invitation.token_routes: listed as global but no such table",
	};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		if (strstr(problems, expected[i]) == NULL)
			fail_msg("the check missed \"%s\"; it said:\n%s", expected[i], problems);
	}
	assert_int_equal(n, (int)(sizeof(expected) / sizeof(expected[0])));
	ut_db_admin_exec(&db, "DROP TABLE invitation.probe_pk, invitation.probe_include,"
	                      " tenancy.probe_nullable, notification.probe_unlisted");
}

static long number(PGconn *c, const char *sql)
{
	PGresult *res = query(c, sql, 0, NULL);
	long v = PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	return v;
}

static void run(PGconn *c, const char *sql)
{
	PQclear(query(c, sql, 0, NULL));
}

/* Every stored token gets a route to its account, written by the table's own triggers (so
 * a batch, a resend and a COPY all do), a resend's new token is routed too, and a token
 * hash stays unique (the tables' own token indexes no longer are). */
static void test_tokens_are_routed_to_their_account(void **state)
{
	(void)state;
	char url[512], err[512];
	ut_db_role_url(&db, "invitation", url, sizeof(url));
	PGconn *c = NULL;
	if (us_db_connect(url, "invitation", &c, err, sizeof(err)) != US_OK)
		fail_msg("connecting: %s", err);
	run(c, "INSERT INTO batches (id, account_id, account_name, invited_by, inviter_name,"
	       " inviter_email, role, organization) VALUES ('00000000-0000-4000-8000-0000000000b1',"
	       " '00000000-0000-4000-8000-0000000000a1', 'A', gen_random_uuid(), 'I', 'i@x.org', 1,"
	       " true)");
	run(c, "INSERT INTO invitations (batch_id, account_id, email, token_hash, existing_user,"
	       " expires_at) SELECT '00000000-0000-4000-8000-0000000000b1',"
	       " '00000000-0000-4000-8000-0000000000a1', 'p' || g || '@x.org',"
	       " sha256(('inv' || g)::bytea), false, now() + interval '1 day'"
	       " FROM generate_series(1, 3) g");
	run(c, "INSERT INTO links (id, account_id, account_name, created_by, token_hash,"
	       " sealed_token) VALUES ('00000000-0000-4000-8000-00000000001e',"
	       " '00000000-0000-4000-8000-0000000000a2', 'B', gen_random_uuid(),"
	       " sha256('link'::bytea), 'sealed')");
	run(c, "INSERT INTO link_join_requests (link_id, account_id, user_id, email, token_hash,"
	       " expires_at) VALUES ('00000000-0000-4000-8000-00000000001e',"
	       " '00000000-0000-4000-8000-0000000000a2', gen_random_uuid(), 'j@x.org',"
	       " sha256('join'::bytea), now() + interval '1 day')");
	assert_int_equal(number(c, "SELECT count(*) FROM token_routes WHERE account_id ="
	                           " '00000000-0000-4000-8000-0000000000a1'"),
	                 3);
	assert_int_equal(number(c, "SELECT count(*) FROM token_routes WHERE account_id ="
	                           " '00000000-0000-4000-8000-0000000000a2' AND token_hash IN"
	                           " (sha256('link'::bytea), sha256('join'::bytea))"),
	                 2);
	/* A resend's new token; the lookup store.c makes (ROUTED) finds it by its route. */
	run(c, "UPDATE invitations SET token_hash = sha256('resent'::bytea)"
	       " WHERE token_hash = sha256('inv1'::bytea)");
	assert_int_equal(number(c, "SELECT count(*) FROM invitations i"
	                           " WHERE i.token_hash = sha256('resent'::bytea) AND i.account_id ="
	                           " (SELECT account_id FROM token_routes"
	                           "  WHERE token_hash = sha256('resent'::bytea))"),
	                 1);
	/* The routes' key keeps a token hash unique, across accounts and tables alike. */
	PGresult *dup = PQexec(c, "INSERT INTO links (account_id, account_name, created_by,"
	                          " token_hash, sealed_token) VALUES (gen_random_uuid(), 'C',"
	                          " gen_random_uuid(), sha256('inv2'::bytea), 'sealed')");
	assert_int_equal(PQresultStatus(dup), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(dup, PG_DIAG_CONSTRAINT_NAME), "token_routes_pkey");
	PQclear(dup);
	/* A token no route knows finds nothing (not every account's rows). */
	assert_int_equal(number(c, "SELECT count(*) FROM invitations i"
	                           " WHERE i.account_id = (SELECT account_id FROM token_routes"
	                           "  WHERE token_hash = sha256('unknown'::bytea))"),
	                 0);
	PQfinish(c);
}

/* The upgrade gave the rows written before it their account, and their tokens routes. */
static void test_the_upgrade_fills_in_accounts_and_routes(void **state)
{
	(void)state;
	PGconn *c = ut_db_admin(&db);
	assert_int_equal(number(c, "SELECT (SELECT count(*) FROM invitation.outbox"
	                           "  WHERE account_id = '" OLD_ACCOUNT "')"
	                           " + (SELECT count(*) FROM invitation.link_join_requests"
	                           "  WHERE account_id = '" OLD_ACCOUNT "')"
	                           " + (SELECT count(*) FROM invitation.link_claims"
	                           "  WHERE account_id = '" OLD_ACCOUNT "')"
	                           " + (SELECT count(*) FROM invitation.link_joins"
	                           "  WHERE account_id = '" OLD_ACCOUNT "')"),
	                 4);
	assert_int_equal(number(c, "SELECT count(*) FROM invitation.token_routes"
	                           " WHERE account_id = '" OLD_ACCOUNT "' AND token_hash IN"
	                           " (sha256('old-inv'::bytea), sha256('old-link'::bytea),"
	                           "  sha256('old-join'::bytea))"),
	                 3);
	PQfinish(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_tenant_owned_key_includes_the_account),
		cmocka_unit_test(test_tokens_are_routed_to_their_account),
		cmocka_unit_test(test_the_upgrade_fills_in_accounts_and_routes),
		/* Last: it drops a table. */
		cmocka_unit_test(test_the_check_refuses_bad_tables),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
