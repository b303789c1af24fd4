/* The RPC layer over real NNG sockets: envelopes, dispatch, bad input, limits,
 * deadlines, health and draining. No database. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "arena.h"
#include "clock.h"
#include "rpc_client.h"
#include "rpc_server.h"
#include "usher/testing/echo.pb-c.h"
#include "usher/v1/health.pb-c.h"
#include "usher/v1/rpc.pb-c.h"

#define ECHO "usher.testing.EchoService/Echo"
#define SERVER_MAX (64 * 1024)

static atomic_int echo_calls;

static us_err echo(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__Testing__EchoRequest *req = (const Usher__Testing__EchoRequest *)request;
	atomic_fetch_add(&echo_calls, 1);
	if (req->sleep_ms > 0)
		usleep(req->sleep_ms * 1000);
	if (strcmp(req->text, "invalid") == 0) {
		us_call_violation(call, "text", "must not be \"invalid\"");
		return us_call_invalid(call);
	}
	Usher__Testing__EchoReply *res = US_ARENA_NEW(us_call_arena(call), Usher__Testing__EchoReply);
	usher__testing__echo_reply__init(res);
	res->text = req->text;
	res->request_id = (char *)us_call_request_id(call);
	res->actor_user_id = (char *)us_call_actor_user_id(call);
	*reply = &res->base;
	return US_OK;
}

static const us_rpc_method echo_methods[] = {
	{"Echo", echo, 0},
};
static const us_rpc_service echo_service = {
	&usher__testing__echo_service__descriptor, echo_methods, 1, NULL,
};

typedef struct fixture {
	char url[128];
	us_rpc_server *srv;
	us_rpc_client *client;
	us_arena *arena;
} fixture;

static void start(fixture *f, int workers)
{
	us_rpc_server_opts opts = {
		.listen_url = f->url,
		.workers = workers,
		.max_message_bytes = SERVER_MAX,
		.default_timeout_ms = 5000,
	};
	char err[256];
	if (us_rpc_server_start(&opts, &echo_service, 1, &f->srv, err, sizeof(err)) != US_OK)
		fail_msg("server: %s", err);
	snprintf(f->url, sizeof(f->url), "%s", us_rpc_server_url(f->srv));
	us_rpc_client_opts copts = {.url = f->url, .caller = "rpc_test", .max_message_bytes = 1 << 20};
	if (us_rpc_client_open(&copts, &f->client, err, sizeof(err)) != US_OK)
		fail_msg("client: %s", err);
}

static int setup_n(void **state, int workers)
{
	fixture *f = calloc(1, sizeof(*f));
	snprintf(f->url, sizeof(f->url), "tcp://127.0.0.1:0");
	f->arena = us_arena_new();
	atomic_store(&echo_calls, 0);
	start(f, workers);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_n(state, 2); }
static int setup_one_worker(void **state) { return setup_n(state, 1); }

static int teardown(void **state)
{
	fixture *f = *state;
	us_rpc_client_close(f->client);
	us_rpc_server_stop(f->srv);
	us_arena_free(f->arena);
	free(f);
	return 0;
}

static us_err call_echo(fixture *f, const char *text, uint32_t sleep_ms, uint32_t timeout_ms,
                        Usher__Testing__EchoReply **out, us_status *st)
{
	Usher__Testing__EchoRequest req = USHER__TESTING__ECHO_REQUEST__INIT;
	req.text = (char *)text;
	req.sleep_ms = sleep_ms;
	us_rpc_call_opts opts = {.timeout_ms = timeout_ms};
	ProtobufCMessage *reply = NULL;
	us_err rc = us_rpc_call(f->client, ECHO, &opts, &req.base,
	                        &usher__testing__echo_reply__descriptor, f->arena, &reply, st);
	if (out != NULL)
		*out = (Usher__Testing__EchoReply *)reply;
	return rc;
}

/* Sends raw request bytes and decodes the RpcReply. */
static Usher__V1__RpcReply *call_raw(fixture *f, const void *data, size_t len, uint32_t wait_ms)
{
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	us_err rc = us_rpc_call_raw(f->client, data, len, wait_ms, f->arena, &raw, &raw_len);
	assert_int_equal(rc, US_OK);
	Usher__V1__RpcReply *reply = usher__v1__rpc_reply__unpack(NULL, raw_len, raw);
	assert_non_null(reply);
	assert_non_null(reply->status);
	return reply;
}

