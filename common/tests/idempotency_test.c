/* Idempotent methods through a real server and a real database, the key claimed first
 * or ahead with the body's first statement: a repeat replays the stored reply, the same
 * key with another request is refused, a failure stores nothing, concurrent repeats
 * commit the change once, keys are scoped by caller and actor, and a
 * request whose connection drops is sent again, signed anew, under the same key. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/db.h"
#include "harness.h"
#include "common/idempotency.h"
#include "common/migrate.h"
#include "common/rpc_client.h"
#include "common/rpc_server.h"
#include "usher/testing/echo.pb-c.h"

#define REMEMBER "usher.testing.EchoService/Remember"

static const char remembered_sql[] =
        "CREATE TABLE remembered (id bigserial PRIMARY KEY, text text NOT NULL)";
static const us_migration test_migrations[] = {
	{"0001_remembered", remembered_sql, sizeof(remembered_sql) - 1},
	{NULL, NULL, 0},
};

/* Inserts a row and returns its id; "fail" inserts and then fails, to show the
 * insert is rolled back. */
static atomic_int remember_calls;

static us_err remember(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__Testing__RememberRequest *req = (const Usher__Testing__RememberRequest *)request;
	atomic_fetch_add(&remember_calls, 1);
	const char *params[] = {req->text};
	PGresult *res;
	us_err rc = us_db_exec(us_call_db(call), "INSERT INTO remembered (text) VALUES ($1) RETURNING id",
	                       1, params, &res);
	if (rc != US_OK)
		return rc;
	long long id = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (strcmp(req->text, "fail") == 0)
		return us_call_error(call, US_EPRECONDITION, "asked to fail");
	/* Widen the window for concurrent repeats; "slow" holds its key long enough for a
	 * test to cut the connection meanwhile. */
	usleep(strcmp(req->text, "slow") == 0 ? 800 * 1000 : 20 * 1000);
	Usher__Testing__RememberReply *out = US_ARENA_NEW(us_call_arena(call), Usher__Testing__RememberReply);
	usher__testing__remember_reply__init(out);
	out->text = req->text;
	out->row_id = id;
	*reply = &out->base;
	return US_OK;
}

/* The tests run twice: the claim sent first, and sent ahead with the body's first
 * statement (US_RPC_CLAIM_AHEAD: a repeat runs the body and rolls it back). */
static us_rpc_method methods[] = {
	{"Remember", remember, US_RPC_IDEMPOTENT},
};
static const us_rpc_service service = {&usher__testing__echo_service__descriptor, methods, 1, NULL};

typedef struct fixture {
	ut_db db;
	char db_url[512];
	char url[128];
	us_rpc_server *srv;
	us_auth *auth;
} fixture;

static fixture *F;
/* A second trusted caller, which may name actors too. */
static us_caller_key other_key;
static const uint8_t hash_key[32] = "0123456789abcdef0123456789abcdef";

