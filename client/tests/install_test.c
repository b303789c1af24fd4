/* libusher-client as a service gets it: installed by `cmake --install` into a fresh
 * prefix, examples/ built there with make and `pkg-config --cflags --libs usher-client`
 * (nothing of the build tree on the paths), then the example run against the five real
 * daemons as a service principal: it creates an invitation, which is in the database
 * and in the invitee's mail; run again with the same idempotency key, it gets the first
 * reply back and invites nobody twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "common/arena.h"
#include "harness.h"

#define WAIT_MS 60000

extern char **environ;

static ut_system sys;
static us_arena *A;
static char prefix[64] = "/tmp/usher-install.XXXXXX";

/* This process's environment with the "NAME=value" entries of set added or replaced
 * (NULL-terminated), in arena. */
static char **env_with(const char *const *set)
{
	size_t n = 0, m = 0;
	while (environ[n] != NULL)
		n++;
	while (set[m] != NULL)
		m++;
	char **env = us_arena_alloc(A, (n + m + 1) * sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t j = 0; j < m; j++) {
			size_t len = (size_t)(strchr(set[j], '=') - set[j]) + 1;
			replaced |= strncmp(environ[i], set[j], len) == 0;
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = (char *)set[j];
	env[k] = NULL;
	return env;
}

/* Runs argv with env (NULL: ours); fails the test unless it exits 0. Returns stdout. */
static char *run_ok(char *const argv[], char **env, const char *what)
{
	char *out = NULL;
	int status = ut_run(argv, env, true, &out);
	if (status != 0)
		fail_msg("%s: exit %d:\n%s", what, status, out ? out : "");
	char *copy = us_arena_strdup(A, out ? out : "");
	free(out);
	return copy;
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	if (mkdtemp(prefix) == NULL)
		fail_msg("mkdtemp: %m");
	ut_system_init(&sys, "install");
	ut_system_start_all(&sys);
	ut_system_export_urls(&sys);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	char *rm[] = {"/bin/rm", "-rf", prefix, NULL};
	if (getenv("UT_KEEP") == NULL)
		ut_run(rm, NULL, true, NULL);
	us_arena_free(A);
	return 0;
}

/* The invitation id on the example's line for email ("EMAIL\tOUTCOME\tID"), which must
 * say it was created. */
static void invitation_of(const char *out, const char *email, char id[64])
{
	const char *line = strstr(out, email);
	assert_non_null(line);
	char outcome[64];
	assert_int_equal(sscanf(line + strlen(email), "\t%63s\t%63s", outcome, id), 2);
	assert_string_equal(outcome, "OUTCOME_CREATED");
}

static void test_the_installed_example_creates_an_invitation(void **state)
{
	(void)state;
	const char *cmake = getenv("USHER_CMAKE");
	const char *build = getenv("USHER_BUILD_DIR");
	const char *libdir = getenv("USHER_INSTALL_LIBDIR");
	const char *src = getenv("USHER_SOURCE_DIR");
	const char *san = getenv("USHER_SANITIZE_FLAGS");
	assert_non_null(cmake);
	assert_non_null(build);
	assert_non_null(libdir);
	assert_non_null(src);

	/* Installed: the library and the headers, .pc and protos of the dev component. */
	const char *components[] = {"client", "dev"};
	for (size_t i = 0; i < 2; i++) {
		char *argv[] = {(char *)cmake, "--install", (char *)build, "--prefix", prefix,
		                "--component", (char *)components[i], NULL};
		run_ok(argv, NULL, "cmake --install");
	}

	/* Built against the prefix only, warnings as errors; with the library's sanitizers. */
	char *pc_path = us_arena_printf(A, "PKG_CONFIG_PATH=%s/%s/pkgconfig", prefix, libdir);
	char *cflags = us_arena_printf(A, "CFLAGS=-O1 -g -Wall -Wextra -Werror %s", san ? san : "");
	char *out_dir = us_arena_printf(A, "OUT=%s", prefix);
	char *make_argv[] = {"/usr/bin/make", "-s", "-C", us_arena_printf(A, "%s/examples", src),
	                     out_dir, cflags, NULL};
	const char *make_env[] = {pc_path, NULL};
	run_ok(make_argv, env_with(make_env), "make -C examples");
	char *pkg_argv[] = {"/usr/bin/pkg-config", "--cflags", "--libs", "usher-client", NULL};
	char *flags = run_ok(pkg_argv, env_with(make_env), "pkg-config");
	assert_non_null(strstr(flags, prefix));
	assert_null(strstr(flags, build)); /* nothing from the build tree */

	/* An account, and a service principal that may invite members into it. */
	char *owner = ut_create_user(&sys, A, "olivia@acme.example", "Olivia", "a long password 1");
	char *account = ut_create_account(&sys, A, owner, "Acme", "");
	char bin[512];
	ut_bin("usherctl", bin, sizeof(bin));
	char *ctl[] = {bin, "--json", "principals", "create", "install-example", "--accounts", account,
	               "--methods", "usher.v1.InvitationService/CreateInvitations", "--max-role",
	               "member", NULL};
	json_t *doc = json_loads(run_ok(ctl, NULL, "usherctl principals create"), 0, NULL);
	assert_non_null(doc);
	const char *secret = json_string_value(json_object_get(doc, "secret"));
	const char *principal_id = json_string_value(json_object_get(doc, "id"));
	assert_non_null(secret);
	assert_non_null(principal_id);

	/* The example, as the principal, with the installed library only. */
	char *example = us_arena_printf(A, "%s/create_invitation", prefix);
	char *run_argv[] = {example, account, "ann@acme.example", NULL};
	const char *run_env[] = {
		us_arena_printf(A, "INVITATION_RPC_URL=%s", sys.daemons[UT_INVITATION].url),
		us_arena_printf(A, "USHER_CALLER_KEY=%s", secret),
		us_arena_printf(A, "LD_LIBRARY_PATH=%s/%s", prefix, libdir),
		"IDEMPOTENCY_KEY=install-test-1",
		NULL,
	};
	char **env = env_with(run_env);
	char *first = run_ok(run_argv, env, "create_invitation");
	char id[64];
	invitation_of(first, "ann@acme.example", id);

	assert_int_equal(
	        ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                     "SELECT count(*) FROM invitation.invitations i"
	                     " JOIN invitation.batches b ON b.id = i.batch_id"
	                     " WHERE i.id = '%s' AND i.account_id = '%s' AND i.state = 'pending'"
	                     " AND b.invited_by_principal = '%s'",
	                     id, account, principal_id),
	        1);
	ut_email mail;
	char spool[200];
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	assert_true(ut_wait_email(spool, A, "ann@acme.example", "Invitation", 0, WAIT_MS, &mail));
	assert_non_null(mail.token);

	/* Again with the same key: the first reply, nobody invited twice. */
	char *second = run_ok(run_argv, env, "create_invitation again");
	assert_string_equal(second, first);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.invitations"
	                              " WHERE email = 'ann@acme.example'"),
	                 1);

	/* A key the daemons do not know: refused, exit 2, nothing created. */
	const char *stranger_env[] = {
		run_env[0], run_env[2],
		"USHER_CALLER_KEY=usk_0000000000000000000000000000000000000000000000000000000000000001",
		NULL,
	};
	char *stranger_argv[] = {example, account, "bob@acme.example", NULL};
	char *out = NULL;
	int status = ut_run(stranger_argv, env_with(stranger_env), true, &out);
	assert_int_equal(status, 2);
	assert_non_null(strstr(out, "UNAUTHENTICATED"));
	free(out);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                              "SELECT count(*) FROM invitation.invitations"
	                              " WHERE email = 'bob@acme.example'"),
	                 0);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_installed_example_creates_an_invitation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
