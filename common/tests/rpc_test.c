/* The RPC layer over real NNG sockets: envelopes, dispatch, bad input, limits,
 * deadlines, health, draining, and caller authentication (unsigned, forged, replayed and
 * stale requests; who may name an actor and call which method). No database. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <sodium.h>

#include "common/arena.h"
#include "common/caller_key.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "harness.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "common/socket_close.h"
#include "usher/testing/echo.pb-c.h"
#include "usher/v1/health.pb-c.h"
#include "usher/v1/rpc.pb-c.h"

#define ECHO "usher.testing.EchoService/Echo"
#define SERVER_MAX (64 * 1024)

static atomic_int echo_calls;    /* handlers started */
static atomic_int echo_finished; /* handlers done */
static atomic_bool held;         /* "hold" requests wait while this is true */
static atomic_bool last_by_mac;  /* the last request the handler ran was MAC'd */
static void *_Atomic last_ctx;   /* and its service's ctx (which server ran it) */

static us_err echo(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__Testing__EchoRequest *req = (const Usher__Testing__EchoRequest *)request;
	atomic_fetch_add(&echo_calls, 1);
	atomic_store(&last_by_mac, us_call_caller(call)->by_mac);
	atomic_store(&last_ctx, us_call_service_ctx(call));
	if (req->sleep_ms > 0)
		usleep(req->sleep_ms * 1000);
	/* Busy until the test lets go: what happens meanwhile does not depend on timing. */
	for (int waited = 0; strcmp(req->text, "hold") == 0 && atomic_load(&held) && waited < 60000;
	     waited++)
		usleep(1000);
	atomic_fetch_add(&echo_finished, 1);
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
	us_auth *auth;
} fixture;

/* Besides the test key (every right): a caller with no right, one limited to Health, and
 * a key nobody trusts. */
static us_caller_key plain_key, limited_key, stranger_key;

static us_auth *test_auth(void)
{
	char plain[200], limited[200], policy[420];
	ut_policy_line(plain, sizeof(plain), "plain", &plain_key, "");
	ut_policy_line(limited, sizeof(limited), "limited", &limited_key, "methods=usher.v1.Health/*");
	snprintf(policy, sizeof(policy), "%s\n%s", plain, limited);
	return ut_test_auth(policy, NULL, NULL);
}

