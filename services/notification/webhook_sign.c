#include "webhook_sign.h"

#include <string.h>

#include <sodium.h>

#define VARIANT sodium_base64_VARIANT_ORIGINAL
#define KEY_MAX 64

char *notification_webhook_secret_new(us_arena *a)
{
	unsigned char key[WEBHOOK_SECRET_BYTES];
	randombytes_buf(key, sizeof(key));
	size_t b64_len = sodium_base64_ENCODED_LEN(sizeof(key), VARIANT);
	char b64[sodium_base64_ENCODED_LEN(WEBHOOK_SECRET_BYTES, VARIANT)];
	sodium_bin2base64(b64, b64_len, key, sizeof(key), VARIANT);
	sodium_memzero(key, sizeof(key));
	char *secret = us_arena_printf(a, WEBHOOK_SECRET_PREFIX "%s", b64);
	sodium_memzero(b64, sizeof(b64));
	return secret;
}

char *notification_webhook_sign(us_arena *a, const char *secret, const char *id,
                                const char *timestamp, const char *body, size_t body_len)
{
	size_t prefix = strlen(WEBHOOK_SECRET_PREFIX);
	if (strncmp(secret, WEBHOOK_SECRET_PREFIX, prefix) != 0)
		return NULL;
	unsigned char key[KEY_MAX];
	size_t key_len = 0;
	const char *b64 = secret + prefix;
	if (sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &key_len, NULL, VARIANT) != 0 ||
	    key_len == 0)
		return NULL;
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)timestamp, strlen(timestamp));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
	char out[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, VARIANT)];
	sodium_bin2base64(out, sizeof(out), mac, sizeof(mac), VARIANT);
	return us_arena_printf(a, "v1,%s", out);
}
