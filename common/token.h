/* Secret tokens for links and sessions: 32 random bytes, shown to their holder once as
 * base64url, stored only as a keyed BLAKE2b hash. */
#ifndef US_TOKEN_H
#define US_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define US_TOKEN_BYTES 32
#define US_TOKEN_TEXT_LEN 43 /* base64url without padding */
#define US_TOKEN_HASH_BYTES 32
#define US_TOKEN_KEY_BYTES 32

/* A new token: text gets US_TOKEN_TEXT_LEN characters and a NUL. */
void us_token_new(char text[US_TOKEN_TEXT_LEN + 1]);

/* hash = BLAKE2b-256 keyed with key over the token text. Fails (INVALID_ARGUMENT) when
 * text is not a well-formed token, so lookups of garbage cost nothing. */
US_MUST_USE us_err us_token_hash(const char *text, const uint8_t key[US_TOKEN_KEY_BYTES],
                                 uint8_t hash[US_TOKEN_HASH_BYTES]);

/* Key rotation: the keys a token key replaced keep verifying the tokens hashed with them
 * until their time is up, so sessions and links issued before a rotation still work while
 * new ones get the new key. The current key always comes first. */
#define US_TOKEN_PREVIOUS_MAX 4
#define US_TOKEN_PREVIOUS_MAX_TEXT "4"
#define US_TOKEN_CANDIDATES_MAX (1 + US_TOKEN_PREVIOUS_MAX)

typedef struct us_token_keyring {
	uint8_t current[US_TOKEN_KEY_BYTES];
	size_t n_previous;
	struct {
		uint8_t key[US_TOKEN_KEY_BYTES];
		int64_t until_ms; /* verifies while now < until_ms (Unix time, ms) */
	} previous[US_TOKEN_PREVIOUS_MAX];
} us_token_keyring;

/* The hashes a presented token may be stored under. */
typedef struct us_token_hashes {
	size_t n;
	uint8_t hash[US_TOKEN_CANDIDATES_MAX][US_TOKEN_HASH_BYTES];
} us_token_hashes;

/* Reads the previous keys of a *_PREVIOUS_TOKEN_KEYS setting into ring (which keeps its
 * current key): "" or NULL for none, else up to US_TOKEN_PREVIOUS_MAX comma-separated
 * KEY@UNTIL, KEY 64 hex digits and UNTIL an RFC 3339 UTC time ("2026-12-31T00:00:00Z").
 * Returns NULL, or why the text is refused (the ring is then unchanged). */
const char *us_token_previous_parse(const char *text, us_token_keyring *ring);

/* A config check for such settings. */
const char *us_token_check_previous_keys(const char *value);

/* out gets the hashes of text under the current key and then every previous key whose
 * time has not come at now_ms (keyring order). Fails (INVALID_ARGUMENT) as us_token_hash. */
US_MUST_USE us_err us_token_hashes_of(const us_token_keyring *ring, const char *text,
                                      int64_t now_ms, us_token_hashes *out);

/* Wipes the keys. */
void us_token_keyring_wipe(us_token_keyring *ring);

/* Reads a hex secret setting (64 hex digits) into key; returns 0 or -1. */
int us_token_key_from_hex(const char *hex, uint8_t key[US_TOKEN_KEY_BYTES]);

/* A config check for such settings. */
const char *us_token_check_key_hex(const char *value);

#endif
