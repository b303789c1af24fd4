#include "cursor.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/validate.h"

#define VERSION 2
#define POSITION_LEN 25 /* version, 8 bytes of microseconds, 16 of UUID */
#define TAG_LEN 16
#define RAW_LEN (POSITION_LEN + TAG_LEN)

/* The tag of a position in list s. Each field ends with a NUL, so no two lists hash the
 * same bytes. */
static void tag(const uint8_t key[INVITATION_CURSOR_KEY_BYTES], const invitation_cursor_scope *s,
                const uint8_t position[POSITION_LEN], uint8_t out[TAG_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, INVITATION_CURSOR_KEY_BYTES, TAG_LEN);
	crypto_generichash_update(&st, position, POSITION_LEN);
	char state[16];
	snprintf(state, sizeof(state), "%d", s->state);
	const char *const fields[] = {s->account_id, state, s->email_contains, s->subaccount_id};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		crypto_generichash_update(&st, (const uint8_t *)fields[i], strlen(fields[i]) + 1);
	crypto_generichash_final(&st, out, TAG_LEN);
}

void invitation_cursor_encode(const uint8_t key[INVITATION_CURSOR_KEY_BYTES],
                              const invitation_cursor_scope *s, const us_page_cursor *c,
                              char out[INVITATION_CURSOR_LEN + 1])
{
	uint8_t raw[RAW_LEN];
	raw[0] = VERSION;
	uint64_t us = (uint64_t)c->created_us;
	for (int i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(us >> (56 - 8 * i));
	size_t len = 0;
	(void)sodium_hex2bin(raw + 9, 16, c->id, strlen(c->id), "-", &len, NULL);
	tag(key, s, raw, raw + POSITION_LEN);
	sodium_bin2base64(out, INVITATION_CURSOR_LEN + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool invitation_cursor_decode(const uint8_t key[INVITATION_CURSOR_KEY_BYTES],
                              const invitation_cursor_scope *s, const char *token,
                              us_page_cursor *out)
{
	uint8_t raw[RAW_LEN], want[TAG_LEN];
	size_t len = 0;
	if (strlen(token) != INVITATION_CURSOR_LEN || !us_base64_chars(token, INVITATION_CURSOR_LEN) ||
	    sodium_base642bin(raw, sizeof(raw), token, INVITATION_CURSOR_LEN, NULL, &len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != RAW_LEN || raw[0] != VERSION)
		return false;
	tag(key, s, raw, want);
	if (sodium_memcmp(want, raw + POSITION_LEN, TAG_LEN) != 0)
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
