#include "common/page_token.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/validate.h"

#define VERSION 1
#define RAW_LEN 25 /* version, 8 bytes of microseconds, 16 of UUID */

void us_page_token_encode(const us_page_cursor *c, char out[US_PAGE_TOKEN_LEN + 1])
{
	uint8_t raw[RAW_LEN];
	raw[0] = VERSION;
	uint64_t us = (uint64_t)c->created_us;
	for (int i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(us >> (56 - 8 * i));
	size_t len = 0;
	(void)sodium_hex2bin(raw + 9, 16, c->id, strlen(c->id), "-", &len, NULL);
	sodium_bin2base64(out, US_PAGE_TOKEN_LEN + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool us_page_token_decode(const char *token, us_page_cursor *out)
{
	uint8_t raw[RAW_LEN];
	size_t len = 0;
	if (strlen(token) != US_PAGE_TOKEN_LEN || !us_base64_chars(token, US_PAGE_TOKEN_LEN) ||
	    sodium_base642bin(raw, sizeof(raw), token, US_PAGE_TOKEN_LEN, NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != RAW_LEN || raw[0] != VERSION)
		return false;
	uint64_t us = 0;
	for (int i = 0; i < 8; i++)
		us = (us << 8) | raw[1 + i];
	if (us > INT64_MAX)
		return false;
	out->created_us = (int64_t)us;
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), raw + 9, 16);
	snprintf(out->id, sizeof(out->id), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	         hex + 16, hex + 20);
	return true;
}
