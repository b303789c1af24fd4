/* The five daemons as real processes against a real Postgres: they report healthy
 * through usherctl, each role is kept out of the other schemas, bad settings stop a
 * daemon with one clear line, and SIGTERM stops each one cleanly (exit 0). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/clock.h"
#include "harness.h"
#include "common/transport.h"

static const char *const schemas[] = {"identity", "tenancy", "invitation", "notification"};

static void test_health_through_usherctl(void **state)
{
	ut_system *sys = *state;
	ut_system_export_urls(sys);
	char bin[512];
	ut_bin("usherctl", bin, sizeof(bin));

	char *out = NULL;
	char *table[] = {bin, "health", NULL};
	assert_int_equal(ut_run(table, NULL, false, &out), 0);
	assert_non_null(strstr(out, "usher-identityd"));
	free(out);

	char *one[] = {bin, "health", "tenancy", NULL};
	assert_int_equal(ut_run(one, NULL, false, &out), 0);
	assert_non_null(strstr(out, "usher-tenancyd"));
	assert_null(strstr(out, "usher-identityd"));
	free(out);

	char *json_args[] = {bin, "health", "--json", NULL};
	assert_int_equal(ut_run(json_args, NULL, false, &out), 0);
	json_error_t jerr;
	json_t *doc = json_loads(out, 0, &jerr);
	if (doc == NULL)
		fail_msg("usherctl --json printed no JSON: %s\n%s", jerr.text, out);
	free(out);
	assert_true(json_is_true(json_object_get(doc, "healthy")));
	json_t *daemons = json_object_get(doc, "daemons");
	assert_int_equal(json_array_size(daemons), 5);
	for (size_t i = 0; i < 5; i++) {
		json_t *d = json_array_get(daemons, i);
		assert_string_equal(json_string_value(json_object_get(d, "status")), "SERVING");
	}
	json_decref(doc);
}

/* Each service's role in its own database: another service's schema is there but out of
 * reach (one shared database), or not there at all (a cluster per service). */
static void test_each_role_reaches_only_its_schema(void **state)
{
	ut_system *sys = *state;
	for (int r = 0; r < 4; r++) {
		char url[512];
		ut_db_role_url(ut_system_db(sys, r), schemas[r], url, sizeof(url));
		PGconn *conn = PQconnectdb(url);
		assert_int_equal(PQstatus(conn), CONNECTION_OK);
		for (int s = 0; s < 4; s++) {
			char sql[128];
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.schema_migrations", schemas[s]);
			PGresult *res = PQexec(conn, sql);
			bool shared =
			        strcmp(ut_system_db(sys, s)->host, ut_system_db(sys, r)->host) ==
			                0 &&
			        strcmp(ut_system_db(sys, s)->port, ut_system_db(sys, r)->port) == 0;
			if (r == s) {
				assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
			} else {
				assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
				/* insufficient_privilege, or undefined_table */
				assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
				                    shared ? "42501" : "42P01");
			}
			PQclear(res);
		}
		/* Nor can it create anything in the shared public schema. */
		PGresult *res = PQexec(conn, "CREATE TABLE public.sneaky (x int)");
		assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
		PQclear(res);
		PQfinish(conn);
	}
}

/* ./usher test starts a cluster per service (USHER_TEST_CLUSTERS=4, the default): each
 * service's database is then in a cluster of its own, the daemons running against them;
 * with USHER_TEST_CLUSTERS=1 they share one. */
