#include "links.h"

#include <string.h>

#include <sodium.h>

#include "common/clock.h"
#include "context.h"

#define SEALED_BYTES (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + US_TOKEN_TEXT_LEN)

us_err invitation_link_new(const invitation_ctx *ctx, us_arena *a, invitation_link_secret *out)
{
	us_token_new(out->token);
	uint8_t hash[US_TOKEN_HASH_BYTES];
	us_err rc = us_token_hash(out->token, ctx->token_keys.current, hash);
	if (rc != US_OK)
		return rc;
	sodium_bin2hex(out->hash_hex, sizeof(out->hash_hex), hash, sizeof(hash));

	uint8_t box[SEALED_BYTES];
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const uint8_t *)out->token,
	                      US_TOKEN_TEXT_LEN, box, ctx->seal_key);
	size_t text_len = sodium_base64_ENCODED_LEN(SEALED_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out->sealed = us_arena_alloc(a, text_len);
	if (out->sealed == NULL)
		return US_EEXHAUSTED;
	sodium_bin2base64(out->sealed, text_len, box, sizeof(box),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return US_OK;
}

us_err invitation_link_hashes(const invitation_ctx *ctx, const char *token, us_token_hashes *out)
{
	return us_token_hashes_of(&ctx->token_keys, token, us_wall_ms(), out);
}

char *invitation_link_unseal(const invitation_ctx *ctx, us_arena *a, const char *sealed)
{
	uint8_t box[SEALED_BYTES];
	size_t len = 0;
	if (sodium_base642bin(box, sizeof(box), sealed, strlen(sealed), NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != SEALED_BYTES)
		return NULL;
	char *token = us_arena_alloc(a, US_TOKEN_TEXT_LEN + 1);
	if (token == NULL)
		return NULL;
	int64_t now = us_wall_ms();
	for (size_t i = 0; i <= ctx->token_keys.n_previous; i++) {
		const uint8_t *key = i == 0 ? ctx->seal_key : ctx->previous_seal_keys[i - 1];
		if (i > 0 && now >= ctx->token_keys.previous[i - 1].until_ms)
			continue;
		if (crypto_secretbox_open_easy((uint8_t *)token, box + crypto_secretbox_NONCEBYTES,
		                               SEALED_BYTES - crypto_secretbox_NONCEBYTES, box,
		                               key) == 0) {
			token[US_TOKEN_TEXT_LEN] = '\0';
			return token;
		}
	}
	return NULL;
}

char *invitation_link_url(const invitation_ctx *ctx, us_arena *a, const char *kind, const char *token)
{
	const char *base = ctx->settings.public_base_url;
	size_t len = strlen(base);
	/* Tolerate a trailing slash in the setting. */
	return us_arena_printf(a, "%.*s/%s/%s", (int)(len > 0 && base[len - 1] == '/' ? len - 1 : len),
	                       base, kind, token);
}

void invitation_request_hash(const invitation_ctx *ctx, const char *const *fields, size_t n, char out[INVITATION_REQUEST_HASH_HEX])
{
	crypto_generichash_state st;
	uint8_t hash[32];
	crypto_generichash_init(&st, ctx->request_key, sizeof(ctx->request_key), sizeof(hash));
	for (size_t i = 0; i < n; i++)
		crypto_generichash_update(&st, (const uint8_t *)fields[i], strlen(fields[i]) + 1);
	crypto_generichash_final(&st, hash, sizeof(hash));
	sodium_bin2hex(out, INVITATION_REQUEST_HASH_HEX, hash, sizeof(hash));
}

bool invitation_request_hash_equal(const char *a, const char *b)
{
	size_t len = strlen(a);
	return len > 0 && len == strlen(b) && sodium_memcmp(a, b, len) == 0;
}
