/* Idempotent methods through a real server and a real database: a repeat replays the
 * stored reply, the same key with another request is refused, a failure stores nothing,
 * and concurrent repeats run the change once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "db.h"
#include "harness.h"
#include "idempotency.h"
#include "migrate.h"
#include "rpc_client.h"
#include "rpc_server.h"
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
static us_err remember(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__Testing__RememberRequest *req = (const Usher__Testing__RememberRequest *)request;
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
	usleep(20 * 1000); /* widen the window for concurrent repeats */
	Usher__Testing__RememberReply *out = US_ARENA_NEW(us_call_arena(call), Usher__Testing__RememberReply);
	usher__testing__remember_reply__init(out);
	out->text = req->text;
	out->row_id = id;
	*reply = &out->base;
	return US_OK;
}

static const us_rpc_method methods[] = {
	{"Remember", remember, US_RPC_IDEMPOTENT},
};
static const us_rpc_service service = {&usher__testing__echo_service__descriptor, methods, 1, NULL};

typedef struct fixture {
	ut_db db;
	char db_url[512];
	char url[128];
	us_rpc_server *srv;
} fixture;

static fixture *F;
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
	us_rpc_server_opts opts = {.listen_url = F->url, .workers = 8, .max_message_bytes = 1 << 20,
	                           .default_timeout_ms = 10000, .database_url = F->db_url,
	                           .schema = "identity", .request_hash_key = hash_key};
	if (us_rpc_server_start(&opts, &service, 1, &F->srv, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	snprintf(F->url, sizeof(F->url), "%s", us_rpc_server_url(F->srv));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_rpc_server_stop(F->srv);
	ut_db_drop(&F->db);
	free(F);
	return 0;
}

typedef struct outcome {
	us_err rc;
	long long row_id;
	char field[64];
} outcome;

static outcome call_remember(const char *text, const char *key)
{
	outcome o = {0};
	char err[128];
	us_rpc_client *c;
	us_rpc_client_opts copts = {.url = F->url, .caller = "idempotency_test"};
	if (us_rpc_client_open(&copts, &c, err, sizeof(err)) != US_OK) {
		o.rc = US_EUNAVAILABLE;
		return o;
	}
	us_arena *arena = us_arena_new();
	Usher__Testing__RememberRequest req = USHER__TESTING__REMEMBER_REQUEST__INIT;
	req.text = (char *)text;
	us_rpc_call_opts opts = {.timeout_ms = 10000, .idempotency_key = key};
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repeat_replays_the_stored_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_key_with_another_request_is_refused, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_missing_key_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_repeats_run_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stored_request_hash_is_keyed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_keys_are_purged, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
