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

/* --- MACs: the cheap alternative to a signature between a caller and a server that
 * both hold Ed25519 keys (docs/security.md "MAC'd requests"). Both keys are converted to
 * X25519 and agreed on with crypto_kx (the caller in the client role): only the caller's
 * secret or the server's gives the key, and it is bound to both public keys and to the
 * direction (caller to server). */
#define US_MAC_KEY_BYTES 32
#define US_MAC_BYTES 32
#define US_REQUEST_DIGEST_BYTES 64
/* A request carries at most this many MACs (one per server key its caller knows). */
#define US_REQUEST_MACS_MAX 16

/* The key caller MACs its requests to the server holding server_public_key with.
 * Returns 0, or -1 when the server's key is no valid point (nothing to agree on). */
int us_mac_key_for_server(const us_caller_key *caller,
                          const uint8_t server_public_key[US_PUBLIC_KEY_BYTES],
                          uint8_t out[US_MAC_KEY_BYTES]);

/* The same key, as the server derives it from its own key and the caller's public one.
 * Returns 0, or -1 when the caller's key is no valid point. */
int us_mac_key_for_caller(const us_caller_key *server,
                          const uint8_t caller_public_key[US_PUBLIC_KEY_BYTES],
                          uint8_t out[US_MAC_KEY_BYTES]);

/* What is signed or MAC'd of a request: BLAKE2b-512 of a context string and msg (computed
 * once however many servers' MACs a request carries). */
void us_request_digest(const uint8_t *msg, size_t len, uint8_t out[US_REQUEST_DIGEST_BYTES]);

/* The MAC of a digest under key: keyed BLAKE2b-256. */
void us_request_mac(const uint8_t key[US_MAC_KEY_BYTES],
                    const uint8_t digest[US_REQUEST_DIGEST_BYTES], uint8_t mac[US_MAC_BYTES]);

/* True when mac is key's over msg (compared in constant time). */
bool us_request_mac_verify(const uint8_t key[US_MAC_KEY_BYTES], const uint8_t *msg, size_t len,
                           const uint8_t mac[US_MAC_BYTES]);

#endif