static void test_envelopes_round_trip(void **state)
{
	fixture *f = *state;
	/* The request envelope, every field set. */
	Usher__V1__Actor actor = USHER__V1__ACTOR__INIT;
	actor.user_id = "u-1";
	actor.account_id = "a-1";
	Usher__V1__RpcRequest req = USHER__V1__RPC_REQUEST__INIT;
	req.method = "usher.v1.X/Y";
	req.request_id = "rid";
	req.traceparent = "00-abc-def-01";
	req.timeout_ms = 1234;
	req.caller = "test";
	req.actor = &actor;
	req.idempotency_key = "key-1";
	req.payload.data = (uint8_t *)"\x01\x02";
	req.payload.len = 2;
	uint8_t buf[512];
	size_t len = usher__v1__rpc_request__pack(&req, buf);
	Usher__V1__RpcRequest *back = usher__v1__rpc_request__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_string_equal(back->method, "usher.v1.X/Y");
	assert_string_equal(back->request_id, "rid");
	assert_string_equal(back->traceparent, "00-abc-def-01");
	assert_int_equal(back->timeout_ms, 1234);
	assert_string_equal(back->caller, "test");
	assert_string_equal(back->actor->user_id, "u-1");
	assert_string_equal(back->actor->account_id, "a-1");
	assert_string_equal(back->idempotency_key, "key-1");
	assert_int_equal(back->payload.len, 2);
	assert_memory_equal(back->payload.data, "\x01\x02", 2);
	usher__v1__rpc_request__free_unpacked(back, NULL);

	/* The reply envelope with a status and violations. */
	Usher__V1__FieldViolation v = USHER__V1__FIELD_VIOLATION__INIT;
	v.field = "emails[2]";
	v.description = "must be an email address";
	Usher__V1__FieldViolation *vs[] = {&v};
	Usher__V1__Status status = USHER__V1__STATUS__INIT;
	status.code = USHER__V1__CODE__INVALID_ARGUMENT;
	status.message = "invalid emails[2]";
	status.n_violations = 1;
	status.violations = vs;
	Usher__V1__RpcReply reply = USHER__V1__RPC_REPLY__INIT;
	reply.status = &status;
	len = usher__v1__rpc_reply__pack(&reply, buf);
	Usher__V1__RpcReply *rback = usher__v1__rpc_reply__unpack(NULL, len, buf);
	assert_non_null(rback);
	assert_int_equal(rback->status->code, USHER__V1__CODE__INVALID_ARGUMENT);
	assert_string_equal(rback->status->message, "invalid emails[2]");
	assert_int_equal(rback->status->n_violations, 1);
	assert_string_equal(rback->status->violations[0]->field, "emails[2]");
	usher__v1__rpc_reply__free_unpacked(rback, NULL);

	/* And through the server: the handler sees the envelope's request id and actor. */
	Usher__Testing__EchoRequest ereq = USHER__TESTING__ECHO_REQUEST__INIT;
	ereq.text = "héllo";
	us_rpc_call_opts opts = {.request_id = "req-42", .actor_user_id = "user-7"};
	ProtobufCMessage *out = NULL;
	us_status st;
	assert_int_equal(us_rpc_call(f->client, ECHO, &opts, &ereq.base,
	                             &usher__testing__echo_reply__descriptor, f->arena, &out, &st),
	                 US_OK);
	Usher__Testing__EchoReply *er = (Usher__Testing__EchoReply *)out;
	assert_string_equal(er->text, "héllo");
	assert_string_equal(er->request_id, "req-42");
	assert_string_equal(er->actor_user_id, "user-7");
	us_status_clear(&st);
}

