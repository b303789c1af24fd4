/* Token key rotation: a token hashed under a previous key is found (its hash is among the
 * candidates) until that key's time is up, and not after; the setting that lists previous
 * keys is refused, saying why, when any entry is malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/token.h"

#define OLD_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define OLDER_HEX "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define END_2026_MS INT64_C(1798675200000) /* 2026-12-31T00:00:00Z */

static int has_hash(const us_token_hashes *h, const uint8_t want[US_TOKEN_HASH_BYTES])
{
	for (size_t i = 0; i < h->n; i++)
		if (memcmp(h->hash[i], want, US_TOKEN_HASH_BYTES) == 0)
			return 1;
	return 0;
}

static void test_old_key_verifies_within_its_window_only(void **state)
{
	(void)state;
	uint8_t old_key[US_TOKEN_KEY_BYTES];
	assert_int_equal(us_token_key_from_hex(OLD_HEX, old_key), 0);
	char token[US_TOKEN_TEXT_LEN + 1];
	us_token_new(token);
	uint8_t stored[US_TOKEN_HASH_BYTES]; /* what the database kept before the rotation */
	assert_int_equal(us_token_hash(token, old_key, stored), US_OK);

	us_token_keyring ring;
	randombytes_buf(ring.current, sizeof(ring.current));
	ring.n_previous = 0;
	assert_null(us_token_previous_parse(OLD_HEX "@2026-12-31T00:00:00Z,"
	                                    OLDER_HEX "@2026-06-01T12:30:00.5Z", &ring));
	assert_int_equal(ring.n_previous, 2);
	assert_int_equal(ring.previous[0].until_ms, END_2026_MS);
	assert_int_equal(ring.previous[1].until_ms, INT64_C(1780317000500));

	us_token_hashes h;
	/* Before the end of its window: current key first, then the old key's hash. */
	assert_int_equal(us_token_hashes_of(&ring, token, END_2026_MS - 1, &h), US_OK);
	assert_int_equal(h.n, 2);
	uint8_t current[US_TOKEN_HASH_BYTES];
	assert_int_equal(us_token_hash(token, ring.current, current), US_OK);
	assert_memory_equal(h.hash[0], current, US_TOKEN_HASH_BYTES);
	assert_true(has_hash(&h, stored));
	/* From the end of its window on, the old key verifies nothing. */
	assert_int_equal(us_token_hashes_of(&ring, token, END_2026_MS, &h), US_OK);
	assert_int_equal(h.n, 1);
	assert_false(has_hash(&h, stored));
	/* The older key's window ended first: both counted before it, one after. */
	assert_int_equal(us_token_hashes_of(&ring, token, INT64_C(1780317000499), &h), US_OK);
	assert_int_equal(h.n, 3);
	assert_int_equal(us_token_hashes_of(&ring, token, INT64_C(1780317000500), &h), US_OK);
	assert_int_equal(h.n, 2);

	/* Without previous keys, only the current key. */
	assert_null(us_token_previous_parse("", &ring));
	assert_int_equal(ring.n_previous, 0);
	assert_int_equal(us_token_hashes_of(&ring, token, 0, &h), US_OK);
	assert_int_equal(h.n, 1);
	assert_false(has_hash(&h, stored));

	/* A malformed token is refused whatever the keys. */
	assert_int_equal(us_token_hashes_of(&ring, "short", 0, &h), US_EINVAL);
	us_token_keyring_wipe(&ring);
}

static void test_malformed_previous_keys_are_refused(void **state)
{
	(void)state;
	us_token_keyring ring = {0};
	memset(ring.current, 0x11, sizeof(ring.current));
	static const struct {
		const char *text, *why;
	} bad[] = {
		{OLD_HEX, "each entry must be KEY@UNTIL"},
		{"abc@2026-12-31T00:00:00Z", "each entry must be KEY@UNTIL"},
		{"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff@2026-12-31T00:00:00Z",
		 "a previous key is not 64 hex digits"},
		{OLD_HEX "@2026-02-30T00:00:00Z", "not an RFC 3339 UTC time"},
		{OLD_HEX "@2026-12-31T00:00:00+01:00", "not an RFC 3339 UTC time"},
		{OLD_HEX "@2026-12-31T00:00:00Zjunk", "not an RFC 3339 UTC time"},
		{OLD_HEX "@2026-12-31", "not an RFC 3339 UTC time"},
		{OLD_HEX "@2026-12-31T00:00:00.Z", "not an RFC 3339 UTC time"},
		{"1111111111111111111111111111111111111111111111111111111111111111@2026-12-31T00:00:00Z",
		 "a previous key is the current key"},
		{OLD_HEX "@2026-12-31T00:00:00Z," OLD_HEX "@2026-12-31T00:00:00Z," OLD_HEX
		 "@2026-12-31T00:00:00Z," OLD_HEX "@2026-12-31T00:00:00Z," OLD_HEX "@2026-12-31T00:00:00Z",
		 "at most 4 previous keys"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = us_token_previous_parse(bad[i].text, &ring);
		if (why == NULL || strstr(why, bad[i].why) == NULL)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].text, why ? why : "(accepted)",
			         bad[i].why);
		assert_int_equal(ring.n_previous, 0); /* unchanged */
	}
	/* The config check says the same, without knowing the current key. */
	assert_non_null(us_token_check_previous_keys(OLD_HEX "@2026-02-30T00:00:00Z"));
	assert_null(us_token_check_previous_keys(OLD_HEX "@2026-12-31T00:00:00Z"));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_old_key_verifies_within_its_window_only),
		cmocka_unit_test(test_malformed_previous_keys_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
