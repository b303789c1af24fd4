/* libusher-client through its public header, against a real RPC server (NNG over
 * loopback TCP) in this process: retries of UNAVAILABLE with one idempotency key, no
 * retry of other errors, the attempt limit, violations and reasons in the status, keys
 * from the config and the environment, and replicas given as a list of URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "usher/client.h"

#include "common/caller_key.h"
#include "common/rpc_server.h"
#include "harness.h"
#include "usher/testing/echo.pb-c.h"

#define ECHO "usher.testing.EchoService/Echo"
#define KEYS_MAX 16

/* What the server saw: how many calls, and the idempotency key of each. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static int calls;
static char keys[KEYS_MAX][256];

/* text "unavailable:N": UNAVAILABLE for the first N calls, then the echo;
 * "invalid": INVALID_ARGUMENT with a violation; else the echo. */
static us_err echo(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__Testing__EchoRequest *req = (const Usher__Testing__EchoRequest *)request;
	pthread_mutex_lock(&seen_mu);
	int n = calls++;
	if (n < KEYS_MAX)
		snprintf(keys[n], sizeof(keys[n]), "%s", us_call_idempotency_key(call));
	pthread_mutex_unlock(&seen_mu);
	if (strncmp(req->text, "unavailable:", 12) == 0 && n < atoi(req->text + 12))
		return us_call_error(call, US_EUNAVAILABLE, "database unavailable");
	if (strcmp(req->text, "invalid") == 0) {
		us_call_violation(call, "text", "must not be \"invalid\"");
		return us_call_invalid(call);
	}
	Usher__Testing__EchoReply *res = US_ARENA_NEW(us_call_arena(call), Usher__Testing__EchoReply);
	usher__testing__echo_reply__init(res);
	res->text = req->text;
	res->request_id = (char *)us_call_request_id(call);
	*reply = &res->base;
	return US_OK;
}

static const us_rpc_method echo_methods[] = {{"Echo", echo, 0}};
static const us_rpc_service echo_service = {
	&usher__testing__echo_service__descriptor, echo_methods, 1, NULL,
};

static us_rpc_server *server;
static us_auth *auth;
static char url[128];

static int start_server(void **state)
{
	(void)state;
	auth = ut_test_auth(NULL, NULL, NULL); /* trusts ut_test_key(), USHER_CALLER_KEY */
	us_rpc_server_opts opts = {.listen_url = "tcp://127.0.0.1:0", .workers = 2,
	                           .max_message_bytes = 1 << 20, .default_timeout_ms = 5000,
	                           .auth = auth};
	char err[256];
	if (us_rpc_server_start(&opts, &echo_service, 1, &server, err, sizeof(err)) != US_OK)
		fail_msg("server: %s", err);
	snprintf(url, sizeof(url), "%s", us_rpc_server_url(server));
	return 0;
}

static int stop_server(void **state)
{
	(void)state;
	us_rpc_server_stop(server);
	us_auth_free(auth);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	pthread_mutex_lock(&seen_mu);
	calls = 0;
	memset(keys, 0, sizeof(keys));
	pthread_mutex_unlock(&seen_mu);
	return 0;
}

static usher_client *open_client(const char *urls, unsigned max_attempts)
{
	usher_client_config cfg = {.urls = urls, .caller_name = "usher_client_test",
	                           .max_attempts = max_attempts};
	usher_client *c = NULL;
	usher_status st = {0};
	if (usher_client_open(&cfg, &c, &st) != USHER_OK)
		fail_msg("open: %s", st.message);
	usher_status_clear(&st);
	return c;
}

static usher_code echo_call(usher_client *c, const char *text, const usher_call_opts *opts,
                            usher_status *st)
{
	Usher__Testing__EchoRequest req = USHER__TESTING__ECHO_REQUEST__INIT;
	req.text = (char *)text;
	ProtobufCMessage *reply = NULL;
	usher_code code = usher_call(c, ECHO, &req.base, &usher__testing__echo_reply__descriptor,
	                             opts, &reply, st);
	if (code == USHER_OK) {
		assert_string_equal(((Usher__Testing__EchoReply *)reply)->text, text);
		protobuf_c_message_free_unpacked(reply, NULL); /* the caller's own memory */
	} else {
		assert_null(reply);
	}
	return code;
}

