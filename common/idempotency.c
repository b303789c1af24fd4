#include "common/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/db.h"
#include "common/fault.h"

#define HASH_BYTES 32

static void request_hash(const char *method, const uint8_t *request, size_t len,
                         const uint8_t *hash_key, uint8_t out[HASH_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, hash_key, hash_key ? US_IDEMPOTENCY_HASH_KEY_BYTES : 0,
	                        HASH_BYTES);
	/* The NUL keeps "a" + "bc" apart from "ab" + "c". */
	crypto_generichash_update(&st, (const uint8_t *)method, strlen(method) + 1);
	crypto_generichash_update(&st, request, len);
	crypto_generichash_final(&st, out, HASH_BYTES);
}

/* The key is already stored: compare the request and hand back the stored reply. */
static us_err replay(PGconn *conn, us_arena *arena, const us_idempotency_scope *scope,
                     const uint8_t hash[HASH_BYTES], us_idempotency_result *out)
{
	const char *params[] = {scope->caller, scope->actor, scope->method, scope->key};
	PGresult *res = NULL;
	us_err rc = us_db_exec(conn,
	                       "SELECT request_hash, reply FROM idempotency_keys"
	                       " WHERE caller = $1 AND actor = $2 AND method = $3 AND key = $4",
	                       4, params, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
		/* The row's owner rolled back between our INSERT and SELECT: let the caller
		 * retry rather than guess. */
		PQclear(res);
		return US_EABORTED;
	}
	size_t stored_len = 0;
	unsigned char *stored = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0),
	                                        &stored_len);
	bool same = stored != NULL && stored_len == HASH_BYTES &&
	            sodium_memcmp(stored, hash, HASH_BYTES) == 0;
	PQfreemem(stored);
	if (!same) {
		PQclear(res);
		out->key_reused = true;
		return US_EINVAL;
	}
	size_t reply_len = 0;
	unsigned char *reply = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1),
	                                       &reply_len);
	PQclear(res);
	if (reply == NULL)
		return US_EEXHAUSTED;
	uint8_t *copy = us_arena_alloc(arena, reply_len);
	if (copy == NULL) {
		PQfreemem(reply);
		return US_EEXHAUSTED;
	}
	memcpy(copy, reply, reply_len);
	PQfreemem(reply);
	out->reply = copy;
	out->reply_len = reply_len;
	out->replayed = true;
	return US_OK;
}