static void test_unknown_method_is_unimplemented(void **state)
{
	fixture *f = *state;
	const char *methods[] = {
		"usher.testing.EchoService/Nope",         /* no such method */
		"usher.testing.EchoService/Unregistered", /* declared, no handler */
		"usher.testing.Nothing/Echo",             /* no such service */
		"garbage",
		"",
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		Usher__Testing__EchoRequest req = USHER__TESTING__ECHO_REQUEST__INIT;
		ProtobufCMessage *out = NULL;
		us_status st;
		us_err rc = us_rpc_call(f->client, methods[i], NULL, &req.base,
		                        &usher__testing__echo_reply__descriptor, f->arena, &out, &st);
		assert_int_equal(rc, US_EUNIMPLEMENTED);
		assert_int_equal(st.code, US_EUNIMPLEMENTED);
		us_status_clear(&st);
	}
	assert_int_equal(atomic_load(&echo_calls), 0);
}

static void test_garbage_is_invalid_argument_and_server_keeps_serving(void **state)
{
	fixture *f = *state;
	/* Field 1, length-delimited, claims 100 bytes and has 1. */
	static const uint8_t garbage[] = {0x0a, 0x64, 'x'};

	Usher__V1__RpcReply *reply = call_raw(f, garbage, sizeof(garbage), 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__INVALID_ARGUMENT);
	assert_string_equal(reply->status->message, "malformed request envelope");
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	/* A sound envelope around a garbage payload. */
	Usher__V1__RpcRequest req = USHER__V1__RPC_REQUEST__INIT;
	req.method = ECHO;
	req.payload.data = (uint8_t *)garbage;
	req.payload.len = sizeof(garbage);
	uint8_t buf[256];
	size_t len = usher__v1__rpc_request__pack(&req, buf);
	reply = call_raw(f, buf, len, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__INVALID_ARGUMENT);
	assert_non_null(strstr(reply->status->message, "malformed"));
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	/* An empty message is a valid empty envelope naming no method. */
	reply = call_raw(f, "", 0, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__UNIMPLEMENTED);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	assert_int_equal(atomic_load(&echo_calls), 0);
	Usher__Testing__EchoReply *out;
	assert_int_equal(call_echo(f, "still here", 0, 2000, &out, NULL), US_OK);
	assert_string_equal(out->text, "still here");
}

static void test_handler_violations_reach_the_client(void **state)
{
	fixture *f = *state;
	us_status st;
	assert_int_equal(call_echo(f, "invalid", 0, 2000, NULL, &st), US_EINVAL);
	assert_int_equal(st.n_violations, 1);
	assert_string_equal(st.violations[0].field, "text");
	assert_string_equal(st.violations[0].description, "must not be \"invalid\"");
	assert_non_null(strstr(st.message, "text"));
	us_status_clear(&st);
}

static void test_oversized_message_is_refused(void **state)
{
	fixture *f = *state;
	/* Over the server's limit but under the client's: NNG drops it on the server side,
	 * so no handler runs and no reply comes. */
	size_t big = SERVER_MAX + 1024;
	char *text = malloc(big + 1);
	memset(text, 'a', big);
	text[big] = '\0';
	us_status st;
	us_err rc = call_echo(f, text, 0, 500, NULL, &st);
	assert_int_equal(rc, US_EDEADLINE);
	us_status_clear(&st);
	assert_int_equal(atomic_load(&echo_calls), 0);
	free(text);

	/* Over the client's own limit: refused before sending. */
	big = (1 << 20) + 1;
	text = malloc(big + 1);
	memset(text, 'b', big);
	text[big] = '\0';
	rc = call_echo(f, text, 0, 500, NULL, &st);
	assert_int_equal(rc, US_EEXHAUSTED);
	us_status_clear(&st);
	free(text);

	/* The server still serves. */
	assert_int_equal(call_echo(f, "small", 0, 2000, NULL, NULL), US_OK);
	assert_int_equal(atomic_load(&echo_calls), 1);
}

typedef struct slow_call {
	fixture *f;
	uint32_t sleep_ms;
	us_err rc;
	char text[32];
} slow_call;

