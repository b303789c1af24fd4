#include "common/caller_key.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

static int hex_exact(const char *hex, uint8_t *out, size_t n)
{
	size_t bin_len = 0;
	const char *end = NULL;
	if (strlen(hex) != 2 * n)
		return -1;
	if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &bin_len, &end) != 0 || bin_len != n ||
	    *end != '\0')
		return -1;
	return 0;
}

int us_caller_key_parse(const char *text, us_caller_key *out)
{
	size_t prefix = strlen(US_CALLER_SECRET_PREFIX);
	if (strncmp(text, US_CALLER_SECRET_PREFIX, prefix) == 0)
		text += prefix;
	uint8_t seed[crypto_sign_SEEDBYTES];
	if (hex_exact(text, seed, sizeof(seed)) != 0) {
		sodium_memzero(seed, sizeof(seed));
		return -1;
	}
	crypto_sign_seed_keypair(out->public_key, out->secret_key, seed);
	sodium_memzero(seed, sizeof(seed));
	return 0;
}

const char *us_caller_key_check(const char *text)
{
	us_caller_key k;
	int rc = us_caller_key_parse(text, &k);
	us_caller_key_wipe(&k);
	return rc == 0 ? NULL : "must be 64 hex digits (an Ed25519 seed), optionally after \"usk_\"";
}

void us_caller_key_generate(us_caller_key *out, char secret[US_CALLER_SECRET_TEXT_LEN + 1])
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(out->public_key, out->secret_key, seed);
	memcpy(secret, US_CALLER_SECRET_PREFIX, strlen(US_CALLER_SECRET_PREFIX));
	sodium_bin2hex(secret + strlen(US_CALLER_SECRET_PREFIX), 2 * sizeof(seed) + 1, seed,
	               sizeof(seed));
	sodium_memzero(seed, sizeof(seed));
}

void us_public_key_hex(const uint8_t public_key[US_PUBLIC_KEY_BYTES],
                       char out[US_PUBLIC_KEY_HEX_LEN + 1])
{
	sodium_bin2hex(out, US_PUBLIC_KEY_HEX_LEN + 1, public_key, US_PUBLIC_KEY_BYTES);
}

int us_public_key_parse(const char *hex, uint8_t out[US_PUBLIC_KEY_BYTES])
{
	return hex_exact(hex, out, US_PUBLIC_KEY_BYTES);
}

void us_public_key_fingerprint(const uint8_t public_key[US_PUBLIC_KEY_BYTES], char out[17])
{
	sodium_bin2hex(out, 17, public_key, 8);
}

/* What is signed or MAC'd: BLAKE2b-512 of a context string and the message. Ed25519 hashes what it
 * signs twice with SHA-512; hashing once with the faster BLAKE2b first makes a 50,000-address
 * batch cost a few milliseconds less on each side, and the context keeps these signatures
 * from meaning anything elsewhere. */
void us_request_digest(const uint8_t *msg, size_t len, uint8_t out[US_REQUEST_DIGEST_BYTES])
{
	static const char context[] = "usher.v1.SignedRequest";
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, US_REQUEST_DIGEST_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)context, sizeof(context));
	crypto_generichash_update(&st, msg, len);
	crypto_generichash_final(&st, out, US_REQUEST_DIGEST_BYTES);
}

void us_caller_key_sign(const us_caller_key *key, const uint8_t *msg, size_t len,
                        uint8_t signature[US_SIGNATURE_BYTES])
{
	uint8_t d[US_REQUEST_DIGEST_BYTES];
	us_request_digest(msg, len, d);
	crypto_sign_detached(signature, NULL, d, sizeof(d), key->secret_key);
}

bool us_caller_key_verify(const uint8_t public_key[US_PUBLIC_KEY_BYTES], const uint8_t *msg,
                          size_t len, const uint8_t signature[US_SIGNATURE_BYTES])
{
	uint8_t d[US_REQUEST_DIGEST_BYTES];
	us_request_digest(msg, len, d);
	return crypto_sign_verify_detached(signature, d, sizeof(d), public_key) == 0;
}

void us_caller_key_wipe(us_caller_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

/* The caller is crypto_kx's client, the server its server: the caller's transmit key is
 * the server's receive key. Converting an Ed25519 key to X25519 is what libsodium's
 * crypto_sign_ed25519_*_to_curve25519 are for (docs/security.md says why it is sound). */
int us_mac_key_for_server(const us_caller_key *caller,
                          const uint8_t server_public_key[US_PUBLIC_KEY_BYTES],
                          uint8_t out[US_MAC_KEY_BYTES])
{
	uint8_t my_pk[crypto_kx_PUBLICKEYBYTES], my_sk[crypto_kx_SECRETKEYBYTES],
	        peer_pk[crypto_kx_PUBLICKEYBYTES], rx[crypto_kx_SESSIONKEYBYTES];
	int rc = -1;
	if (crypto_sign_ed25519_pk_to_curve25519(my_pk, caller->public_key) == 0 &&
	    crypto_sign_ed25519_pk_to_curve25519(peer_pk, server_public_key) == 0 &&
	    crypto_sign_ed25519_sk_to_curve25519(my_sk, caller->secret_key) == 0)
		rc = crypto_kx_client_session_keys(rx, out, my_pk, my_sk, peer_pk);
	sodium_memzero(my_sk, sizeof(my_sk));
	sodium_memzero(rx, sizeof(rx));
	return rc == 0 ? 0 : -1;
}

int us_mac_key_for_caller(const us_caller_key *server,
                          const uint8_t caller_public_key[US_PUBLIC_KEY_BYTES],
                          uint8_t out[US_MAC_KEY_BYTES])
{
	uint8_t my_pk[crypto_kx_PUBLICKEYBYTES], my_sk[crypto_kx_SECRETKEYBYTES],
	        peer_pk[crypto_kx_PUBLICKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	int rc = -1;
	if (crypto_sign_ed25519_pk_to_curve25519(my_pk, server->public_key) == 0 &&
	    crypto_sign_ed25519_pk_to_curve25519(peer_pk, caller_public_key) == 0 &&
	    crypto_sign_ed25519_sk_to_curve25519(my_sk, server->secret_key) == 0)
		rc = crypto_kx_server_session_keys(out, tx, my_pk, my_sk, peer_pk);
	sodium_memzero(my_sk, sizeof(my_sk));
	sodium_memzero(tx, sizeof(tx));
	return rc == 0 ? 0 : -1;
}

void us_request_mac(const uint8_t key[US_MAC_KEY_BYTES],
                    const uint8_t digest[US_REQUEST_DIGEST_BYTES], uint8_t mac[US_MAC_BYTES])
{
	crypto_generichash(mac, US_MAC_BYTES, digest, US_REQUEST_DIGEST_BYTES, key, US_MAC_KEY_BYTES);
}

bool us_request_mac_verify(const uint8_t key[US_MAC_KEY_BYTES], const uint8_t *msg, size_t len,
                           const uint8_t mac[US_MAC_BYTES])
{
	uint8_t d[US_REQUEST_DIGEST_BYTES], expected[US_MAC_BYTES];
	us_request_digest(msg, len, d);
	us_request_mac(key, d, expected);
	return crypto_verify_32(expected, mac) == 0;
}
