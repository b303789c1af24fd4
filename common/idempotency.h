/* Exactly-once effects for mutating requests. NNG's REQ resends a request that got no
 * reply, and callers retry, so a mutating method runs under an idempotency key: the
 * change and the stored reply commit together, and a repeat gets the stored reply. */
#ifndef US_IDEMPOTENCY_H
#define US_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/err.h"

#define US_IDEMPOTENCY_KEY_MAX 200

/* The change itself: runs inside the transaction; on success sets *reply to the packed
 * reply (memory that lives until the call returns). */
typedef us_err us_idempotent_body(void *ctx, const uint8_t **reply, size_t *reply_len);

typedef struct us_idempotency_result {
	const uint8_t *reply; /* in the arena, or the body's memory */
	size_t reply_len;
	bool replayed;        /* the stored reply of an earlier run */
	bool key_reused;      /* the key was stored with a different request: US_EINVAL */
} us_idempotency_result;

#define US_IDEMPOTENCY_HASH_KEY_BYTES 32

/* A key is one caller's, for one actor and one method: the same text from another
 * caller, for another person or for another method is another key. */
typedef struct us_idempotency_scope {
	const char *caller; /* the authenticated caller ("peer:usher-gatewayd") */
	const char *actor;  /* the person it acts for; "" for none */
	const char *method;
	const char *key;    /* as the caller gave it */
	/* Who the change is recorded as in the events the transaction writes (the setting
	 * usher.actor: "user:<id>", "principal:<id>"); "" or NULL: none. */
	const char *event_actor;
} us_idempotency_scope;

/* In one transaction on conn (statements capped at timeout_ms): claims the scoped key for
 * this request and runs body, storing its reply; or, when the key is already stored,
 * returns the stored reply without running body. A body error rolls everything back, key
 * included, so a retry runs again. The stored hash of the request is keyed with hash_key
 * when given: a request may hold a password, and an unkeyed hash of it in the database
 * could be attacked offline. */
US_MUST_USE us_err us_idempotency_run(PGconn *conn, us_arena *arena,
                                      const us_idempotency_scope *scope, const uint8_t *request,
                                      size_t request_len, const uint8_t *hash_key,
                                      int64_t timeout_ms,
                                      us_idempotent_body *body, void *ctx,
                                      us_idempotency_result *out);

/* As us_idempotency_run, one round trip less: BEGIN and the key's claim go with the
 * body's first statements (us_db_lead), so the body runs before the claim is known. When
 * the key turns out to be stored already, the body's work is rolled back and its reply
 * dropped for the stored one: for a body whose work outside the transaction (calls to
 * other services, logs) is harmless to repeat. */
US_MUST_USE us_err us_idempotency_run_ahead(PGconn *conn, us_arena *arena,
                                            const us_idempotency_scope *scope,
                                            const uint8_t *request, size_t request_len,
                                            const uint8_t *hash_key, int64_t timeout_ms,
                                            us_idempotent_body *body, void *ctx,
                                            us_idempotency_result *out);

/* Deletes stored keys older than hours, in slices so no lock is held long; *deleted (may
 * be NULL) gets how many. A key is meant for retries of one request, so a week is
 * plenty; a retry after that runs the request again. */
US_MUST_USE us_err us_idempotency_purge(PGconn *conn, int64_t hours, long *deleted);

#endif