static void *run_slow(void *arg)
{
	slow_call *c = arg;
	/* Its own client and arena: the fixture's are not shared across threads here. */
	us_rpc_client *client;
	char err[128];
	us_rpc_client_opts copts = {.url = c->f->url, .caller = "slow"};
	if (us_rpc_client_open(&copts, &client, err, sizeof(err)) != US_OK) {
		c->rc = US_EUNAVAILABLE;
		return NULL;
	}
	us_arena *arena = us_arena_new();
	Usher__Testing__EchoRequest req = USHER__TESTING__ECHO_REQUEST__INIT;
	req.text = "slow";
	req.sleep_ms = c->sleep_ms;
	us_rpc_call_opts opts = {.timeout_ms = 5000};
	ProtobufCMessage *out = NULL;
	c->rc = us_rpc_call(client, ECHO, &opts, &req.base, &usher__testing__echo_reply__descriptor,
	                    arena, &out, NULL);
	if (c->rc == US_OK)
		snprintf(c->text, sizeof(c->text), "%s", ((Usher__Testing__EchoReply *)out)->text);
	us_arena_free(arena);
	us_rpc_client_close(client);
	return NULL;
}

static void test_expired_deadline_is_deadline_exceeded(void **state)
{
	fixture *f = *state;
	/* The only worker is busy for 400 ms; a request with a 100 ms budget waits in the
	 * queue past its deadline and is answered without running. */
	slow_call slow = {.f = f, .sleep_ms = 400};
	pthread_t t;
	pthread_create(&t, NULL, run_slow, &slow);
	usleep(100 * 1000);

	Usher__Testing__EchoRequest ereq = USHER__TESTING__ECHO_REQUEST__INIT;
	ereq.text = "late";
	uint8_t payload[64];
	Usher__V1__RpcRequest req = USHER__V1__RPC_REQUEST__INIT;
	req.method = ECHO;
	req.timeout_ms = 100;
	req.payload.data = payload;
	req.payload.len = usher__testing__echo_request__pack(&ereq, payload);
	uint8_t buf[256];
	size_t len = usher__v1__rpc_request__pack(&req, buf);
	Usher__V1__RpcReply *reply = call_raw(f, buf, len, 3000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__DEADLINE_EXCEEDED);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	pthread_join(t, NULL);
	assert_int_equal(slow.rc, US_OK);
	assert_int_equal(atomic_load(&echo_calls), 1); /* only the slow one ran */

	/* A client that stops waiting gets DEADLINE_EXCEEDED too. */
	us_status st;
	int64_t t0 = us_monotonic_ms();
	assert_int_equal(call_echo(f, "slow", 600, 100, NULL, &st), US_EDEADLINE);
	assert_true(us_monotonic_ms() - t0 < 500);
	us_status_clear(&st);
	usleep(600 * 1000); /* let the worker finish before teardown */
}

