/* Settings: defaults, ranges, a missing required setting named in one clear line, and
 * secrets masked when printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "common/config.h"
#include "common/transport.h"

typedef struct settings {
	char *url;
	char *listen;
	int64_t workers;
	bool verbose;
} settings;

static const us_config_var vars[] = {
	{"UT_URL", US_CONFIG_STRING, offsetof(settings, url), US_CONFIG_REQUIRED | US_CONFIG_SECRET,
	 NULL, 1, 0, NULL, "database URL"},
	{"UT_LISTEN", US_CONFIG_STRING, offsetof(settings, listen), 0, "tcp://127.0.0.1:7001", 1, 0,
	 us_config_check_nng_url, "where to listen"},
	{"UT_WORKERS", US_CONFIG_INT, offsetof(settings, workers), 0, "8", 1, 64, NULL, "workers"},
	{"UT_VERBOSE", US_CONFIG_BOOL, offsetof(settings, verbose), 0, "false", 0, 0, NULL, "verbose"},
};
#define N (sizeof(vars) / sizeof(vars[0]))

static int clear_env(void **state)
{
	(void)state;
	unsetenv("UT_URL");
	unsetenv("UT_LISTEN");
	unsetenv("UT_WORKERS");
	unsetenv("UT_VERBOSE");
	unsetenv("UT_URL_FILE");
	unsetenv("UT_LISTEN_FILE");
	return 0;
}

static void test_defaults_and_values(void **state)
{
	(void)state;
	setenv("UT_URL", "postgresql://u:secret@/db", 1);
	setenv("UT_VERBOSE", "yes", 1);
	settings s;
	char err[256];
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_OK);
	assert_string_equal(s.url, "postgresql://u:secret@/db");
	assert_string_equal(s.listen, "tcp://127.0.0.1:7001");
	assert_int_equal(s.workers, 8);
	assert_true(s.verbose);
	us_config_free(vars, N, &s);
}

static void test_missing_required_setting_is_named(void **state)
{
	(void)state;
	settings s;
	char err[256];
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_EINVAL);
	assert_string_equal(err, "UT_URL: required setting is not set (database URL)");
	/* An empty value counts as unset. */
	setenv("UT_URL", "", 1);
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, "UT_URL"));
}

static void test_malformed_settings_are_named(void **state)
{
	(void)state;
	setenv("UT_URL", "x", 1);
	const struct {
		const char *name, *value, *expect;
	} cases[] = {
		{"UT_WORKERS", "abc", "UT_WORKERS: must be an integer from 1 to 64, got \"abc\""},
		{"UT_WORKERS", "65", "UT_WORKERS: must be an integer from 1 to 64, got \"65\""},
		{"UT_WORKERS", "3x", "UT_WORKERS: must be an integer from 1 to 64, got \"3x\""},
		{"UT_VERBOSE", "maybe", "UT_VERBOSE: must be true or false, got \"maybe\""},
		{"UT_LISTEN", "http://x", "UT_LISTEN: must be an NNG address: tcp://HOST:PORT (or "
		                          "inproc://NAME within one process)"},
		{"UT_LISTEN", "tcp://127.0.0.1", "UT_LISTEN: must be tcp://HOST:PORT, e.g. "
		                                 "tcp://127.0.0.1:7001"},
		{"UT_LISTEN", "tcp://127.0.0.1:65536", "UT_LISTEN: must be tcp://HOST:PORT, e.g. "
		                                       "tcp://127.0.0.1:7001"},
		{"UT_LISTEN", "tcp://[::1:7001", "UT_LISTEN: must be tcp://HOST:PORT, e.g. "
		                                 "tcp://127.0.0.1:7001"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv(cases[i].name, cases[i].value, 1);
		settings s;
		char err[256];
		assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_EINVAL);
		assert_string_equal(err, cases[i].expect);
		unsetenv(cases[i].name);
	}
}

/* ipc:// and tls+tcp:// wedge their listener with nng before 1.6.0: refused with the
 * reason while linked against such an nng, accepted otherwise. */