static void start(fixture *f, int workers)
{
	f->auth = test_auth();
	us_rpc_server_opts opts = {
		.listen_url = f->url,
		.workers = workers,
		.max_message_bytes = SERVER_MAX,
		.default_timeout_ms = 5000,
		.auth = f->auth,
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
	atomic_store(&echo_finished, 0);
	atomic_store(&held, false);
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
	atomic_store(&held, false); /* a held handler finishes, and the server can stop */
	us_rpc_server_stop(f->srv);
	us_auth_free(f->auth);
	us_arena_free(f->arena);
	free(f);
	return 0;
}

/* req as a signed frame: stamped now with a fresh nonce unless the test set them. */
static uint8_t *sign_raw(fixture *f, const us_caller_key *key, Usher__V1__RpcRequest *req,
                         size_t *len)
{
	static uint8_t nonce[16];
	if (req->issued_at_ms == 0)
		req->issued_at_ms = us_wall_ms();
	if (req->nonce.len == 0) {
		randombytes_buf(nonce, sizeof(nonce));
		req->nonce.data = nonce;
		req->nonce.len = sizeof(nonce);
	}
	uint8_t *out;
	assert_int_equal(us_rpc_sign(key, req, f->arena, &out, len), US_OK);
	return out;
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

	/* A sound, signed envelope around a garbage payload. */
	Usher__V1__RpcRequest req = USHER__V1__RPC_REQUEST__INIT;
	req.method = ECHO;
	req.payload.data = (uint8_t *)garbage;
	req.payload.len = sizeof(garbage);
	size_t len;
	uint8_t *buf = sign_raw(f, ut_test_key(), &req, &len);
	reply = call_raw(f, buf, len, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__INVALID_ARGUMENT);
	assert_non_null(strstr(reply->status->message, "malformed"));
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	/* A signed envelope naming no method. */
	Usher__V1__RpcRequest empty = USHER__V1__RPC_REQUEST__INIT;
	buf = sign_raw(f, ut_test_key(), &empty, &len);
	reply = call_raw(f, buf, len, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__UNIMPLEMENTED);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	/* An empty message is an unsigned one. */
	reply = call_raw(f, "", 0, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__UNAUTHENTICATED);
	assert_string_equal(reply->status->reason, "UNSIGNED");
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
	/* Over the server's limit but under the client's: NNG drops it on the server side and
	 * closes the connection, so no handler runs; the call, retried once, is UNAVAILABLE. */
	size_t big = SERVER_MAX + 1024;
	char *text = malloc(big + 1);
	memset(text, 'a', big);
	text[big] = '\0';
	us_status st;
	us_err rc = call_echo(f, text, 0, 500, NULL, &st);
	/* or, when it waits for a new connection in vain, no reply in time */
	assert_true(rc == US_EUNAVAILABLE || rc == US_EDEADLINE);
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
	const char *send; /* "hold": busy until released */
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
	req.text = (char *)(c->send != NULL ? c->send : "slow");
	req.sleep_ms = c->sleep_ms;
	us_rpc_call_opts opts = {.timeout_ms = 60000};
	ProtobufCMessage *out = NULL;
	c->rc = us_rpc_call(client, ECHO, &opts, &req.base, &usher__testing__echo_reply__descriptor,
	                    arena, &out, NULL);
	if (c->rc == US_OK)
		snprintf(c->text, sizeof(c->text), "%s", ((Usher__Testing__EchoReply *)out)->text);
	us_arena_free(arena);
	us_rpc_client_close(client);
	return NULL;
}

/* Waits until n handlers have started (or fails after a minute). */
static void wait_started(int n)
{
	for (int i = 0; atomic_load(&echo_calls) < n; i++) {
		if (i > 60000)
			fail_msg("%d of %d handlers started", atomic_load(&echo_calls), n);
		usleep(1000);
	}
}

/* A raw request sent on the fixture's client (connected already) from a thread of its own. */
typedef struct raw_call {
	fixture *f;
	const uint8_t *data;
	size_t len;
	Usher__V1__RpcReply *reply;
} raw_call;

static void *run_raw(void *arg)
{
	raw_call *c = arg;
	us_arena *arena = us_arena_new();
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	if (us_rpc_call_raw(c->f->client, c->data, c->len, 60000, arena, &raw, &raw_len) == US_OK)
		c->reply = usher__v1__rpc_reply__unpack(NULL, raw_len, raw);
	us_arena_free(arena);
	return NULL;
}

static us_rpc_pending *start_echo(fixture *f, const char *text, const char *actor,
                                  uint32_t timeout_ms)
{
	Usher__Testing__EchoRequest *req = US_ARENA_NEW(f->arena, Usher__Testing__EchoRequest);
	usher__testing__echo_request__init(req);
	req->text = (char *)text;
	us_rpc_call_opts opts = {.timeout_ms = timeout_ms, .actor_user_id = actor};
	us_rpc_pending *p = us_rpc_call_start(f->client, ECHO, &opts, &req->base, f->arena);
	assert_non_null(p);
	return p;
}

static us_err finish_echo(us_rpc_pending *p, Usher__Testing__EchoReply **out, us_status *st)
{
	ProtobufCMessage *reply = NULL;
	us_err rc = us_rpc_call_finish(p, &usher__testing__echo_reply__descriptor, &reply, st);
	*out = (Usher__Testing__EchoReply *)reply;
	return rc;
}

/* Calls started from one thread are in flight together: two held handlers run at once
 * (neither start waited for its reply), and each finish gets its own call's reply, in any
 * order. A started call the server refuses gets the server's status; one past its
 * deadline is DEADLINE_EXCEEDED. */
static void test_started_calls_are_in_flight_together(void **state)
{
	fixture *f = *state;
	const char *ann = "00000000-0000-4000-8000-00000000000a";
	const char *bob = "00000000-0000-4000-8000-00000000000b";
	atomic_store(&held, true);
	us_rpc_pending *first = start_echo(f, "hold", ann, 60000);
	us_rpc_pending *second = start_echo(f, "hold", bob, 60000);
	wait_started(2);
	assert_int_equal(atomic_load(&echo_finished), 0);
	atomic_store(&held, false);
	Usher__Testing__EchoReply *reply;
	assert_int_equal(finish_echo(second, &reply, NULL), US_OK);
	assert_string_equal(reply->actor_user_id, bob);
	assert_int_equal(finish_echo(first, &reply, NULL), US_OK);
	assert_string_equal(reply->actor_user_id, ann);

	us_status st;
	assert_int_equal(finish_echo(start_echo(f, "invalid", ann, 5000), &reply, &st), US_EINVAL);
	assert_int_equal(st.n_violations, 1);
	assert_string_equal(st.violations[0].field, "text");
	us_status_clear(&st);

	atomic_store(&held, true);
	us_rpc_pending *late = start_echo(f, "hold", ann, 200);
	assert_int_equal(finish_echo(late, &reply, &st), US_EDEADLINE);
	us_status_clear(&st);
	atomic_store(&held, false);
	assert_int_equal(us_rpc_call_finish(NULL, &usher__testing__echo_reply__descriptor,
	                                    (ProtobufCMessage **)&reply, &st),
	                 US_EEXHAUSTED);
	us_status_clear(&st);
}

static void test_expired_deadline_is_deadline_exceeded(void **state)
{
	fixture *f = *state;
	/* The only worker is held busy; a request with a 100 ms budget waits in the queue
	 * past its deadline and is answered without running. */
	atomic_store(&held, true);
	slow_call slow = {.f = f, .send = "hold"};
	pthread_t t;
	pthread_create(&t, NULL, run_slow, &slow);
	wait_started(1);

	Usher__Testing__EchoRequest ereq = USHER__TESTING__ECHO_REQUEST__INIT;
	ereq.text = "late";
	uint8_t payload[64];
	Usher__V1__RpcRequest req = USHER__V1__RPC_REQUEST__INIT;
	req.method = ECHO;
	req.timeout_ms = 100;
	req.payload.data = payload;
	req.payload.len = usher__testing__echo_request__pack(&ereq, payload);
	/* The request must reach the server while the worker is held, which a loaded machine
	 * may delay: one that arrived after the release may run (and is not what this tests),
	 * so the hold is doubled until the request is seen expiring in the queue. */
	Usher__V1__RpcReply *late = NULL;
	for (int hold_ms = 500;; hold_ms *= 2) {
		size_t len;
		raw_call call = {.f = f};
		call.data = sign_raw(f, ut_test_key(), &req, &len);
		call.len = len;
		pthread_t lt;
		pthread_create(&lt, NULL, run_raw, &call);
		usleep((useconds_t)hold_ms * 1000);
		atomic_store(&held, false);
		pthread_join(lt, NULL);
		pthread_join(t, NULL);
		assert_int_equal(slow.rc, US_OK);
		assert_non_null(call.reply);
		assert_non_null(call.reply->status);
		if (call.reply->status->code == USHER__V1__CODE__DEADLINE_EXCEEDED) {
			late = call.reply;
			break;
		}
		usher__v1__rpc_reply__free_unpacked(call.reply, NULL);
		if (hold_ms > 30000)
			fail_msg("a request queued behind a held worker was never answered DEADLINE_EXCEEDED");
		/* Hold the worker again; the next try is a new request (a fresh nonce). */
		req.issued_at_ms = 0;
		req.nonce.len = 0;
		atomic_store(&echo_calls, 0);
		atomic_store(&echo_finished, 0);
		atomic_store(&held, true);
		slow = (slow_call){.f = f, .send = "hold"};
		pthread_create(&t, NULL, run_slow, &slow);
		wait_started(1);
	}
	assert_int_equal(late->status->code, USHER__V1__CODE__DEADLINE_EXCEEDED);
	usher__v1__rpc_reply__free_unpacked(late, NULL);
	assert_int_equal(atomic_load(&echo_calls), 1); /* only the held one ran */

	/* A client that stops waiting gets DEADLINE_EXCEEDED while the server still works on
	 * its request: the client's deadline holds whatever the server does. */
	atomic_store(&held, true);
	us_status st;
	assert_int_equal(call_echo(f, "hold", 0, 100, NULL, &st), US_EDEADLINE);
	us_status_clear(&st);
	wait_started(2);
	assert_int_equal(atomic_load(&echo_finished), 1);
	/* The worker stays held: teardown lets it go once the client is closed, so its reply
	 * never arrives during the close (see socket_close.h). */
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
	wait_started(1);
	int64_t t0 = us_monotonic_ms();
	us_rpc_server_stop(f->srv);
	int64_t took = us_monotonic_ms() - t0;
	f->srv = NULL;
	/* The stop waited for the request it had taken, which got its answer. */
	assert_int_equal(atomic_load(&echo_finished), 1);
	pthread_join(t, NULL);
	assert_int_equal(slow.rc, US_OK);
	assert_string_equal(slow.text, "slow");
	print_message("the stop took %lld ms with a 300 ms request in flight\n", (long long)took);

	/* Nobody listens any more. */
	us_rpc_client *c;
	char err[128];
	us_rpc_client_opts copts = {.url = f->url, .caller = "late"};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_EUNAVAILABLE);
}

