/* The tokens identityd issues for sessions and email-change and password-reset links: the
 * text is what its holder presents later, and only its keyed hash is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/arena.h"
#include "mailer.h"
#include "tokens.h"

static const uint8_t key[US_TOKEN_KEY_BYTES] = {9, 9, 9};
static const uint8_t other_key[US_TOKEN_KEY_BYTES] = {1};

static void test_issue(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char *t1, *t2;
	uint8_t h1[US_TOKEN_HASH_BYTES], h2[US_TOKEN_HASH_BYTES], again[US_TOKEN_HASH_BYTES];
	assert_int_equal(identity_token_issue(key, a, &t1, h1), US_OK);
	assert_int_equal(identity_token_issue(key, a, &t2, h2), US_OK);
	assert_int_equal(strlen(t1), US_TOKEN_TEXT_LEN);
	assert_string_not_equal(t1, t2);
	assert_memory_not_equal(h1, h2, US_TOKEN_HASH_BYTES);
	/* What the holder presents later hashes to what was stored... */
	assert_int_equal(us_token_hash(t1, key, again), US_OK);
	assert_memory_equal(again, h1, US_TOKEN_HASH_BYTES);
	/* ...under this key only, and no hash is the text itself. */
	assert_int_equal(us_token_hash(t1, other_key, again), US_OK);
	assert_memory_not_equal(again, h1, US_TOKEN_HASH_BYTES);
	assert_memory_not_equal(t1, h1, US_TOKEN_HASH_BYTES);
	/* One character changed is another token. */
	t1[0] = t1[0] == 'A' ? 'B' : 'A';
	assert_int_equal(us_token_hash(t1, key, again), US_OK);
	assert_memory_not_equal(again, h1, US_TOKEN_HASH_BYTES);
	us_arena_free(a);
}

static void test_link(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char *link = identity_mail_url(a, "https://usher.example", "password-reset", "tok_EN-1");
	assert_string_equal(link, "https://usher.example/password-reset/tok_EN-1");
	us_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue),
		cmocka_unit_test(test_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