static void test_unavailable_is_retried_with_one_idempotency_key(void **state)
{
	(void)state;
	usher_client *c = open_client(url, 0);
	usher_status st = {0};
	usher_call_opts opts = {.deadline_ms = 30000};
	assert_int_equal(echo_call(c, "unavailable:2", &opts, &st), USHER_OK);
	assert_int_equal(calls, 3);
	/* A key made for the call, the same on every attempt. */
	assert_true(strlen(keys[0]) > 0);
	assert_string_equal(keys[1], keys[0]);
	assert_string_equal(keys[2], keys[0]);

	/* The caller's own key, kept; another call gets another made key. */
	char first[256];
	snprintf(first, sizeof(first), "%s", keys[0]);
	reset(NULL);
	opts.idempotency_key = "order-4711";
	assert_int_equal(echo_call(c, "unavailable:1", &opts, &st), USHER_OK);
	assert_int_equal(calls, 2);
	assert_string_equal(keys[0], "order-4711");
	assert_string_equal(keys[1], "order-4711");
	reset(NULL);
	assert_int_equal(echo_call(c, "plain", NULL, &st), USHER_OK);
	assert_int_equal(calls, 1);
	assert_true(strlen(keys[0]) > 0);
	assert_string_not_equal(keys[0], first);
	usher_status_clear(&st);
	usher_client_close(c);
}

static void test_attempts_are_limited(void **state)
{
	(void)state;
	usher_client *c = open_client(url, 3);
	usher_status st = {0};
	usher_call_opts opts = {.deadline_ms = 30000};
	assert_int_equal(echo_call(c, "unavailable:100", &opts, &st), USHER_UNAVAILABLE);
	assert_int_equal(calls, 3);
	assert_string_equal(st.message, "database unavailable");
	assert_string_equal(usher_code_name(st.code), "UNAVAILABLE");
	usher_status_clear(&st);
	usher_client_close(c);
}

static void test_other_errors_are_not_retried(void **state)
{
	(void)state;
	usher_client *c = open_client(url, 0);
	usher_status st = {0};
	assert_int_equal(echo_call(c, "invalid", NULL, &st), USHER_INVALID_ARGUMENT);
	assert_int_equal(calls, 1);
	assert_int_equal(st.n_violations, 1);
	assert_string_equal(st.violations[0].field, "text");
	assert_string_equal(st.violations[0].description, "must not be \"invalid\"");
	/* A status used again is cleared first. */
	assert_int_equal(echo_call(c, "plain", NULL, &st), USHER_OK);
	assert_int_equal(st.n_violations, 0);
	usher_status_clear(&st);
	usher_client_close(c);
}

static void test_keys(void **state)
{
	(void)state;
	usher_status st = {0};
	usher_client *c = NULL;

	/* A key of the config, which the server does not know: refused, with the reason. */
	us_caller_key stranger;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&stranger, secret);
	usher_client_config cfg = {.urls = url, .caller_key = secret};
	assert_int_equal(usher_client_open(&cfg, &c, &st), USHER_OK);
	assert_int_equal(echo_call(c, "plain", NULL, &st), USHER_UNAUTHENTICATED);
	assert_string_equal(st.reason, "UNKNOWN_KEY");
	assert_int_equal(calls, 0);
	usher_client_close(c);

	/* Malformed keys and missing URLs are refused at open. */
	cfg.caller_key = "usk_nothex";
	c = NULL;
	assert_int_equal(usher_client_open(&cfg, &c, &st), USHER_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "caller_key"));
	assert_null(c);
	cfg.caller_key = NULL;
	cfg.urls = NULL;
	assert_int_equal(usher_client_open(&cfg, &c, &st), USHER_INVALID_ARGUMENT);
	cfg.urls = "ipc:///tmp/x,";
	assert_int_equal(usher_client_open(&cfg, &c, &st), USHER_INVALID_ARGUMENT);

	/* No key in the config nor in the environment: refused, not sent unsigned. */
	char *env = strdup(getenv("USHER_CALLER_KEY"));
	unsetenv("USHER_CALLER_KEY");
	cfg.urls = url;
	assert_int_equal(usher_client_open(&cfg, &c, &st), USHER_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "no caller key"));
	setenv("USHER_CALLER_KEY", env, 1);
	free(env);
	usher_status_clear(&st);
}

/* A replica that is down does not stop the calls: they go to the one that answers. */
static void test_replicas(void **state)
{
	(void)state;
	char urls[300];
	snprintf(urls, sizeof(urls), "tcp://127.0.0.1:%d,%s", ut_free_port(), url);
	usher_client *c = open_client(urls, 0);
	usher_status st = {0};
	usher_call_opts opts = {.deadline_ms = 30000};
	for (int i = 0; i < 5; i++)
		assert_int_equal(echo_call(c, "plain", &opts, &st), USHER_OK);
	assert_int_equal(calls, 5);
	usher_status_clear(&st);
	usher_client_close(c);
}

int main(void)
{
	ut_test_key(); /* exports USHER_CALLER_KEY */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_unavailable_is_retried_with_one_idempotency_key, reset),
		cmocka_unit_test_setup(test_attempts_are_limited, reset),
		cmocka_unit_test_setup(test_other_errors_are_not_retried, reset),
		cmocka_unit_test_setup(test_keys, reset),
		cmocka_unit_test_setup(test_replicas, reset),
	};
	return cmocka_run_group_tests(tests, start_server, stop_server);
}