/* Background work asks whether a server is there before a call that would only wait out
 * its deadline: true while connected, false once the server is gone. */
static bool connected_within(us_rpc_client *c, bool want, int64_t ms)
{
	int64_t deadline = us_monotonic_ms() + ms;
	while (us_rpc_client_connected(c) != want) {
		if (us_monotonic_ms() > deadline)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

static void test_client_knows_whether_a_server_is_connected(void **state)
{
	fixture *f = *state;
	assert_true(connected_within(f->client, true, 10000));
	us_rpc_server_stop(f->srv);
	f->srv = NULL;
	assert_true(connected_within(f->client, false, 10000));

	us_rpc_client *c;
	char err[128];
	us_rpc_client_opts copts = {.url = f->url, .caller = "early", .wait_for_server = true};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_OK);
	assert_false(us_rpc_client_connected(c));
	us_rpc_client_close(c);
}

typedef struct waiting_call {
	us_rpc_client *client;
	us_err rc;
} waiting_call;

static void *run_waiting_call(void *arg)
{
	waiting_call *w = arg;
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	us_rpc_call_opts opts = {.timeout_ms = 120000};
	us_arena *a = us_arena_new();
	ProtobufCMessage *out = NULL;
	w->rc = us_rpc_call(w->client, "usher.v1.Health/Check", &opts, &req.base,
	                    &usher__v1__health_check_response__descriptor, a, &out, NULL);
	us_arena_free(a);
	return NULL;
}

/* A daemon's stop aborts its peers' clients: a call waiting for a server that is gone
 * ends at once as UNAVAILABLE, not at its two-minute deadline (DEADLINE_EXCEEDED), and
 * later calls fail straight away. */
static void test_abort_ends_a_call_waiting_for_its_server(void **state)
{
	fixture *f = *state;
	us_rpc_server_stop(f->srv);
	f->srv = NULL;
	us_rpc_client *c;
	char err[128];
	us_rpc_client_opts copts = {.url = f->url, .caller = "stopping", .wait_for_server = true};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_OK);
	waiting_call w = {.client = c, .rc = US_OK};
	pthread_t t;
	pthread_create(&t, NULL, run_waiting_call, &w);
	struct timespec pause = {0, 200 * 1000000L}; /* the call is most likely waiting by now */
	nanosleep(&pause, NULL);
	us_rpc_client_abort(c);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, US_EUNAVAILABLE);
	run_waiting_call(&w);
	assert_int_equal(w.rc, US_EUNAVAILABLE);
	us_rpc_client_abort(c); /* again: nothing more */
	us_rpc_client_close(c);
}

/* A server whose kernel takes connections but which answers nothing, as a paused
 * (SIGSTOP) or wedged daemon: connecting gives up at its timeout. NNG's own blocking dial
 * waits 10 s for the handshake whatever the caller's deadline. The slack below is far
 * above any scheduling delay and far below those 10 s. (A call on a connection whose
 * server stops answering: test_expired_deadline_is_deadline_exceeded.) */
static void test_connecting_gives_up_on_a_silent_server(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ntohs(sa.sin_port));

	enum { DEADLINE_MS = 300, SLACK_MS = 5000 };
	int64_t t0 = us_monotonic_ms();
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts copts = {.url = url, .caller = "rpc_test", .connect_timeout_ms = DEADLINE_MS};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_EUNAVAILABLE);
	int64_t took = us_monotonic_ms() - t0;
	assert_non_null(strstr(err, "no answer within 300 ms"));
	print_message("connecting to a silent server gave up after %lld ms (%d ms allowed)\n",
	              (long long)took, DEADLINE_MS);
	assert_true(took < DEADLINE_MS + SLACK_MS);
	close(fd);

	/* Nobody at all: refused at once, UNAVAILABLE. */
	us_rpc_client_opts gone = {.url = url, .caller = "rpc_test"};
	assert_int_equal(us_rpc_client_open(&gone, &c, err, sizeof(err)), US_EUNAVAILABLE);
}

/* A loopback address nobody listens on. */
static void dead_url(char *out, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(out, size, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
}

/* A tool given replicas (no wait_for_server) connects when any of them answers, and fails
 * UNAVAILABLE within its timeout when none does; a malformed list is refused. */
static void test_tool_given_replicas_uses_the_one_that_answers(void **state)
{
	fixture *f = *state;
	char dead[64], dead2[64], list[256], err[256];
	dead_url(dead, sizeof(dead));
	dead_url(dead2, sizeof(dead2));
	snprintf(list, sizeof(list), "%s,%s", dead, f->url);
	us_rpc_client *c;
	us_rpc_client_opts copts = {.url = list, .caller = "tool", .connect_timeout_ms = 10000};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_OK);
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	for (int i = 0; i < 5; i++)
		assert_int_equal(us_rpc_call(c, "usher.v1.Health/Check", NULL, &req.base,
		                             &usher__v1__health_check_response__descriptor, f->arena,
		                             &out, NULL),
		                 US_OK);
	us_rpc_client_close(c);

	snprintf(list, sizeof(list), "%s,%s", dead, dead2);
	copts.connect_timeout_ms = 300;
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_EUNAVAILABLE);
	assert_non_null(strstr(err, "could not connect to any of"));

	snprintf(list, sizeof(list), "%s,,%s", dead, f->url);
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, "none empty"));
}