static void test_wedging_transports_are_refused(void **state)
{
	(void)state;
	setenv("UT_URL", "x", 1);
	const char *urls[] = {"ipc:///tmp/usher.sock"};
	for (size_t i = 0; i < 1; i++) {
		setenv("UT_LISTEN", urls[i], 1);
		settings s;
		char err[256];
		us_err rc = us_config_load(vars, N, &s, err, sizeof(err));
		if (us_transport_wedges(urls[i])) {
			assert_int_equal(rc, US_EINVAL);
			assert_non_null(strstr(err, "is refused with the linked nng"));
			assert_non_null(strstr(err, nng_version()));
		} else {
			assert_int_equal(rc, US_OK);
			us_config_free(vars, N, &s);
		}
	}
	assert_false(us_transport_wedges("tcp://127.0.0.1:7001"));
	assert_non_null(strstr(us_transport_check("tls+tcp://127.0.0.1:7001"), "not supported"));
	assert_null(us_transport_check("tcp://127.0.0.1:0"));
	assert_null(us_transport_check("tcp://[::1]:7001"));
	assert_null(us_transport_check("tcp://identity:7001"));
}

/* Replicas' addresses: a bounded list of distinct, valid addresses. */
static void test_replica_url_lists(void **state)
{
	(void)state;
	assert_null(us_config_check_nng_urls("tcp://127.0.0.1:7001"));
	assert_null(us_config_check_nng_urls("tcp://a:7001,tcp://b:7001,tcp://[::1]:7001"));
	/* One address never takes a list, so a daemon's RPC_LISTEN stays one address. */
	assert_non_null(us_config_check_nng_url("tcp://a:7001,tcp://b:7001"));
	assert_non_null(strstr(us_config_check_nng_urls("tcp://a:7001,,tcp://b:7001"), "none empty"));
	assert_non_null(strstr(us_config_check_nng_urls("tcp://a:7001,"), "none empty"));
	assert_non_null(strstr(us_config_check_nng_urls(""), "none empty"));
	assert_non_null(strstr(us_config_check_nng_urls("tcp://a:7001,tcp://a:7001"), "twice"));
	const char *bad = us_config_check_nng_urls("tcp://a:7001,tcp://b");
	assert_non_null(strstr(bad, "\"tcp://b\": must be tcp://HOST:PORT"));
	char list[2048] = "";
	for (int i = 0; i < 17; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%stcp://h%d:7001",
		         i ? "," : "", i);
	assert_non_null(strstr(us_config_check_nng_urls(list), "at most 16"));
	*strrchr(list, ',') = '\0'; /* 16 */
	assert_null(us_config_check_nng_urls(list));
	memset(list, 'a', 1100);
	memcpy(list, "tcp://", 6);
	strcpy(list + 1100, ":1");
	assert_non_null(strstr(us_config_check_nng_urls(list), "at most 1023 bytes"));
}

static void test_print_masks_secrets(void **state)
{
	(void)state;
	setenv("UT_URL", "postgresql://svc:hunter2@db.internal/usher", 1);
	settings s;
	char err[256];
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_OK);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	us_config_print(out, vars, N, &s);
	fclose(out);
	assert_null(strstr(text, "hunter2"));
	assert_non_null(strstr(text, "UT_URL=postgresql://svc:********@db.internal/usher\n"));
	assert_non_null(strstr(text, "UT_WORKERS=8\n"));
	free(text);
	us_config_free(vars, N, &s);

	/* Found by fuzzing: libpq also takes a password (and a key's sslpassword) from the
	 * query, even spelled with escapes, and --print-config showed it. */
	setenv("UT_URL", "postgresql:///usher?host=/run/pg&password=hunter2&%73slpassword=k3y&"
	                 "passwordx=shown&port=5432", 1);
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_OK);
	out = open_memstream(&text, &len);
	us_config_print(out, vars, N, &s);
	fclose(out);
	assert_null(strstr(text, "hunter2"));
	assert_null(strstr(text, "k3y"));
	assert_non_null(strstr(text, "UT_URL=postgresql:///usher?host=/run/pg&password=********&"
	                             "%73slpassword=********&passwordx=shown&port=5432\n"));
	free(text);
	us_config_free(vars, N, &s);

	/* Found by fuzzing: a key=value conninfo whose password held "://" was printed as if
	 * it were a URL, password and all. */
	setenv("UT_URL", "host=/run/pg dbname=usher password=a://b@c/d", 1);
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_OK);
	out = open_memstream(&text, &len);
	us_config_print(out, vars, N, &s);
	fclose(out);
	assert_non_null(strstr(text, "UT_URL=********\n"));
	free(text);
	us_config_free(vars, N, &s);
}

