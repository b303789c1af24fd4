/* A caller's Ed25519 key: what every RPC is signed with. The secret is written as 64 hex
 * digits (the 32-byte seed, e.g. `openssl rand -hex 32`), optionally after "usk_" (how
 * service principals' keys are shown, so they are easy to spot and to tell from session
 * tokens); the public key as 64 hex digits. */
#ifndef US_CALLER_KEY_H
#define US_CALLER_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define US_PUBLIC_KEY_BYTES 32
#define US_SIGNATURE_BYTES 64
#define US_PUBLIC_KEY_HEX_LEN 64
/* "usk_" and 64 hex digits. */
#define US_CALLER_SECRET_TEXT_LEN 68
#define US_CALLER_SECRET_PREFIX "usk_"

typedef struct us_caller_key {
	uint8_t public_key[US_PUBLIC_KEY_BYTES];
	uint8_t secret_key[64]; /* libsodium's form: seed and public key */
} us_caller_key;

/* Reads a secret ("usk_" optional, then 64 hex digits). Returns 0, or -1 when malformed. */
int us_caller_key_parse(const char *text, us_caller_key *out);

/* For a settings table: NULL when text is a valid secret, else why not. */
const char *us_caller_key_check(const char *text);

/* A new random key, and its secret as "usk_" + 64 hex digits (wipe it after showing). */
void us_caller_key_generate(us_caller_key *out, char secret[US_CALLER_SECRET_TEXT_LEN + 1]);

/* The public key as 64 hex digits. */
void us_public_key_hex(const uint8_t public_key[US_PUBLIC_KEY_BYTES],
                       char out[US_PUBLIC_KEY_HEX_LEN + 1]);

/* Reads 64 hex digits. Returns 0, or -1 when malformed. */
int us_public_key_parse(const char *hex, uint8_t out[US_PUBLIC_KEY_BYTES]);

/* A short, stable name of a public key for logs: its first 8 bytes in hex. */
void us_public_key_fingerprint(const uint8_t public_key[US_PUBLIC_KEY_BYTES], char out[17]);

void us_caller_key_sign(const us_caller_key *key, const uint8_t *msg, size_t len,
                        uint8_t signature[US_SIGNATURE_BYTES]);

/* True when signature is key's over msg. */
bool us_caller_key_verify(const uint8_t public_key[US_PUBLIC_KEY_BYTES], const uint8_t *msg,
                          size_t len, const uint8_t signature[US_SIGNATURE_BYTES]);

void us_caller_key_wipe(us_caller_key *key);

#endif