static int setup(void **state)
{
	(void)state;
	F = calloc(1, sizeof(*F));
	ut_db_create(&F->db, "idem");
	ut_db_role_url(&F->db, "identity", F->db_url, sizeof(F->db_url));
	char err[256];
	PGconn *conn;
	if (us_db_connect(F->db_url, "identity", &conn, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	if (us_migrate(conn, "identity", test_migrations, NULL, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	PQfinish(conn);

	snprintf(F->url, sizeof(F->url), "tcp://127.0.0.1:0");
	char other[200];
	ut_policy_line(other, sizeof(other), "other", &other_key, "actor");
	F->auth = ut_test_auth(other, NULL, NULL);
	us_rpc_server_opts opts = {.listen_url = F->url, .workers = 8, .max_message_bytes = 1 << 20,
	                           .default_timeout_ms = 10000, .database_url = F->db_url,
	                           .schema = "identity", .request_hash_key = hash_key,
	                           .auth = F->auth};
	if (us_rpc_server_start(&opts, &service, 1, &F->srv, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	snprintf(F->url, sizeof(F->url), "%s", us_rpc_server_url(F->srv));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_rpc_server_stop(F->srv);
	us_auth_free(F->auth);
	ut_db_drop(&F->db);
	free(F);
	return 0;
}

static int setup_ahead(void **state)
{
	methods[0].flags = US_RPC_IDEMPOTENT | US_RPC_CLAIM_AHEAD;
	return setup(state);
}

static int teardown_ahead(void **state)
{
	methods[0].flags = US_RPC_IDEMPOTENT;
	return teardown(state);
}

typedef struct outcome {
	us_err rc;
	long long row_id;
	char field[64];
} outcome;

/* Remember(text) under idempotency key, signed with signer (NULL: the test key) at url
 * (NULL: the server's), naming actor (may be NULL). */
static outcome call_remember_as(const us_caller_key *signer, const char *actor, const char *url,
                                const char *text, const char *key)
{
	outcome o = {0};
	char err[128];
	us_rpc_client *c;
	us_rpc_client_opts copts = {.url = url != NULL ? url : F->url, .caller = "idempotency_test",
	                            .key = signer};
	if (us_rpc_client_open(&copts, &c, err, sizeof(err)) != US_OK) {
		o.rc = US_EUNAVAILABLE;
		return o;
	}
	us_arena *arena = us_arena_new();
	Usher__Testing__RememberRequest req = USHER__TESTING__REMEMBER_REQUEST__INIT;
	req.text = (char *)text;
	us_rpc_call_opts opts = {.timeout_ms = 10000, .idempotency_key = key, .actor_user_id = actor};
	ProtobufCMessage *out = NULL;
	us_status st;
	o.rc = us_rpc_call(c, REMEMBER, &opts, &req.base, &usher__testing__remember_reply__descriptor,
	                   arena, &out, &st);
	if (o.rc == US_OK)
		o.row_id = ((Usher__Testing__RememberReply *)out)->row_id;
	if (st.n_violations > 0)
		snprintf(o.field, sizeof(o.field), "%s", st.violations[0].field);
	us_status_clear(&st);
	us_arena_free(arena);
	us_rpc_client_close(c);
	return o;
}

static outcome call_remember(const char *text, const char *key)
{
	return call_remember_as(NULL, NULL, NULL, text, key);
}

static long long count_rows(const char *text)
{
	PGconn *conn = ut_db_admin(&F->db);
	const char *params[] = {text};
	PGresult *res = PQexecParams(conn, "SELECT count(*) FROM identity.remembered WHERE text = $1",
	                             1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	long long n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return n;
}

static void test_repeat_replays_the_stored_reply(void **state)
{
	(void)state;
	outcome first = call_remember("alpha", "key-alpha");
	assert_int_equal(first.rc, US_OK);
	outcome again = call_remember("alpha", "key-alpha");
	assert_int_equal(again.rc, US_OK);
	assert_int_equal(again.row_id, first.row_id);
	assert_int_equal(count_rows("alpha"), 1);

	/* Another key is another change. */
	outcome other = call_remember("alpha", "key-alpha-2");
	assert_int_equal(other.rc, US_OK);
	assert_true(other.row_id != first.row_id);
	assert_int_equal(count_rows("alpha"), 2);
}

static void test_same_key_with_another_request_is_refused(void **state)
{
	(void)state;
	assert_int_equal(call_remember("beta", "key-beta").rc, US_OK);
	outcome o = call_remember("gamma", "key-beta");
	assert_int_equal(o.rc, US_EINVAL);
	assert_string_equal(o.field, "idempotency_key");
	assert_int_equal(count_rows("gamma"), 0);
	assert_int_equal(count_rows("beta"), 1);
}

static void test_missing_key_is_refused(void **state)
{
	(void)state;
	outcome o = call_remember("delta", NULL);
	assert_int_equal(o.rc, US_EINVAL);
	assert_string_equal(o.field, "idempotency_key");
	assert_int_equal(count_rows("delta"), 0);
}

static void test_failure_stores_nothing(void **state)
{
	(void)state;
	assert_int_equal(call_remember("fail", "key-fail").rc, US_EPRECONDITION);
	assert_int_equal(count_rows("fail"), 0);
	/* The key was not kept: the same key can still be used. */
	assert_int_equal(call_remember("fail", "key-fail").rc, US_EPRECONDITION);
	assert_int_equal(call_remember("epsilon", "key-fail").rc, US_OK);
}

/* The stored hash of a request is keyed: it is neither the plain BLAKE2b of the request
 * (which an attacker holding the database could check password guesses against) nor
 * anything but the keyed one. */
static void test_stored_request_hash_is_keyed(void **state)
{
	(void)state;
	assert_int_equal(call_remember("hunter2-secret", "key-hash").rc, US_OK);
	Usher__Testing__RememberRequest req = USHER__TESTING__REMEMBER_REQUEST__INIT;
	req.text = "hunter2-secret";
	uint8_t payload[64];
	size_t len = usher__testing__remember_request__pack(&req, payload);
	const char *method = REMEMBER;
	uint8_t plain[32], keyed[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)method, strlen(method) + 1);
	crypto_generichash_update(&st, payload, len);
	crypto_generichash_final(&st, plain, 32);
	crypto_generichash_init(&st, hash_key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)method, strlen(method) + 1);
	crypto_generichash_update(&st, payload, len);
	crypto_generichash_final(&st, keyed, 32);

	PGconn *conn = ut_db_admin(&F->db);
	PGresult *res = PQexecParams(conn,
	                             "SELECT request_hash FROM identity.idempotency_keys WHERE key = $1",
	                             1, NULL, (const char *[]){"key-hash"}, NULL, NULL, 1);
	assert_int_equal(PQntuples(res), 1);
	assert_int_equal(PQgetlength(res, 0, 0), 32);
	assert_memory_not_equal(PQgetvalue(res, 0, 0), plain, 32);
	assert_memory_equal(PQgetvalue(res, 0, 0), keyed, 32);
	PQclear(res);
	PQfinish(conn);
}

/* Keys past their retention are deleted; a retry after that runs the request again. */
static void test_old_keys_are_purged(void **state)
{
	(void)state;
	outcome first = call_remember("eta", "key-eta");
	assert_int_equal(first.rc, US_OK);
	assert_int_equal(call_remember("theta", "key-theta").rc, US_OK);
	ut_db_admin_exec(&F->db, "UPDATE identity.idempotency_keys SET created_at = now() - "
	                         "interval '200 hours' WHERE key = 'key-eta'");
	PGconn *conn;
	char err[256];
	assert_int_equal(us_db_connect(F->db_url, "identity", &conn, err, sizeof(err)), US_OK);
	long deleted = -1;
	assert_int_equal(us_idempotency_purge(conn, 168, &deleted), US_OK);
	assert_int_equal(deleted, 1);
	PQfinish(conn);
	/* key-theta is young and still replays; key-eta runs anew. */
	outcome again = call_remember("eta", "key-eta");
	assert_int_equal(again.rc, US_OK);
	assert_true(again.row_id != first.row_id);
	assert_int_equal(count_rows("eta"), 2);
	assert_int_equal(call_remember("theta", "key-theta").rc, US_OK);
	assert_int_equal(count_rows("theta"), 1);
}

#define CONCURRENT 20

static void *concurrent_call(void *arg)
{
	outcome *o = arg;
	*o = call_remember("zeta", "key-zeta");
	return NULL;
}

static void test_concurrent_repeats_run_once(void **state)
{
	(void)state;
	pthread_t threads[CONCURRENT];
	outcome outcomes[CONCURRENT];
	for (int i = 0; i < CONCURRENT; i++)
		pthread_create(&threads[i], NULL, concurrent_call, &outcomes[i]);
	for (int i = 0; i < CONCURRENT; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < CONCURRENT; i++) {
		assert_int_equal(outcomes[i].rc, US_OK);
		assert_int_equal(outcomes[i].row_id, outcomes[0].row_id);
	}
	assert_int_equal(count_rows("zeta"), 1);
}

/* Hole 1: one key from two callers, or from one caller for two people, is two requests:
 * nobody gets another's stored reply. */
static void test_keys_are_scoped_by_caller_and_actor(void **state)
{
	(void)state;
	const char *ann = "0b6b0a8e-1f0e-4d36-9a3e-6c2f2b7d4a11";
	const char *bob = "5f3c2a7e-8d41-4b6f-a0c9-2e7d9b1c3f22";
	outcome mine = call_remember_as(NULL, NULL, NULL, "iota", "shared-key");
	outcome theirs = call_remember_as(&other_key, NULL, NULL, "iota", "shared-key");
	outcome for_ann = call_remember_as(NULL, ann, NULL, "iota", "shared-key");
	outcome for_bob = call_remember_as(NULL, bob, NULL, "iota", "shared-key");
	assert_int_equal(mine.rc, US_OK);
	assert_int_equal(theirs.rc, US_OK);
	assert_int_equal(for_ann.rc, US_OK);
	assert_int_equal(for_bob.rc, US_OK);
	long long ids[] = {mine.row_id, theirs.row_id, for_ann.row_id, for_bob.row_id};
	for (int i = 0; i < 4; i++) {
		for (int k = i + 1; k < 4; k++)
			assert_true(ids[i] != ids[k]);
	}
	assert_int_equal(count_rows("iota"), 4);
	/* Each one's own repeat still replays its own reply. */
	assert_int_equal(call_remember_as(NULL, bob, NULL, "iota", "shared-key").row_id, for_bob.row_id);
	assert_int_equal(call_remember_as(&other_key, NULL, NULL, "iota", "shared-key").row_id,
	                 theirs.row_id);
	assert_int_equal(count_rows("iota"), 4);
}

/* A TCP proxy in front of the server whose connections the test can cut. */
typedef struct proxy {
	int listen_fd, port;
	const char *target_url;
	atomic_bool cut, stop;
	pthread_t thread;
} proxy;

static int connect_to(const char *tcp_url)
{
	int port = 0;
	if (sscanf(tcp_url, "tcp://127.0.0.1:%d", &port) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Pumps one accepted connection both ways until either side closes or the test cuts it. */
static void pump(proxy *p, int client)
{
	int server = connect_to(p->target_url);
	struct pollfd fds[2] = {{.fd = client, .events = POLLIN}, {.fd = server, .events = POLLIN}};
	char buf[65536];
	while (server >= 0 && !atomic_load(&p->cut) && !atomic_load(&p->stop)) {
		if (poll(fds, 2, 10) <= 0)
			continue;
		bool open = true;
		for (int i = 0; i < 2 && open; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t got = read(fds[i].fd, buf, sizeof(buf));
			open = got > 0 && write(fds[1 - i].fd, buf, (size_t)got) == got;
		}
		if (!open)
			break;
	}
	close(client);
	if (server >= 0)
		close(server);
	atomic_store(&p->cut, false);
}

static void *proxy_main(void *arg)
{
	proxy *p = arg;
	while (!atomic_load(&p->stop)) {
		struct pollfd pfd = {.fd = p->listen_fd, .events = POLLIN};
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		int client = accept(p->listen_fd, NULL, NULL);
		if (client >= 0)
			pump(p, client);
	}
	return NULL;
}

static void proxy_start(proxy *p, const char *target_url)
{
	memset(p, 0, sizeof(*p));
	p->target_url = target_url;
	p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(p->listen_fd, 8) != 0 || getsockname(p->listen_fd, (struct sockaddr *)&sa, &len) != 0)
		fail_msg("proxy: %s", strerror(errno));
	p->port = ntohs(sa.sin_port);
	pthread_create(&p->thread, NULL, proxy_main, p);
}

static void proxy_stop(proxy *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	close(p->listen_fd);
}

typedef struct slow_call {
	char url[64];
	outcome o;
} slow_call;

static void *call_slow(void *arg)
{
	slow_call *c = arg;
	c->o = call_remember_as(NULL, NULL, c->url, "slow", "key-slow");
	return NULL;
}

/* The connection drops while the server runs the request: the client sends it once more,
 * signed anew (the same bytes would be refused as a replay) and under the same key, so the
 * retry waits for the first run and gets its stored reply: one row, one handler run. */
static void test_lost_connection_is_retried_signed_anew(void **state)
{
	(void)state;
	proxy p;
	proxy_start(&p, F->url);
	slow_call c;
	snprintf(c.url, sizeof(c.url), "tcp://127.0.0.1:%d", p.port);
	atomic_store(&remember_calls, 0);
	pthread_t t;
	pthread_create(&t, NULL, call_slow, &c);
	int64_t deadline = us_monotonic_ms() + 10000;
	while (atomic_load(&remember_calls) == 0 && us_monotonic_ms() < deadline)
		usleep(5 * 1000);
	assert_int_equal(atomic_load(&remember_calls), 1);
	atomic_store(&p.cut, true);
	pthread_join(t, NULL);
	proxy_stop(&p);
	assert_int_equal(c.o.rc, US_OK);
	assert_int_equal(count_rows("slow"), 1);
	assert_int_equal(atomic_load(&remember_calls), 1);
	assert_int_equal(call_remember("slow", "key-slow").row_id, c.o.row_id);
}

/* Statements sent in one round trip run in order; a failure skips the rest, is the
 * answer, and leaves the connection in use as before. */
static void test_a_pipeline_stops_at_its_first_failure(void **state)
{
	(void)state;
	PGconn *conn;
	char err[256];
	assert_int_equal(us_db_connect(F->db_url, "identity", &conn, err, sizeof(err)), US_OK);
	const char *params[] = {"0"};
	const us_db_stmt stmts[] = {
		{"SELECT 1", 0, NULL, NULL, NULL},
		{"SELECT 1 / $1::int", 1, params, NULL, NULL},
		{"SELECT 2", 0, NULL, NULL, NULL},
	};
	PGresult *res[3];
	us_db_round_trips_reset();
	assert_int_equal(us_db_pipeline(conn, stmts, 3, res), US_EINVAL);
	assert_int_equal(us_db_round_trips(), 1);
	assert_non_null(res[0]);
	assert_string_equal(PQgetvalue(res[0], 0, 0), "1");
	assert_null(res[1]);
	assert_null(res[2]);
	PQclear(res[0]);
	params[0] = "1";
	assert_int_equal(us_db_pipeline(conn, stmts, 3, res), US_OK);
	assert_string_equal(PQgetvalue(res[1], 0, 0), "1");
	assert_string_equal(PQgetvalue(res[2], 0, 0), "2");
	for (int i = 0; i < 3; i++)
		PQclear(res[i]);

	/* A lead goes with the next statement, in its round trip. */
	us_db_lead(conn, stmts, 1, res);
	us_db_round_trips_reset();
	PGresult *one;
	assert_int_equal(us_db_exec(conn, "SELECT 3", 0, NULL, &one), US_OK);
	assert_string_equal(PQgetvalue(one, 0, 0), "3");
	assert_int_equal(us_db_lead_done(conn), US_OK);
	assert_int_equal(us_db_round_trips(), 1);
	assert_string_equal(PQgetvalue(res[0], 0, 0), "1");
	PQclear(res[0]);
	PQclear(one);
	PQfinish(conn);
}

/* Statements sent and received apart run while the caller does something else: the lock
 * the first takes is seen from another connection before their results are collected;
 * they come back as us_db_pipeline gives them, a failure skipping the rest. */
static void test_statements_sent_run_before_they_are_received(void **state)
{
	(void)state;
	PGconn *conn, *other;
	char err[256];
	assert_int_equal(us_db_connect(F->db_url, "identity", &conn, err, sizeof(err)), US_OK);
	assert_int_equal(us_db_connect(F->db_url, "identity", &other, err, sizeof(err)), US_OK);
	const char *key[] = {"424242"};
	const us_db_stmt stmts[] = {
		{"BEGIN", 0, NULL, NULL, NULL},
		{"SELECT pg_advisory_xact_lock($1::bigint), 7", 1, key, NULL, NULL},
	};
	assert_int_equal(us_db_send(conn, stmts, 2), US_OK);
	bool held = false;
	for (int i = 0; i < 1000 && !held; i++) {
		PGresult *res;
		assert_int_equal(us_db_exec(other,
		                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
		                            " AND objid = 424242 AND granted",
		                            0, NULL, &res),
		                 US_OK);
		held = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
		PQclear(res);
		if (!held)
			usleep(10 * 1000);
	}
	assert_true(held);
	PGresult *res[2];
	assert_int_equal(us_db_receive(conn, 2, res), US_OK);
	assert_string_equal(PQgetvalue(res[1], 0, 1), "7");
	PQclear(res[0]);
	PQclear(res[1]);
	assert_int_equal(PQtransactionStatus(conn), PQTRANS_INTRANS);
	assert_int_equal(us_db_commit(conn), US_OK);

	const char *zero[] = {"0"};
	const us_db_stmt failing[] = {
		{"SELECT 1 / $1::int", 1, zero, NULL, NULL},
		{"SELECT 2", 0, NULL, NULL, NULL},
	};
	assert_int_equal(us_db_send(conn, failing, 2), US_OK);
	assert_int_equal(us_db_receive(conn, 2, res), US_EINVAL);
	assert_null(res[0]);
	assert_null(res[1]);
	PGresult *one;
	assert_int_equal(us_db_exec(conn, "SELECT 3", 0, NULL, &one), US_OK);
	assert_string_equal(PQgetvalue(one, 0, 0), "3");
	PQclear(one);
	PQfinish(other);
	PQfinish(conn);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&other_key, secret);
	ut_test_key();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repeat_replays_the_stored_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_key_with_another_request_is_refused, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_missing_key_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_repeats_run_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_are_scoped_by_caller_and_actor, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_lost_connection_is_retried_signed_anew, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_stored_request_hash_is_keyed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_keys_are_purged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_pipeline_stops_at_its_first_failure, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_statements_sent_run_before_they_are_received,
		                                setup, teardown),
		{"ahead: repeat replays the stored reply", test_repeat_replays_the_stored_reply,
		 setup_ahead, teardown_ahead, NULL},
		{"ahead: same key with another request is refused",
		 test_same_key_with_another_request_is_refused, setup_ahead, teardown_ahead, NULL},
		{"ahead: missing key is refused", test_missing_key_is_refused, setup_ahead,
		 teardown_ahead, NULL},
		{"ahead: failure stores nothing", test_failure_stores_nothing, setup_ahead,
		 teardown_ahead, NULL},
		{"ahead: concurrent repeats run once", test_concurrent_repeats_run_once, setup_ahead,
		 teardown_ahead, NULL},
		{"ahead: keys are scoped by caller and actor", test_keys_are_scoped_by_caller_and_actor,
		 setup_ahead, teardown_ahead, NULL},
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
