#include "seal.h"

#include <string.h>

#include <sodium.h>

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

/* "template\nrecipient": neither can hold a newline. */
static char *associated(us_arena *a, const char *template_name, const char *recipient)
{
	return us_arena_printf(a, "%s\n%s", template_name, recipient);
}

char *notification_seal(us_arena *a, const uint8_t key[NOTIFICATION_SEAL_KEY_BYTES],
                        const char *plain, size_t len, const char *template_name,
                        const char *recipient)
{
	const char *ad = associated(a, template_name, recipient);
	size_t box_len = NONCE + len + TAG;
	uint8_t *box = us_arena_alloc(a, box_len);
	char *hex = us_arena_alloc(a, 2 * box_len + 1);
	if (ad == NULL || box == NULL || hex == NULL)
		return NULL;
	randombytes_buf(box, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE, NULL, (const uint8_t *)plain, len,
	                                           (const uint8_t *)ad, strlen(ad), NULL, box,
	                                           key);
	sodium_bin2hex(hex, 2 * box_len + 1, box, box_len);
	return hex;
}

char *notification_unseal(us_arena *a, const uint8_t key[NOTIFICATION_SEAL_KEY_BYTES],
                          const char *hex, const char *template_name, const char *recipient)
{
	size_t hex_len = strlen(hex);
	const char *ad = associated(a, template_name, recipient);
	uint8_t *box = us_arena_alloc(a, hex_len / 2 + 1);
	size_t box_len = 0;
	if (ad == NULL || box == NULL ||
	    sodium_hex2bin(box, hex_len / 2 + 1, hex, hex_len, NULL, &box_len, NULL) != 0 ||
	    box_len < NONCE + TAG)
		return NULL;
	char *plain = us_arena_alloc(a, box_len - NONCE - TAG + 1);
	unsigned long long plain_len = 0;
	if (plain == NULL ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)plain, &plain_len, NULL,
	                                               box + NONCE, box_len - NONCE,
	                                               (const uint8_t *)ad, strlen(ad), box,
	                                               key) != 0)
		return NULL;
	plain[plain_len] = '\0';
	return plain;
}