/* ahead: the body runs before the claim is known, its first statements sent with it. */
static us_err run(PGconn *conn, us_arena *arena, const us_idempotency_scope *scope,
                  const uint8_t *request, size_t request_len, const uint8_t *hash_key,
                  int64_t timeout_ms, us_idempotent_body *body, void *ctx, bool ahead,
                  us_idempotency_result *out)
{
	memset(out, 0, sizeof(*out));
	uint8_t hash[HASH_BYTES];
	request_hash(scope->method, request, request_len, hash_key, hash);

	/* A concurrent holder of the same key makes this INSERT wait for its commit or
	 * rollback, so exactly one of them runs the body. The same statement caps the rest of
	 * the transaction's statements at the caller's remaining budget (one round trip less
	 * on every mutating call), and names the actor the events it writes record. */
	char timeout[24];
	snprintf(timeout, sizeof(timeout), "%lld", (long long)(timeout_ms > 0 ? timeout_ms : 1));
	const char *params[] = {scope->caller, scope->actor, scope->method, scope->key,
	                        (const char *)hash, timeout,
	                        scope->event_actor != NULL ? scope->event_actor : ""};
	const int lengths[] = {0, 0, 0, 0, HASH_BYTES, 0, 0};
	const int formats[] = {0, 0, 0, 0, 1, 0, 0};
	/* BEGIN goes with it: one round trip. */
	const us_db_stmt claim[] = {
		{"BEGIN", 0, NULL, NULL, NULL},
		{"INSERT INTO idempotency_keys (caller, actor, method, key, request_hash) "
		 "SELECT $1, $2, $3, $4, $5 FROM (SELECT pg_catalog.set_config("
		 "'statement_timeout', $6, true), pg_catalog.set_config('usher.actor', $7, true)) AS budget "
		 "ON CONFLICT (caller, actor, method, key) DO NOTHING RETURNING 1",
		 7, params, lengths, formats},
	};
	PGresult *res[2] = {NULL, NULL};
	const uint8_t *reply = NULL;
	size_t reply_len = 0;
	us_err rc, body_rc = US_OK;
	if (ahead) {
		us_db_lead(conn, claim, 2, res);
		body_rc = body(ctx, &reply, &reply_len);
		rc = us_db_lead_done(conn);
	} else {
		rc = us_db_pipeline(conn, claim, 2, res);
	}
	PQclear(res[0]);
	bool claimed = rc == US_OK && PQntuples(res[1]) == 1;
	PQclear(res[1]);
	if (rc != US_OK)
		goto fail;

	if (!claimed) {
		/* Whatever the body did ahead is undone first: its statements may have failed. */
		us_db_rollback(conn);
		return replay(conn, arena, scope, hash, out);
	}

	if (!ahead)
		body_rc = body(ctx, &reply, &reply_len);
	rc = body_rc;
	if (rc != US_OK)
		goto fail;

	const char *store_params[] = {scope->caller, scope->actor, scope->method, scope->key,
	                              (const char *)reply};
	const int store_lengths[] = {0, 0, 0, 0, (int)reply_len};
	const int store_formats[] = {0, 0, 0, 0, 1};
	/* libpq reads a binary parameter's bytes even when its length is 0. */
	if (reply == NULL)
		store_params[4] = "";
	us_fault_point_method(scope->method, "before_commit");
	/* The reply and the commit in one round trip: a failed UPDATE makes the COMMIT a
	 * rollback. */
	const us_db_stmt store[] = {
		{"UPDATE idempotency_keys SET reply = $5"
		 " WHERE caller = $1 AND actor = $2 AND method = $3 AND key = $4",
		 5, store_params, store_lengths, store_formats},
		{"COMMIT", 0, NULL, NULL, NULL},
	};
	rc = us_db_pipeline(conn, store, 2, NULL);
	if (rc != US_OK)
		goto fail;
	out->reply = reply;
	out->reply_len = reply_len;
	return US_OK;

fail:
	us_db_rollback(conn);
	return rc;
}

us_err us_idempotency_run(PGconn *conn, us_arena *arena, const us_idempotency_scope *scope,
                          const uint8_t *request, size_t request_len, const uint8_t *hash_key,
                          int64_t timeout_ms, us_idempotent_body *body, void *ctx,
                          us_idempotency_result *out)
{
	return run(conn, arena, scope, request, request_len, hash_key, timeout_ms, body, ctx, false,
	           out);
}

us_err us_idempotency_run_ahead(PGconn *conn, us_arena *arena,
                                const us_idempotency_scope *scope, const uint8_t *request,
                                size_t request_len, const uint8_t *hash_key,
                                int64_t timeout_ms, us_idempotent_body *body, void *ctx,
                                us_idempotency_result *out)
{
	return run(conn, arena, scope, request, request_len, hash_key, timeout_ms, body, ctx, true,
	           out);
}

us_err us_idempotency_purge(PGconn *conn, int64_t hours, long *deleted)
{
	char older[24];
	snprintf(older, sizeof(older), "%lld", (long long)hours);
	const char *params[] = {older};
	long total = 0;
	for (;;) {
		PGresult *res;
		us_err rc = us_db_exec(conn,
		                       "DELETE FROM idempotency_keys WHERE (caller, actor, method, key) IN ("
		                       " SELECT caller, actor, method, key FROM idempotency_keys"
		                       " WHERE created_at < now() - make_interval(hours => $1::int)"
		                       " LIMIT 10000)",
		                       1, params, &res);
		if (rc != US_OK)
			return rc;
		long n = atol(PQcmdTuples(res));
		PQclear(res);
		total += n;
		if (n < 10000)
			break;
	}
	if (deleted != NULL)
		*deleted = total;
	return US_OK;
}