static void test_table_naming_a_missing_method_is_refused(void **state)
{
	(void)state;
	static const us_rpc_method bad_methods[] = {{"Missing", echo, 0}};
	const us_rpc_service bad = {&usher__testing__echo_service__descriptor, bad_methods, 1, NULL};
	us_auth *auth = test_auth();
	us_rpc_server_opts opts = {.listen_url = "inproc://bad", .workers = 1,
	                           .max_message_bytes = 1024, .default_timeout_ms = 1000,
	                           .auth = auth};
	us_rpc_server *srv = NULL;
	char err[256];
	assert_int_equal(us_rpc_server_start(&opts, &bad, 1, &srv, err, sizeof(err)), US_EINTERNAL);
	assert_null(srv);
	assert_non_null(strstr(err, "Missing"));

	/* And no server starts without a caller policy. */
	const us_rpc_service good = {&usher__testing__echo_service__descriptor, echo_methods, 1, NULL};
	opts.auth = NULL;
	assert_int_equal(us_rpc_server_start(&opts, &good, 1, &srv, err, sizeof(err)), US_EINVAL);
	assert_null(srv);
	us_auth_free(auth);
}

/* Sends frame and expects UNAUTHENTICATED with reason. */
static void expect_refused(fixture *f, const uint8_t *frame, size_t len, const char *reason)
{
	Usher__V1__RpcReply *reply = call_raw(f, frame, len, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__UNAUTHENTICATED);
	assert_string_equal(reply->status->reason, reason);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);
}

static void echo_request(fixture *f, Usher__V1__RpcRequest *req, const char *text)
{
	Usher__Testing__EchoRequest ereq = USHER__TESTING__ECHO_REQUEST__INIT;
	ereq.text = (char *)text;
	usher__v1__rpc_request__init(req);
	req->method = ECHO;
	req->payload.len = usher__testing__echo_request__get_packed_size(&ereq);
	req->payload.data = us_arena_alloc(f->arena, req->payload.len);
	usher__testing__echo_request__pack(&ereq, req->payload.data);
}

static void test_unsigned_forged_stale_and_replayed_requests_are_unauthenticated(void **state)
{
	fixture *f = *state;
	Usher__V1__RpcRequest req;
	size_t len;

	/* Unsigned: a bare request, and a frame without key or signature. */
	echo_request(f, &req, "unsigned");
	req.issued_at_ms = us_wall_ms();
	uint8_t bare[256];
	expect_refused(f, bare, usher__v1__rpc_request__pack(&req, bare), "UNSIGNED");
	Usher__V1__SignedRequest frame = USHER__V1__SIGNED_REQUEST__INIT;
	frame.request.data = bare;
	frame.request.len = usher__v1__rpc_request__pack(&req, bare);
	uint8_t framed[512];
	expect_refused(f, framed, usher__v1__signed_request__pack(&frame, framed), "UNSIGNED");

	/* Signed by a key nobody trusts. */
	echo_request(f, &req, "stranger");
	uint8_t *signed_frame = sign_raw(f, &stranger_key, &req, &len);
	expect_refused(f, signed_frame, len, "UNKNOWN_KEY");

	/* Forged: a trusted key's name on another key's signature, and a signed request
	 * whose bytes were changed after signing. */
	echo_request(f, &req, "forged");
	signed_frame = sign_raw(f, &stranger_key, &req, &len);
	Usher__V1__SignedRequest *unpacked = usher__v1__signed_request__unpack(NULL, len, signed_frame);
	assert_non_null(unpacked);
	memcpy(unpacked->public_key.data, ut_test_key()->public_key, US_PUBLIC_KEY_BYTES);
	size_t forged_len = usher__v1__signed_request__get_packed_size(unpacked);
	uint8_t *forged = us_arena_alloc(f->arena, forged_len);
	usher__v1__signed_request__pack(unpacked, forged);
	expect_refused(f, forged, forged_len, "BAD_SIGNATURE");
	usher__v1__signed_request__free_unpacked(unpacked, NULL);

	echo_request(f, &req, "tampered");
	signed_frame = sign_raw(f, ut_test_key(), &req, &len);
	unpacked = usher__v1__signed_request__unpack(NULL, len, signed_frame);
	unpacked->request.data[unpacked->request.len - 1] ^= 1; /* the last byte of the text */
	forged_len = usher__v1__signed_request__get_packed_size(unpacked);
	forged = us_arena_alloc(f->arena, forged_len);
	usher__v1__signed_request__pack(unpacked, forged);
	expect_refused(f, forged, forged_len, "BAD_SIGNATURE");
	usher__v1__signed_request__free_unpacked(unpacked, NULL);

	/* Issued two minutes ago, or two minutes ahead: outside the 60 s window. */
	echo_request(f, &req, "stale");
	req.issued_at_ms = us_wall_ms() - 120000;
	signed_frame = sign_raw(f, ut_test_key(), &req, &len);
	expect_refused(f, signed_frame, len, "CLOCK_SKEW");
	echo_request(f, &req, "early");
	req.issued_at_ms = us_wall_ms() + 120000;
	signed_frame = sign_raw(f, ut_test_key(), &req, &len);
	expect_refused(f, signed_frame, len, "CLOCK_SKEW");
	/* The extremes of the field: refused without arithmetic overflow (UBSan watches). */
	echo_request(f, &req, "long ago");
	req.issued_at_ms = INT64_MIN;
	signed_frame = sign_raw(f, ut_test_key(), &req, &len);
	expect_refused(f, signed_frame, len, "CLOCK_SKEW");
	echo_request(f, &req, "far ahead");
	req.issued_at_ms = INT64_MAX;
	signed_frame = sign_raw(f, ut_test_key(), &req, &len);
	expect_refused(f, signed_frame, len, "CLOCK_SKEW");

	/* A nonce of the wrong size. */
	echo_request(f, &req, "short nonce");
	req.nonce.data = (uint8_t *)"12345678";
	req.nonce.len = 8;
	signed_frame = sign_raw(f, ut_test_key(), &req, &len);
	expect_refused(f, signed_frame, len, "BAD_NONCE");
	assert_int_equal(atomic_load(&echo_calls), 0);

	/* A good request runs once; the same bytes again are a replay. */
	echo_request(f, &req, "once");
	signed_frame = sign_raw(f, ut_test_key(), &req, &len);
	Usher__V1__RpcReply *reply = call_raw(f, signed_frame, len, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__OK);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);
	expect_refused(f, signed_frame, len, "REPLAYED");
	assert_int_equal(atomic_load(&echo_calls), 1);
}