/* A temporary file holding len bytes of text; its path goes into path. */
static void write_temp(char path[32], const char *text, size_t len)
{
	strcpy(path, "/tmp/ut-secret-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Loads the settings, expecting failure with a message containing want. */
static void assert_refused(const char *want)
{
	settings s;
	char err[512];
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_EINVAL);
	if (strstr(err, want) == NULL)
		fail_msg("got \"%s\", want \"%s\"", err, want);
}

/* NAME_FILE: a secret read from a file (Docker secrets, systemd credentials), its one
 * trailing line end dropped; both set, a missing, oversized or NUL-holding file are
 * refused, each naming the setting and the file; a non-secret ignores NAME_FILE. */
static void test_secret_from_file(void **state)
{
	(void)state;
	char path[32];
	write_temp(path, "postgresql://u:from-file@/db\r\n", 30);
	setenv("UT_URL_FILE", path, 1);
	settings s;
	char err[512];
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_OK);
	assert_string_equal(s.url, "postgresql://u:from-file@/db");
	us_config_free(vars, N, &s);

	/* Both the value and the file: which one was meant is unknowable. */
	setenv("UT_URL", "postgresql:///direct", 1);
	assert_refused("UT_URL and UT_URL_FILE are both set: give one");
	unsetenv("UT_URL");

	/* Only secrets come from files: UT_LISTEN_FILE means nothing, the default stays. */
	setenv("UT_LISTEN_FILE", path, 1);
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_OK);
	assert_string_equal(s.listen, "tcp://127.0.0.1:7001");
	us_config_free(vars, N, &s);
	unlink(path);

	assert_refused("UT_URL_FILE: could not open \"");

	/* Bounded: one byte over the setting's 4096 is refused before it is kept. */
	static char big[4098];
	memset(big, 'a', sizeof(big));
	write_temp(path, big, 4097);
	setenv("UT_URL_FILE", path, 1);
	assert_refused("UT_URL_FILE: \"/tmp/ut-secret-");
	assert_refused("is over 4096 bytes or holds a NUL byte");
	unlink(path);
	write_temp(path, big, 4096);
	setenv("UT_URL_FILE", path, 1);
	assert_int_equal(us_config_load(vars, N, &s, err, sizeof(err)), US_OK);
	assert_int_equal(strlen(s.url), 4096);
	us_config_free(vars, N, &s);
	unlink(path);

	write_temp(path, "abc\0def", 7);
	setenv("UT_URL_FILE", path, 1);
	assert_refused("holds a NUL byte");
	unlink(path);

	/* An empty file is an unset secret: the required one is missing. */
	write_temp(path, "\n", 1);
	setenv("UT_URL_FILE", path, 1);
	assert_refused("UT_URL: required setting is not set");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults_and_values, clear_env),
		cmocka_unit_test_setup(test_missing_required_setting_is_named, clear_env),
		cmocka_unit_test_setup(test_malformed_settings_are_named, clear_env),
		cmocka_unit_test_setup(test_wedging_transports_are_refused, clear_env),
		cmocka_unit_test_setup(test_replica_url_lists, clear_env),
		cmocka_unit_test_setup(test_print_masks_secrets, clear_env),
		cmocka_unit_test_setup(test_secret_from_file, clear_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