static void test_health_check(void **state)
{
	fixture *f = *state;
	const struct {
		const char *service;
		us_err rc;
	} cases[] = {
		{"", US_OK},
		{"usher.testing.EchoService", US_OK},
		{"usher.v1.Health", US_OK},
		{"usher.v1.Nope", US_ENOTFOUND},
	};
	for (size_t i = 0; i < 4; i++) {
		Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
		req.service = (char *)cases[i].service;
		ProtobufCMessage *out = NULL;
		us_err rc = us_rpc_call(f->client, "usher.v1.Health/Check", NULL, &req.base,
		                        &usher__v1__health_check_response__descriptor, f->arena, &out,
		                        NULL);
		assert_int_equal(rc, cases[i].rc);
		if (rc == US_OK)
			assert_int_equal(((Usher__V1__HealthCheckResponse *)out)->status,
			                 USHER__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	}
	us_rpc_server_set_serving(f->srv, false);
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	assert_int_equal(us_rpc_call(f->client, "usher.v1.Health/Check", NULL, &req.base,
	                             &usher__v1__health_check_response__descriptor, f->arena, &out,
	                             NULL),
	                 US_OK);
	assert_int_equal(((Usher__V1__HealthCheckResponse *)out)->status,
	                 USHER__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
}

static void test_stop_finishes_in_flight_requests(void **state)
{
	fixture *f = *state;
	slow_call slow = {.f = f, .sleep_ms = 300};
	pthread_t t;
	pthread_create(&t, NULL, run_slow, &slow);
	usleep(100 * 1000);
	int64_t t0 = us_monotonic_ms();
	us_rpc_server_stop(f->srv);
	int64_t took = us_monotonic_ms() - t0;
	f->srv = NULL;
	pthread_join(t, NULL);
	assert_int_equal(slow.rc, US_OK);
	assert_string_equal(slow.text, "slow");
	assert_true(took >= 100 && took < 2000);

	/* Nobody listens any more. */
	us_rpc_client *c;
	char err[128];
	us_rpc_client_opts copts = {.url = f->url, .caller = "late"};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_EUNAVAILABLE);
}

static void test_table_naming_a_missing_method_is_refused(void **state)
{
	(void)state;
	static const us_rpc_method bad_methods[] = {{"Missing", echo, 0}};
	const us_rpc_service bad = {&usher__testing__echo_service__descriptor, bad_methods, 1, NULL};
	us_rpc_server_opts opts = {.listen_url = "inproc://bad", .workers = 1,
	                           .max_message_bytes = 1024, .default_timeout_ms = 1000};
	us_rpc_server *srv = NULL;
	char err[256];
	assert_int_equal(us_rpc_server_start(&opts, &bad, 1, &srv, err, sizeof(err)), US_EINTERNAL);
	assert_null(srv);
	assert_non_null(strstr(err, "Missing"));
}

/* Without a socket, a packed request is handled as a worker would: the fuzz targets'
 * way into the whole request path. */
static void test_socketless_server_handles_packed_requests(void **state)
{
	(void)state;
	us_rpc_server_opts opts = {.workers = 4, .max_message_bytes = SERVER_MAX,
	                           .default_timeout_ms = 1000};
	us_rpc_server *srv = NULL;
	char err[256];
	assert_int_equal(us_rpc_server_start(&opts, &echo_service, 1, &srv, err, sizeof(err)), US_OK);
	assert_string_equal(us_rpc_server_url(srv), "");
	us_arena *a = us_arena_new();

	Usher__Testing__EchoRequest echo_req = USHER__TESTING__ECHO_REQUEST__INIT;
	echo_req.text = "hello";
	uint8_t payload[64];
	Usher__V1__RpcRequest req = USHER__V1__RPC_REQUEST__INIT;
	req.method = ECHO;
	req.request_id = "socketless";
	req.payload.data = payload;
	req.payload.len = usher__testing__echo_request__pack(&echo_req, payload);
	uint8_t packed[256];
	size_t len = usher__v1__rpc_request__pack(&req, packed);

	uint8_t *out;
	size_t out_len;
	assert_int_equal(us_rpc_server_handle(srv, packed, len, a, &out, &out_len), US_OK);
	Usher__V1__RpcReply *reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	assert_non_null(reply);
	assert_int_equal(reply->status->code, USHER__V1__CODE__OK);
	Usher__Testing__EchoReply *echoed =
	        usher__testing__echo_reply__unpack(NULL, reply->payload.len, reply->payload.data);
	assert_string_equal(echoed->text, "hello");
	assert_string_equal(echoed->request_id, "socketless");
	usher__testing__echo_reply__free_unpacked(echoed, NULL);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	/* A cut envelope is INVALID_ARGUMENT, as over the wire. */
	assert_int_equal(us_rpc_server_handle(srv, packed, len / 2, a, &out, &out_len), US_OK);
	reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	assert_non_null(reply);
	assert_int_equal(reply->status->code, USHER__V1__CODE__INVALID_ARGUMENT);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	us_arena_free(a);
	us_rpc_server_stop(srv);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelopes_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_method_is_unimplemented, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_is_invalid_argument_and_server_keeps_serving,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_violations_reach_the_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_message_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_deadline_is_deadline_exceeded,
		                                setup_one_worker, teardown),
		cmocka_unit_test_setup_teardown(test_health_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_finishes_in_flight_requests, setup, teardown),
		cmocka_unit_test(test_table_naming_a_missing_method_is_refused),
		cmocka_unit_test(test_socketless_server_handles_packed_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