/* req MAC'd by key for server_key: stamped now with a fresh nonce unless the test set them. */
static uint8_t *mac_raw(fixture *f, const us_caller_key *key, const uint8_t *server_key,
                        Usher__V1__RpcRequest *req, size_t *len)
{
	static uint8_t nonce[16];
	if (req->issued_at_ms == 0)
		req->issued_at_ms = us_wall_ms();
	if (req->nonce.len == 0) {
		randombytes_buf(nonce, sizeof(nonce));
		req->nonce.data = nonce;
		req->nonce.len = sizeof(nonce);
	}
	uint8_t *out;
	assert_int_equal(us_rpc_mac(key, server_key, req, f->arena, &out, len), US_OK);
	return out;
}

/* A MAC'd frame with a byte of its MAC flipped, or of its request, or its caller key
 * replaced by caller's (NULL: kept). */
static uint8_t *altered(fixture *f, const uint8_t *frame, size_t len, bool flip_mac,
                        bool flip_request, const us_caller_key *caller)
{
	Usher__V1__SignedRequest *sr = usher__v1__signed_request__unpack(NULL, len, frame);
	assert_non_null(sr);
	assert_int_equal(sr->n_macs, 1);
	if (flip_mac)
		sr->macs[0]->mac.data[5] ^= 0x01;
	if (flip_request)
		sr->request.data[sr->request.len - 1] ^= 1; /* the last byte of the text */
	if (caller != NULL)
		memcpy(sr->public_key.data, caller->public_key, US_PUBLIC_KEY_BYTES);
	uint8_t *out = us_arena_alloc(f->arena, usher__v1__signed_request__get_packed_size(sr));
	usher__v1__signed_request__pack(sr, out);
	usher__v1__signed_request__free_unpacked(sr, NULL);
	return out;
}

/* A MAC'd request passes the same steps as a signed one, each refusal with its reason
 * and nothing run: a good one runs once (the handler sees it MAC'd) and its copy is a
 * replay; a flipped MAC byte, a changed request byte, a MAC for another server's key, a
 * MAC by a key nobody trusts, a trusted key's name on a stranger's MAC, a stale issue time
 * are refused. Every reply names the server's key. */
static void test_maced_requests_are_authenticated_like_signed_ones(void **state)
{
	fixture *f = *state;
	const uint8_t *server_key = ut_test_server_key()->public_key;
	Usher__V1__RpcRequest req;
	size_t len;

	echo_request(f, &req, "maced");
	uint8_t *frame = mac_raw(f, ut_test_key(), server_key, &req, &len);
	Usher__V1__RpcReply *reply = call_raw(f, frame, len, 2000);
	assert_int_equal(reply->status->code, USHER__V1__CODE__OK);
	assert_int_equal(reply->server_key.len, US_PUBLIC_KEY_BYTES);
	assert_memory_equal(reply->server_key.data, server_key, US_PUBLIC_KEY_BYTES);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);
	assert_int_equal(atomic_load(&echo_calls), 1);
	assert_true(atomic_load(&last_by_mac));
	expect_refused(f, frame, len, "REPLAYED");

	echo_request(f, &req, "flipped");
	frame = mac_raw(f, ut_test_key(), server_key, &req, &len);
	expect_refused(f, altered(f, frame, len, true, false, NULL), len, "BAD_MAC");
	echo_request(f, &req, "tampered");
	frame = mac_raw(f, ut_test_key(), server_key, &req, &len);
	expect_refused(f, altered(f, frame, len, false, true, NULL), len, "BAD_MAC");

	/* For another server (a daemon restarted with a new key, another service). */
	echo_request(f, &req, "other server");
	frame = mac_raw(f, ut_test_key(), stranger_key.public_key, &req, &len);
	expect_refused(f, frame, len, "OTHER_SERVER_KEY");

	/* By a key nobody trusts; and that MAC presented under a trusted key's name. */
	echo_request(f, &req, "stranger");
	frame = mac_raw(f, &stranger_key, server_key, &req, &len);
	expect_refused(f, frame, len, "UNKNOWN_KEY");
	echo_request(f, &req, "forged");
	frame = mac_raw(f, &stranger_key, server_key, &req, &len);
	expect_refused(f, altered(f, frame, len, false, false, ut_test_key()), len, "BAD_MAC");

	echo_request(f, &req, "stale");
	req.issued_at_ms = us_wall_ms() - 120000;
	frame = mac_raw(f, ut_test_key(), server_key, &req, &len);
	expect_refused(f, frame, len, "CLOCK_SKEW");

	/* A MAC beside a signature is malformed, not a way around either. */
	echo_request(f, &req, "both");
	frame = mac_raw(f, ut_test_key(), server_key, &req, &len);
	Usher__V1__SignedRequest *sr = usher__v1__signed_request__unpack(NULL, len, frame);
	uint8_t junk[US_SIGNATURE_BYTES] = {0};
	sr->signature.data = junk;
	sr->signature.len = sizeof(junk);
	uint8_t *both = us_arena_alloc(f->arena, usher__v1__signed_request__get_packed_size(sr));
	size_t both_len = usher__v1__signed_request__pack(sr, both);
	sr->signature.data = NULL; /* not the unpacker's to free */
	sr->signature.len = 0;
	usher__v1__signed_request__free_unpacked(sr, NULL);
	expect_refused(f, both, both_len, "BAD_MAC");
	assert_int_equal(atomic_load(&echo_calls), 1);
}

