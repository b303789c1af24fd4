#include "common/token.h"

#include <string.h>

#include <sodium.h>

#include "common/validate.h"

void us_token_new(char text[US_TOKEN_TEXT_LEN + 1])
{
	uint8_t raw[US_TOKEN_BYTES];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(text, US_TOKEN_TEXT_LEN + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

us_err us_token_hash(const char *text, const uint8_t key[US_TOKEN_KEY_BYTES],
                     uint8_t hash[US_TOKEN_HASH_BYTES])
{
	if (strlen(text) != US_TOKEN_TEXT_LEN || !us_base64_chars(text, US_TOKEN_TEXT_LEN))
		return US_EINVAL;
	uint8_t raw[US_TOKEN_BYTES];
	size_t len = 0;
	if (sodium_base642bin(raw, sizeof(raw), text, US_TOKEN_TEXT_LEN, NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != US_TOKEN_BYTES)
		return US_EINVAL;
	crypto_generichash(hash, US_TOKEN_HASH_BYTES, raw, sizeof(raw), key, US_TOKEN_KEY_BYTES);
	sodium_memzero(raw, sizeof(raw));
	return US_OK;
}

int us_token_key_from_hex(const char *hex, uint8_t key[US_TOKEN_KEY_BYTES])
{
	size_t len = 0;
	if (strlen(hex) != 2 * US_TOKEN_KEY_BYTES ||
	    sodium_hex2bin(key, US_TOKEN_KEY_BYTES, hex, strlen(hex), NULL, &len, NULL) != 0 ||
	    len != US_TOKEN_KEY_BYTES)
		return -1;
	return 0;
}

const char *us_token_check_key_hex(const char *value)
{
	uint8_t key[US_TOKEN_KEY_BYTES];
	int rc = us_token_key_from_hex(value, key);
	sodium_memzero(key, sizeof(key));
	return rc == 0 ? NULL : "must be 64 hex digits (32 random bytes)";
}
