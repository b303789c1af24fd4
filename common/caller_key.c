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

/* What is signed: BLAKE2b-512 of a context string and the message. Ed25519 hashes what it
 * signs twice with SHA-512; hashing once with the faster BLAKE2b first makes a 50,000-address
 * batch cost a few milliseconds less on each side, and the context keeps these signatures
 * from meaning anything elsewhere. */
static void digest(const uint8_t *msg, size_t len, uint8_t out[crypto_generichash_BYTES_MAX])
{
	static const char context[] = "usher.v1.SignedRequest";
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES_MAX);
	crypto_generichash_update(&st, (const uint8_t *)context, sizeof(context));
	crypto_generichash_update(&st, msg, len);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES_MAX);
}

void us_caller_key_sign(const us_caller_key *key, const uint8_t *msg, size_t len,
                        uint8_t signature[US_SIGNATURE_BYTES])
{
	uint8_t d[crypto_generichash_BYTES_MAX];
	digest(msg, len, d);
	crypto_sign_detached(signature, NULL, d, sizeof(d), key->secret_key);
}

bool us_caller_key_verify(const uint8_t public_key[US_PUBLIC_KEY_BYTES], const uint8_t *msg,
                          size_t len, const uint8_t signature[US_SIGNATURE_BYTES])
{
	uint8_t d[crypto_generichash_BYTES_MAX];
	digest(msg, len, d);
	return crypto_sign_verify_detached(signature, d, sizeof(d), public_key) == 0;
}

void us_caller_key_wipe(us_caller_key *key)
{
	sodium_memzero(key, sizeof(*key));
}
