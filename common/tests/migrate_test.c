/* Migrations: daemons starting together apply each migration exactly once, and a
 * migration edited after it was applied stops the daemon. Also the session every
 * connection gets (us_db_connect), which migrations rely on. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/db.h"
#include "harness.h"
#include "common/migrate.h"

/* Not idempotent on purpose: a second run of either would fail or add a row. */
static const char m1[] = "CREATE TABLE applied (migration text NOT NULL);\n"
                         "INSERT INTO applied VALUES ('0001');";
static const char m2[] = "INSERT INTO applied VALUES ('0002');\n"
                         "SELECT pg_sleep(0.05);";
static const us_migration migrations[] = {
	{"0001_create", m1, sizeof(m1) - 1},
	{"0002_insert", m2, sizeof(m2) - 1},
	{NULL, NULL, 0},
};

typedef struct runner {
	const char *url;
	us_err rc;
	int applied;
	char err[256];
} runner;

static void *migrate_thread(void *arg)
{
	runner *r = arg;
	PGconn *conn;
	r->rc = us_db_connect(r->url, "tenancy", &conn, r->err, sizeof(r->err));
	if (r->rc != US_OK)
		return NULL;
	r->rc = us_migrate(conn, "tenancy", migrations, &r->applied, r->err, sizeof(r->err));
	PQfinish(conn);
	return NULL;
}

static long long scalar(const ut_db *db, const char *sql)
{
	PGconn *conn = ut_db_admin(db);
	PGresult *res = PQexec(conn, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	long long v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return v;
}

static void test_concurrent_migrations_apply_once(void **state)
{
	(void)state;
	/* Several rounds on fresh databases, two migrators racing in each. */
	for (int round = 0; round < 5; round++) {
		ut_db db;
		ut_db_create(&db, "migrate");
		char url[512];
		ut_db_role_url(&db, "tenancy", url, sizeof(url));
		runner a = {.url = url}, b = {.url = url};
		pthread_t ta, tb;
		pthread_create(&ta, NULL, migrate_thread, &a);
		pthread_create(&tb, NULL, migrate_thread, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		if (a.rc != US_OK || b.rc != US_OK)
			fail_msg("migrate failed: %s / %s", a.err, b.err);
		/* Between them: the common migrations (three) and both of ours, once each. */
		assert_int_equal(a.applied + b.applied, 5);
		assert_int_equal(scalar(&db, "SELECT count(*) FROM tenancy.applied"), 2);
		assert_int_equal(scalar(&db, "SELECT count(*) FROM tenancy.schema_migrations"), 5);

		/* Running again applies nothing. */
		runner c = {.url = url};
		migrate_thread(&c);
		assert_int_equal(c.rc, US_OK);
		assert_int_equal(c.applied, 0);
		ut_db_drop(&db);
	}
}

static void test_changed_migration_is_refused(void **state)
{
	(void)state;
	ut_db db;
	ut_db_create(&db, "migrate_changed");
	char url[512];
	ut_db_role_url(&db, "tenancy", url, sizeof(url));
	runner r = {.url = url};
	migrate_thread(&r);
	assert_int_equal(r.rc, US_OK);

	static const char edited[] = "CREATE TABLE applied (migration text);";
	const us_migration changed[] = {
		{"0001_create", edited, sizeof(edited) - 1},
		{NULL, NULL, 0},
	};
	char err[256];
	PGconn *conn;
	assert_int_equal(us_db_connect(url, "tenancy", &conn, err, sizeof(err)), US_OK);
	assert_int_equal(us_migrate(conn, "tenancy", changed, NULL, err, sizeof(err)),
	                 US_EPRECONDITION);
	assert_non_null(strstr(err, "0001_create"));
	PQfinish(conn);
	ut_db_drop(&db);
}

static void test_connection_session_settings(void **state)
{
	(void)state;
	ut_db db;
	ut_db_create(&db, "migrate_session");
	char url[512];
	ut_db_role_url(&db, "tenancy", url, sizeof(url));
	char err[256];
	PGconn *conn;
	assert_int_equal(us_db_connect(url, "tenancy", &conn, err, sizeof(err)), US_OK);
	PGresult *res = PQexec(conn, "SELECT current_setting('search_path'), "
	                             "current_setting('TimeZone'), current_setting('jit')");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "tenancy");
	assert_string_equal(PQgetvalue(res, 0, 1), "UTC");
	assert_string_equal(PQgetvalue(res, 0, 2), "off");
	PQclear(res);
	PQfinish(conn);
	ut_db_drop(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_migrations_apply_once),
		cmocka_unit_test(test_changed_migration_is_refused),
		cmocka_unit_test(test_connection_session_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