static void test_each_service_has_the_cluster_it_was_given(void **state)
{
	ut_system *sys = *state;
	const char *clusters = getenv("USHER_TEST_CLUSTERS");
	bool own = clusters == NULL || strcmp(clusters, "1") != 0;
	char dirs[4][512];
	for (int s = 0; s < 4; s++) {
		PGconn *c = ut_db_admin(ut_system_db(sys, s));
		PGresult *res = PQexec(c, "SELECT current_setting('data_directory')");
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		snprintf(dirs[s], sizeof(dirs[s]), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		/* Its database holds its own schema, and others' only when shared. */
		for (int o = 0; o < 4; o++) {
			long n = ut_db_number(
			        ut_system_db(sys, s),
			        "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'",
			        schemas[o]);
			assert_int_equal(n, o == s || !own ? 1 : 0);
		}
		PQfinish(c);
		for (int o = 0; o < s; o++) {
			if (own && strcmp(dirs[o], dirs[s]) == 0)
				fail_msg("%s and %s share the cluster %s", schemas[o], schemas[s],
				         dirs[s]);
			if (!own && strcmp(dirs[o], dirs[s]) != 0)
				fail_msg("%s and %s are in different clusters", schemas[o],
				         schemas[s]);
		}
	}
}

static void test_bad_settings_stop_a_daemon_with_one_line(void **state)
{
	(void)state;
	char bin[512];
	ut_bin("usher-identityd", bin, sizeof(bin));
	char *argv[] = {bin, NULL};

	char *no_db[] = {"RPC_LISTEN=tcp://127.0.0.1:1", NULL};
	char *out = NULL;
	assert_int_equal(ut_run(argv, no_db, true, &out), 2);
	assert_non_null(strstr(out, "usher-identityd: DATABASE_URL: required setting is not set"));
	assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
	free(out);

	char *bad_workers[] = {"DATABASE_URL=postgresql:///x", "RPC_LISTEN=tcp://127.0.0.1:1",
	                       "RPC_WORKERS=lots", NULL};
	assert_int_equal(ut_run(argv, bad_workers, true, &out), 2);
	assert_non_null(strstr(out, "RPC_WORKERS: must be an integer from 1 to 256, got \"lots\""));
	free(out);

	/* A transport that wedges with the linked nng is refused before anything starts. */
	char *wedging[] = {"DATABASE_URL=postgresql:///x", "RPC_LISTEN=ipc:///tmp/never.sock", NULL};
	if (us_transport_wedges("ipc:///tmp/never.sock")) {
		assert_int_equal(ut_run(argv, wedging, true, &out), 2);
		assert_non_null(strstr(out, "RPC_LISTEN: ipc:// is refused with the linked nng"));
		free(out);
	}

	/* A secret may come from a file (NAME_FILE), and is masked like any other. */
	char key_file[] = "/tmp/ut-signing-key-XXXXXX";
	int fd = mkstemp(key_file);
#define SEED "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	static const char seed[] = SEED, seed_line[] = SEED "\n";
#undef SEED
	assert_true(fd >= 0 && write(fd, seed_line, strlen(seed_line)) == (ssize_t)strlen(seed_line));
	close(fd);
	char key_setting[80];
	snprintf(key_setting, sizeof(key_setting), "RPC_SIGNING_KEY_FILE=%s", key_file);
	char *print[] = {bin, "--print-config", NULL};
	char *settings[] = {"DATABASE_URL=postgresql://usher_identity:s3cret@/usher",
	                    "RPC_LISTEN=tcp://127.0.0.1:1",
	                    "IDENTITY_TOKEN_KEY=00112233445566778899aabbccddeeff"
	                    "00112233445566778899aabbccddeeff",
	                    "NOTIFICATION_RPC_URL=tcp://127.0.0.1:2", key_setting,
	                    "RPC_CALLERS_FILE=/etc/usher/callers.conf", NULL};
	assert_int_equal(ut_run(print, settings, true, &out), 0);
	assert_null(strstr(out, "s3cret"));
	assert_null(strstr(out, seed));
	assert_non_null(strstr(out, "DATABASE_URL=postgresql://usher_identity:********@/usher"));
	assert_non_null(strstr(out, "RPC_SIGNING_KEY=********"));
	assert_non_null(strstr(out, "RPC_WORKERS=8"));
	free(out);

	/* A file that is not there stops the daemon, naming it. */
	unlink(key_file);
	assert_int_equal(ut_run(print, settings, true, &out), 2);
	assert_non_null(strstr(out, "RPC_SIGNING_KEY_FILE: could not open"));
	free(out);
}

/* Paused daemons (SIGSTOP: the kernel still takes connections, nobody answers) cost
 * usherctl its deadline, not more: the daemons are asked at once, and connecting counts
 * against the deadline. `usherctl health` once ran past 10 s with a 2 s deadline: NNG's
 * blocking dial waited 10 s for each paused daemon's handshake. The slack is far above
 * any scheduling delay and far below that. */
static void test_usherctl_deadline_holds_against_paused_daemons(void **state)
{
	ut_system *sys = *state;
	ut_system_export_urls(sys);
	char bin[512];
	ut_bin("usherctl", bin, sizeof(bin));
	enum { DEADLINE_MS = 2000, SLACK_MS = 5000 };
	assert_int_equal(kill(sys->daemons[UT_IDENTITY].pid, SIGSTOP), 0);
	assert_int_equal(kill(sys->daemons[UT_TENANCY].pid, SIGSTOP), 0);
	char *out = NULL;
	char *argv[] = {bin, "--timeout", "2000", "health", NULL};
	int64_t t0 = us_monotonic_ms();
	int rc = ut_run(argv, NULL, false, &out);
	int64_t took = us_monotonic_ms() - t0;
	kill(sys->daemons[UT_IDENTITY].pid, SIGCONT);
	kill(sys->daemons[UT_TENANCY].pid, SIGCONT);
	print_message("usherctl health with two paused daemons: %lld ms (deadline %d ms)\n",
	              (long long)took, DEADLINE_MS);
	if (rc != 5 || strstr(out, "usher-invitationd") == NULL)
		fail_msg("usherctl health exited %d:\n%s", rc, out);
	char *identity = strstr(out, "usher-identityd");
	assert_non_null(identity);
	assert_true(strncmp(identity + strcspn(identity, " "), " ", 1) == 0);
	assert_non_null(strstr(identity, "UNREACHABLE"));
	free(out);
	assert_true(took < DEADLINE_MS + SLACK_MS);

	/* Resumed, they answer again. */
	char *again[] = {bin, "health", NULL};
	assert_int_equal(ut_run(again, NULL, false, NULL), 0);
}

/* How long a stop takes is reported, not judged: a loaded machine is slow. */
#define STOP_DEADLINE_MS 60000

static void test_sigterm_stops_each_daemon_cleanly(void **state)
{
	ut_system *sys = *state;
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		int64_t took = 0;
		int status = ut_system_signal(sys, i, SIGTERM, STOP_DEADLINE_MS, &took);
		if (status == -1)
			fail_msg("usher-%sd did not exit within %d s of SIGTERM", sys->daemons[i].name,
			         STOP_DEADLINE_MS / 1000);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("usher-%sd ended with status %d", sys->daemons[i].name, status);
		print_message("usher-%sd exited 0 %lld ms after SIGTERM\n", sys->daemons[i].name,
		              (long long)took);
	}
	/* With everything down, usherctl says so. */
	char bin[512];
	ut_bin("usherctl", bin, sizeof(bin));
	char *argv[] = {bin, "health", NULL};
	assert_int_equal(ut_run(argv, NULL, false, NULL), 5);
}

static int setup(void **state)
{
	ut_system *sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "foundation");
	ut_system_start_all(sys);
	*state = sys;
	return 0;
}

static int teardown(void **state)
{
	ut_system_teardown(*state);
	free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_health_through_usherctl),
	        cmocka_unit_test(test_each_role_reaches_only_its_schema),
	        cmocka_unit_test(test_each_service_has_the_cluster_it_was_given),
	        cmocka_unit_test(test_bad_settings_stop_a_daemon_with_one_line),
	        cmocka_unit_test(test_usherctl_deadline_holds_against_paused_daemons),
	        cmocka_unit_test(test_sigterm_stops_each_daemon_cleanly),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
