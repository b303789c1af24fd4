/* A link's secret (an invitation's, or a permanent link's): a fresh token, the keyed hash
 * stored in its place, a sealed copy (for the outbox until the email is handed over, or
 * for showing a permanent link again), and the URL. */
#ifndef INVITATION_LINKS_H
#define INVITATION_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/token.h"
#include "context.h"

typedef struct invitation_link_secret {
	char token[US_TOKEN_TEXT_LEN + 1];
	char hash_hex[2 * US_TOKEN_HASH_BYTES + 1];
	char *sealed; /* in the arena */
} invitation_link_secret;

/* A new link. */
US_MUST_USE us_err invitation_link_new(const invitation_ctx *ctx, us_arena *a,
                                       invitation_link_secret *out);

/* The hashes a token from a request may be stored under: the current key's, then those of
 * previous keys still in their time; INVALID_ARGUMENT for a malformed token. */
US_MUST_USE us_err invitation_link_hashes(const invitation_ctx *ctx, const char *token,
                                          us_token_hashes *out);

/* The token back from its sealed copy, in the arena; NULL when it does not open (under
 * the current key or a previous one still in its time). */
char *invitation_link_unseal(const invitation_ctx *ctx, us_arena *a, const char *sealed);

/* The longest link token a request may carry: a longer one is refused without a lookup. */
#define INVITATION_TOKEN_MAX 100

#define INVITATION_REQUEST_HASH_HEX (2 * 32 + 1)

/* What a claim keeps to know a request when it comes again (a retry whose answer was
 * lost): a hash of the request's fields, keyed with a key not in the database (a request
 * may carry a password), as hex into out. The fields are kept apart, so "a" + "bc" and
 * "ab" + "c" differ. */
void invitation_request_hash(const invitation_ctx *ctx, const char *const *fields, size_t n,
                             char out[INVITATION_REQUEST_HASH_HEX]);

/* Whether two such hashes are the same (in constant time; "" matches nothing). */
bool invitation_request_hash_equal(const char *a, const char *b);

/* PUBLIC_BASE_URL/<kind>/<token> in the arena: kind "i" for an invitation, "l" for a
 * permanent link. */
char *invitation_link_url(const invitation_ctx *ctx, us_arena *a, const char *kind,
                          const char *token);

#endif
