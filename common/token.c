#include "common/token.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* "YYYY-MM-DDTHH:MM:SS[.fff...]Z" as Unix ms; -1 when it is not a real UTC time. */
static int64_t parse_utc_ms(const char *s, size_t len)
{
	char text[40];
	if (len < 20 || len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	struct tm tm = {0};
	int consumed = 0;
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 || consumed != 19)
		return -1;
	const char *rest = text + 19;
	int64_t ms = 0;
	if (*rest == '.') {
		int digits = 0;
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*rest - '0');
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (strcmp(rest, "Z") != 0)
		return -1;
	struct tm want = tm;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	struct tm back;
	/* timegm() normalises 2026-02-30 into March: a date that changes is no date. */
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_year + 1900 != want.tm_year ||
	    back.tm_mon + 1 != want.tm_mon || back.tm_mday != want.tm_mday ||
	    back.tm_hour != want.tm_hour || back.tm_min != want.tm_min || back.tm_sec != want.tm_sec)
		return -1;
	return (int64_t)t * 1000 + ms;
}

const char *us_token_previous_parse(const char *text, us_token_keyring *ring)
{
	us_token_keyring parsed;
	memcpy(parsed.current, ring->current, sizeof(parsed.current));
	parsed.n_previous = 0;
	const char *why = NULL;
	for (const char *p = text != NULL ? text : ""; *p != '\0' && why == NULL;) {
		size_t len = strcspn(p, ",");
		const char *at = memchr(p, '@', len);
		char hex[2 * US_TOKEN_KEY_BYTES + 1];
		if (parsed.n_previous == US_TOKEN_PREVIOUS_MAX) {
			why = "at most " US_TOKEN_PREVIOUS_MAX_TEXT " previous keys";
			break;
		}
		if (at == NULL || (size_t)(at - p) != sizeof(hex) - 1) {
			why = "each entry must be KEY@UNTIL: 64 hex digits, '@', an RFC 3339 UTC time";
			break;
		}
		memcpy(hex, p, sizeof(hex) - 1);
		hex[sizeof(hex) - 1] = '\0';
		int64_t until = parse_utc_ms(at + 1, len - (size_t)(at + 1 - p));
		if (us_token_key_from_hex(hex, parsed.previous[parsed.n_previous].key) != 0)
			why = "a previous key is not 64 hex digits";
		else if (until < 0)
			why = "a previous key's time is not an RFC 3339 UTC time such as "
			      "2026-12-31T00:00:00Z";
		else if (sodium_memcmp(parsed.previous[parsed.n_previous].key, parsed.current,
		                       US_TOKEN_KEY_BYTES) == 0)
			why = "a previous key is the current key";
		parsed.previous[parsed.n_previous++].until_ms = until;
		sodium_memzero(hex, sizeof(hex));
		p += len;
		if (*p == ',')
			p++;
	}
	if (why == NULL)
		memcpy(ring, &parsed, sizeof(parsed));
	sodium_memzero(&parsed, sizeof(parsed));
	return why;
}

const char *us_token_check_previous_keys(const char *value)
{
	/* The current key is not known here: an all-zero one stands in for it. */
	us_token_keyring ring = {0};
	const char *why = us_token_previous_parse(value, &ring);
	us_token_keyring_wipe(&ring);
	return why;
}

us_err us_token_hashes_of(const us_token_keyring *ring, const char *text, int64_t now_ms,
                          us_token_hashes *out)
{
	out->n = 0;
	us_err rc = us_token_hash(text, ring->current, out->hash[out->n]);
	if (rc != US_OK)
		return rc;
	out->n++;
	for (size_t i = 0; i < ring->n_previous; i++) {
		if (now_ms >= ring->previous[i].until_ms)
			continue;
		rc = us_token_hash(text, ring->previous[i].key, out->hash[out->n]);
		if (rc != US_OK)
			return rc;
		out->n++;
	}
	return US_OK;
}

void us_token_keyring_wipe(us_token_keyring *ring)
{
	sodium_memzero(ring, sizeof(*ring));
}
