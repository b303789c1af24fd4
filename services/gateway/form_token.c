#include "form_token.h"

#include <string.h>

#include <sodium.h>

#define FORM_TOKEN_BYTES 18

const char *gateway_form_token(gateway_request *req, gateway_response *res,
                               const char *cookie_name, const char *path)
{
	const char *have = gateway_http_cookie(req, cookie_name);
	size_t text_len = sodium_base64_ENCODED_LEN(FORM_TOKEN_BYTES,
	                                            sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (have != NULL && strlen(have) == text_len - 1 &&
	    strspn(have, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	            text_len - 1)
		return have;
	uint8_t raw[FORM_TOKEN_BYTES];
	randombytes_buf(raw, sizeof(raw));
	char *token = us_arena_alloc(req->arena, text_len);
	char *cookie = NULL;
	if (token != NULL) {
		sodium_bin2base64(token, text_len, raw, sizeof(raw),
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		cookie = us_arena_printf(req->arena, "%s=%s; Path=%s; HttpOnly; SameSite=Strict%s",
		                         cookie_name, token, path,
		                         req->ctx->secure_cookies ? "; Secure" : "");
	}
	if (cookie == NULL || res->n_cookies >= sizeof(res->cookies) / sizeof(res->cookies[0]))
		return NULL;
	res->cookies[res->n_cookies++] = cookie;
	return token;
}

bool gateway_form_token_ok(gateway_request *req, const char *cookie_name, const char *given)
{
	const char *want = gateway_http_cookie(req, cookie_name);
	if (want == NULL || given == NULL || want[0] == '\0' || strlen(want) != strlen(given))
		return false;
	return sodium_memcmp(want, given, strlen(want)) == 0;
}
