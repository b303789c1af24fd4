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

/* Reads a hex secret setting (64 hex digits) into key; returns 0 or -1. */
int us_token_key_from_hex(const char *hex, uint8_t key[US_TOKEN_KEY_BYTES]);

/* A config check for such settings. */
const char *us_token_check_key_hex(const char *value);

#endif