/* One echo through f's client; returns whether the handler saw it MAC'd. */
static bool echo_maced(fixture *f, const char *text)
{
	us_status st;
	assert_int_equal(call_echo(f, text, 0, 5000, NULL, &st), US_OK);
	return atomic_load(&last_by_mac);
}

/* Requests the in-process servers refused before a method was known (the metric). */
static double refused(void)
{
	const char *labels[] = {"usher", "unknown", "UNAUTHENTICATED"};
	return us_metrics_value(
	        us_metrics_family(US_METRIC_COUNTER, "usher_rpc_requests_total",
	                          "RPC requests handled, by method and status code",
	                          "service,method,code"),
	        labels);
}

/* Restarts f's server on its address with server_key (NULL: signed requests only), and
 * waits until the client is connected to it. */
static void restart_with(fixture *f, const us_caller_key *server_key)
{
	us_rpc_server_stop(f->srv);
	us_auth_free(f->auth);
	assert_true(connected_within(f->client, false, 10000));
	char plain[200];
	ut_policy_line(plain, sizeof(plain), "plain", &plain_key, "");
	f->auth = ut_test_auth_keyed(plain, NULL, NULL, server_key);
	us_rpc_server_opts opts = {.listen_url = f->url, .workers = 1,
	                           .max_message_bytes = SERVER_MAX, .default_timeout_ms = 5000,
	                           .auth = f->auth};
	char err[256];
	if (us_rpc_server_start(&opts, &echo_service, 1, &f->srv, err, sizeof(err)) != US_OK)
		fail_msg("server: %s", err);
	assert_true(connected_within(f->client, true, 10000));
}

/* The client signs its first request, MACs the next ones for the key the reply named.
 * Replicas with different keys (one restarted with a new key): a MAC'd request reaching
 * the other one is refused once (OTHER_SERVER_KEY), sent again signed (the handler runs
 * once), and from then on requests carry a MAC for each key and pass at either. A call
 * with another signer is signed. A server without a key refuses one MAC, then gets
 * signed requests only. */
static void test_client_macs_once_it_knows_the_server_key_and_relearns_it(void **state)
{
	fixture *f = *state;
	double refusals = refused();
	assert_false(echo_maced(f, "first"));
	assert_true(echo_maced(f, "second"));
	assert_true(echo_maced(f, "third"));
	assert_int_equal(atomic_load(&echo_calls), 3);
	assert_true(refused() == refusals);

	/* A replica holding another key, and a client of both that knows the first key. */
	us_caller_key other;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1], plain[200], err[256];
	us_caller_key_generate(&other, secret);
	ut_policy_line(plain, sizeof(plain), "plain", &plain_key, "");
	us_auth *other_auth = ut_test_auth_keyed(plain, NULL, NULL, &other);
	static int other_marker;
	const us_rpc_service other_service = {&usher__testing__echo_service__descriptor,
	                                      echo_methods, 1, &other_marker};
	us_rpc_server_opts sopts = {.listen_url = "tcp://127.0.0.1:0", .workers = 1,
	                            .max_message_bytes = SERVER_MAX, .default_timeout_ms = 5000,
	                            .auth = other_auth};
	us_rpc_server *other_srv;
	if (us_rpc_server_start(&sopts, &other_service, 1, &other_srv, err, sizeof(err)) != US_OK)
		fail_msg("server: %s", err);
	char both[300];
	snprintf(both, sizeof(both), "%s,%s", f->url, us_rpc_server_url(other_srv));
	us_rpc_client *c;
	us_rpc_client_opts copts = {.url = both, .caller = "rpc_test"};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_OK);
	int64_t deadline = us_monotonic_ms() + 10000;
	while (us_rpc_client_connections(c) < 2 && us_monotonic_ms() < deadline)
		usleep(5000);
	assert_int_equal(us_rpc_client_connections(c), 2);

	Usher__Testing__EchoRequest echo_req = USHER__TESTING__ECHO_REQUEST__INIT;
	echo_req.text = "replicas";
	us_rpc_call_opts opts = {.timeout_ms = 5000};
	ProtobufCMessage *out;
	bool maced_at_first = false, maced_at_other = false;
	int calls = 0, before = atomic_load(&echo_calls);
	refusals = refused();
	while (!(maced_at_first && maced_at_other) && calls < 200) {
		assert_int_equal(us_rpc_call(c, ECHO, &opts, &echo_req.base,
		                             &usher__testing__echo_reply__descriptor, f->arena, &out,
		                             NULL),
		                 US_OK);
		calls++;
		bool at_other = atomic_load(&last_ctx) == &other_marker;
		maced_at_first |= atomic_load(&last_by_mac) && !at_other;
		maced_at_other |= atomic_load(&last_by_mac) && at_other;
	}
	assert_true(maced_at_first && maced_at_other);
	assert_int_equal(atomic_load(&echo_calls) - before, calls);
	assert_true(refused() == refusals + 1);

	/* A call with another signer (the gateway forwarding an API key) is signed. */
	opts.signer = &plain_key;
	assert_int_equal(us_rpc_call(c, ECHO, &opts, &echo_req.base,
	                             &usher__testing__echo_reply__descriptor, f->arena, &out, NULL),
	                 US_OK);
	assert_false(atomic_load(&last_by_mac));
	us_rpc_client_close(c);
	us_rpc_server_stop(other_srv);
	us_auth_free(other_auth);

	/* The fixture's server restarted without a key. */
	refusals = refused();
	restart_with(f, NULL);
	assert_false(echo_maced(f, "no server key"));
	assert_true(refused() == refusals + 1);
	assert_false(echo_maced(f, "still signed"));
	assert_false(echo_maced(f, "and signed"));
	assert_true(refused() == refusals + 1);
}

/* One call with key as the client's, naming actor (may be NULL). */
static us_err call_as(fixture *f, const us_caller_key *key, const char *method,
                      const char *actor, us_status *st)
{
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts copts = {.url = f->url, .caller = "rpc_test", .key = key};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_OK);
	Usher__Testing__EchoRequest echo_req = USHER__TESTING__ECHO_REQUEST__INIT;
	echo_req.text = "as";
	Usher__V1__HealthCheckRequest health_req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	bool is_echo = strcmp(method, ECHO) == 0;
	us_rpc_call_opts opts = {.timeout_ms = 2000, .actor_user_id = actor};
	ProtobufCMessage *out;
	us_err rc = us_rpc_call(c, method, &opts, is_echo ? &echo_req.base : &health_req.base,
	                        is_echo ? &usher__testing__echo_reply__descriptor
	                                : &usher__v1__health_check_response__descriptor,
	                        f->arena, &out, st);
	us_rpc_client_close(c);
	return rc;
}

