/* The SQL of service principals (see principals.h). Principals come back as
 * usher.v1.Principal messages in the caller's arena, keys as 64 hex digits. */
#ifndef IDENTITY_STORE_PRINCIPALS_H
#define IDENTITY_STORE_PRINCIPALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/caller_auth.h"
#include "common/err.h"
#include "usher/v1/principal.pb-c.h"

typedef struct identity_new_principal {
	const char *name;
	bool all_accounts;
	char *const *account_ids;
	size_t n_account_ids;
	char *const *methods;
	size_t n_methods;
	int max_role;
	const char *created_by;
	const uint8_t *public_key; /* 32 bytes */
} identity_new_principal;

/* The principal and its first key, in one statement. ALREADY_EXISTS when the name or the
 * key is taken. */
US_MUST_USE us_err identity_store_principal_create(PGconn *db, us_arena *a,
                                                   const identity_new_principal *p,
                                                   Usher__V1__Principal **out);

/* Every principal with its keys, oldest first. */
US_MUST_USE us_err identity_store_principals_list(PGconn *db, us_arena *a,
                                                  Usher__V1__Principal ***out, size_t *n);

/* One principal by id or name, with its keys; NOT_FOUND when none. */
US_MUST_USE us_err identity_store_principal_get(PGconn *db, us_arena *a, const char *ref,
                                                Usher__V1__Principal **out);

/* Adds a key to an active principal; its live keys stop working overlap_s from now (if
 * not sooner). NOT_FOUND for no such active principal, ALREADY_EXISTS for a key in use,
 * FAILED_PRECONDITION when it already has max_live live keys. */
US_MUST_USE us_err identity_store_principal_add_key(PGconn *db, const char *principal_id,
                                                    const uint8_t *public_key, int64_t overlap_s,
                                                    int max_live);

/* Every key of the principal but its newest stops working now. */
US_MUST_USE us_err identity_store_principal_retire_keys(PGconn *db, const char *principal_id);

/* Revokes the principal (its keys stop working); revoking again changes nothing. */
US_MUST_USE us_err identity_store_principal_revoke(PGconn *db, const char *principal_id);

/* The active principal holding a live key, and when the key expires (0: never); records
 * the key's use (to the minute). NOT_FOUND otherwise. */
US_MUST_USE us_err identity_store_principal_by_key(PGconn *db, us_arena *a,
                                                   const uint8_t *public_key,
                                                   Usher__V1__Principal **out,
                                                   int64_t *key_expires_at_ms);

/* The active principal with that id, without keys; NOT_FOUND otherwise. */
US_MUST_USE us_err identity_store_principal_by_id(PGconn *db, us_arena *a, const char *id,
                                                  Usher__V1__Principal **out);

#endif