static void test_rights_decide_who_names_an_actor_and_calls_what(void **state)
{
	fixture *f = *state;
	us_status st;
	/* A caller without the actor right acts only as itself. */
	assert_int_equal(call_as(f, &plain_key, ECHO, NULL, &st), US_OK);
	assert_int_equal(call_as(f, &plain_key, ECHO, "8d1b6f0e-8d51-4c9e-9d2b-1f7f5a3c2e10", &st),
	                 US_EDENIED);
	assert_non_null(strstr(st.message, "may not act for a person"));
	us_status_clear(&st);
	assert_int_equal(call_as(f, ut_test_key(), ECHO, "8d1b6f0e-8d51-4c9e-9d2b-1f7f5a3c2e10", &st),
	                 US_OK);
	/* methods= limits what a caller may call; Health answers every known caller. */
	assert_int_equal(call_as(f, &limited_key, ECHO, NULL, &st), US_EDENIED);
	us_status_clear(&st);
	assert_int_equal(call_as(f, &limited_key, "usher.v1.Health/Check", NULL, &st), US_OK);
	assert_int_equal(call_as(f, &stranger_key, "usher.v1.Health/Check", NULL, &st),
	                 US_EUNAUTHENTICATED);
	assert_string_equal(st.reason, "UNKNOWN_KEY");
	us_status_clear(&st);
	assert_int_equal(atomic_load(&echo_calls), 2);
}

/* A server that answers the first `refuse` requests UNAUTHENTICATED "REPLAYED", as ours
 * does when a transport resends a request's bytes, and records what it was sent. */
typedef struct fake_server {
	nng_socket sock;
	char url[64];
	int refuse;
	int seen;
	bool signed_ok[2];
	char keys[2][64];
	uint8_t nonces[2][16];
	pthread_t thread;
} fake_server;

static void *fake_main(void *arg)
{
	fake_server *fs = arg;
	for (int i = 0; i < 2; i++) {
		nng_msg *msg;
		if (nng_recvmsg(fs->sock, &msg, 0) != 0)
			return NULL;
		Usher__V1__SignedRequest *sr = usher__v1__signed_request__unpack(NULL, nng_msg_len(msg),
		                                                                 nng_msg_body(msg));
		nng_msg_free(msg);
		Usher__V1__RpcRequest *req = sr != NULL ? usher__v1__rpc_request__unpack(
		                                                  NULL, sr->request.len, sr->request.data)
		                                        : NULL;
		if (req == NULL || req->nonce.len != 16 || sr->signature.len != 64)
			return NULL;
		fs->signed_ok[i] = us_caller_key_verify(ut_test_key()->public_key, sr->request.data,
		                                        sr->request.len, sr->signature.data);
		snprintf(fs->keys[i], sizeof(fs->keys[i]), "%s", req->idempotency_key);
		memcpy(fs->nonces[i], req->nonce.data, 16);
		fs->seen++;
		usher__v1__rpc_request__free_unpacked(req, NULL);
		usher__v1__signed_request__free_unpacked(sr, NULL);

		Usher__V1__Status st = USHER__V1__STATUS__INIT;
		Usher__V1__RpcReply reply = USHER__V1__RPC_REPLY__INIT;
		Usher__Testing__EchoReply echo_reply = USHER__TESTING__ECHO_REPLY__INIT;
		uint8_t payload[64];
		if (i < fs->refuse) {
			st.code = USHER__V1__CODE__UNAUTHENTICATED;
			st.message = "this request was already received";
			st.reason = "REPLAYED";
		} else {
			echo_reply.text = "second time";
			reply.payload.data = payload;
			reply.payload.len = usher__testing__echo_reply__pack(&echo_reply, payload);
		}
		reply.status = &st;
		nng_msg *out;
		nng_msg_alloc(&out, usher__v1__rpc_reply__get_packed_size(&reply));
		usher__v1__rpc_reply__pack(&reply, nng_msg_body(out));
		if (nng_sendmsg(fs->sock, out, 0) != 0)
			nng_msg_free(out);
	}
	return NULL;
}

static void fake_start(fake_server *fs, int refuse)
{
	memset(fs, 0, sizeof(*fs));
	fs->refuse = refuse;
	nng_listener l;
	nng_sockaddr sa;
	assert_int_equal(nng_rep0_open(&fs->sock), 0);
	assert_int_equal(nng_listen(fs->sock, "tcp://127.0.0.1:0", &l, 0), 0);
	assert_int_equal(nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), 0);
	snprintf(fs->url, sizeof(fs->url), "tcp://127.0.0.1:%u", ntohs(sa.s_in.sa_port));
	pthread_create(&fs->thread, NULL, fake_main, fs);
}

static us_err call_fake(fake_server *fs, us_arena *arena, us_status *st)
{
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts copts = {.url = fs->url, .caller = "rpc_test"};
	assert_int_equal(us_rpc_client_open(&copts, &c, err, sizeof(err)), US_OK);
	Usher__Testing__EchoRequest req = USHER__TESTING__ECHO_REQUEST__INIT;
	req.text = "again";
	us_rpc_call_opts opts = {.timeout_ms = 5000, .idempotency_key = "key-resent"};
	ProtobufCMessage *out;
	us_err rc = us_rpc_call(c, ECHO, &opts, &req.base, &usher__testing__echo_reply__descriptor,
	                        arena, &out, st);
	us_rpc_client_close(c);
	return rc;
}

/* A request a server took for a replay is signed anew (a fresh nonce) and sent once more
 * under the same idempotency key; a second refusal is the answer. */
static void test_replayed_reply_is_retried_once_signed_anew(void **state)
{
	(void)state;
	us_arena *arena = us_arena_new();
	fake_server fs;
	fake_start(&fs, 1);
	us_status st;
	assert_int_equal(call_fake(&fs, arena, &st), US_OK);
	pthread_join(fs.thread, NULL);
	nng_close(fs.sock);
	assert_int_equal(fs.seen, 2);
	assert_true(fs.signed_ok[0] && fs.signed_ok[1]);
	assert_string_equal(fs.keys[0], "key-resent");
	assert_string_equal(fs.keys[1], "key-resent");
	assert_memory_not_equal(fs.nonces[0], fs.nonces[1], 16);

	fake_start(&fs, 2);
	assert_int_equal(call_fake(&fs, arena, &st), US_EUNAUTHENTICATED);
	assert_string_equal(st.reason, "REPLAYED");
	us_status_clear(&st);
	pthread_join(fs.thread, NULL);
	nng_close(fs.sock);
	assert_int_equal(fs.seen, 2);
	us_arena_free(arena);
}

/* Without a socket, a packed request is handled as a worker would, authentication
 * first: the fuzz targets' way into the whole request path. */
static void test_socketless_server_handles_packed_requests(void **state)
{
	(void)state;
	us_auth *auth = ut_test_auth(NULL, NULL, NULL);
	us_rpc_server_opts opts = {.workers = 4, .max_message_bytes = SERVER_MAX,
	                           .default_timeout_ms = 1000, .auth = auth};
	us_rpc_server *srv = NULL;
	char err[256];
	assert_int_equal(us_rpc_server_start(&opts, &echo_service, 1, &srv, err, sizeof(err)), US_OK);
	assert_string_equal(us_rpc_server_url(srv), "");
	fixture f = {.arena = us_arena_new()};
	atomic_store(&echo_calls, 0);

	Usher__Testing__EchoRequest echo_req = USHER__TESTING__ECHO_REQUEST__INIT;
	echo_req.text = "hello";
	uint8_t payload[64];
	Usher__V1__RpcRequest req = USHER__V1__RPC_REQUEST__INIT;
	req.method = ECHO;
	req.request_id = "socketless";
	req.payload.data = payload;
	req.payload.len = usher__testing__echo_request__pack(&echo_req, payload);
	size_t len;
	uint8_t *frame = sign_raw(&f, ut_test_key(), &req, &len);

	uint8_t *out;
	size_t out_len;
	assert_int_equal(us_rpc_server_handle(srv, frame, len, f.arena, &out, &out_len), US_OK);
	Usher__V1__RpcReply *reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	assert_non_null(reply);
	assert_int_equal(reply->status->code, USHER__V1__CODE__OK);
	Usher__Testing__EchoReply *echoed =
	        usher__testing__echo_reply__unpack(NULL, reply->payload.len, reply->payload.data);
	assert_string_equal(echoed->text, "hello");
	assert_string_equal(echoed->request_id, "socketless");
	usher__testing__echo_reply__free_unpacked(echoed, NULL);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	/* The same frame again is a replay, as over the wire. */
	assert_int_equal(us_rpc_server_handle(srv, frame, len, f.arena, &out, &out_len), US_OK);
	reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	assert_non_null(reply);
	assert_int_equal(reply->status->code, USHER__V1__CODE__UNAUTHENTICATED);
	assert_string_equal(reply->status->reason, "REPLAYED");
	usher__v1__rpc_reply__free_unpacked(reply, NULL);

	/* The bare request, unsigned, is refused (its request id reads as a malformed key);
	 * a cut frame is INVALID_ARGUMENT. */
	uint8_t bare[256];
	size_t bare_len = usher__v1__rpc_request__pack(&req, bare);
	assert_int_equal(us_rpc_server_handle(srv, bare, bare_len, f.arena, &out, &out_len), US_OK);
	reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	assert_non_null(reply);
	assert_int_equal(reply->status->code, USHER__V1__CODE__UNAUTHENTICATED);
	assert_string_equal(reply->status->reason, "BAD_SIGNATURE");
	usher__v1__rpc_reply__free_unpacked(reply, NULL);
	assert_int_equal(us_rpc_server_handle(srv, frame, len / 2, f.arena, &out, &out_len), US_OK);
	reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	assert_non_null(reply);
	assert_int_equal(reply->status->code, USHER__V1__CODE__INVALID_ARGUMENT);
	usher__v1__rpc_reply__free_unpacked(reply, NULL);
	assert_int_equal(atomic_load(&echo_calls), 1);

	us_arena_free(f.arena);
	us_rpc_server_stop(srv);
	us_auth_free(auth);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&plain_key, secret);
	us_caller_key_generate(&limited_key, secret);
	us_caller_key_generate(&stranger_key, secret);
	ut_test_key();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelopes_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_method_is_unimplemented, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_is_invalid_argument_and_server_keeps_serving,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_violations_reach_the_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_message_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_started_calls_are_in_flight_together, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_expired_deadline_is_deadline_exceeded,
		                                setup_one_worker, teardown),
		cmocka_unit_test_setup_teardown(test_health_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_finishes_in_flight_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_knows_whether_a_server_is_connected, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_abort_ends_a_call_waiting_for_its_server, setup,
		                                teardown),
		cmocka_unit_test(test_connecting_gives_up_on_a_silent_server),
		cmocka_unit_test_setup_teardown(test_tool_given_replicas_uses_the_one_that_answers,
		                                setup, teardown),
		cmocka_unit_test(test_table_naming_a_missing_method_is_refused),
		cmocka_unit_test_setup_teardown(
		        test_unsigned_forged_stale_and_replayed_requests_are_unauthenticated, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(test_rights_decide_who_names_an_actor_and_calls_what,
		                                setup, teardown),
		cmocka_unit_test(test_replayed_reply_is_retried_once_signed_anew),
		cmocka_unit_test_setup_teardown(test_maced_requests_are_authenticated_like_signed_ones,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_client_macs_once_it_knows_the_server_key_and_relearns_it, setup_one_worker,
		        teardown),
		cmocka_unit_test(test_socketless_server_handles_packed_requests),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	/* Every socket closed: nng frees its pipes before LeakSanitizer looks (unless a close
	 * never finished, when nng_fini would wait for ever). */
	if (us_socket_close_all_finished())
		nng_fini();
	return failed;
}
