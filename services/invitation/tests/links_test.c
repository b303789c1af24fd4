/* Link secrets: the stored hash is the token's, the sealed copy opens to the token with
 * the daemon's key only, URLs, and the request hashes a retry is known by. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "links.h"

static invitation_ctx ctx, other;

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(ctx.token_keys.current, sizeof(ctx.token_keys.current));
	randombytes_buf(ctx.seal_key, sizeof(ctx.seal_key));
	randombytes_buf(ctx.request_key, sizeof(ctx.request_key));
	other = ctx;
	randombytes_buf(other.token_keys.current, sizeof(other.token_keys.current));
	randombytes_buf(other.seal_key, sizeof(other.seal_key));
	randombytes_buf(other.request_key, sizeof(other.request_key));
	ctx.settings.public_base_url = "https://usher.example";
	return 0;
}

static void a_new_link_hashes_and_seals_its_token(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	invitation_link_secret link;
	assert_int_equal(invitation_link_new(&ctx, a, &link), US_OK);
	us_token_hashes hashes;
	char hex[2 * US_TOKEN_HASH_BYTES + 1];
	assert_int_equal(invitation_link_hashes(&ctx, link.token, &hashes), US_OK);
	assert_int_equal(hashes.n, 1);
	sodium_bin2hex(hex, sizeof(hex), hashes.hash[0], US_TOKEN_HASH_BYTES);
	assert_string_equal(hex, link.hash_hex);
	/* Another key hashes it otherwise: the database alone tells no token. */
	assert_int_equal(invitation_link_hashes(&other, link.token, &hashes), US_OK);
	sodium_bin2hex(hex, sizeof(hex), hashes.hash[0], US_TOKEN_HASH_BYTES);
	assert_string_not_equal(hex, link.hash_hex);

	char *token = invitation_link_unseal(&ctx, a, link.sealed);
	assert_non_null(token);
	assert_string_equal(token, link.token);
	assert_null(invitation_link_unseal(&other, a, link.sealed));
	assert_null(invitation_link_unseal(&ctx, a, "not sealed"));
	assert_null(invitation_link_unseal(&ctx, a, ""));

	invitation_link_secret second;
	assert_int_equal(invitation_link_new(&ctx, a, &second), US_OK);
	assert_string_not_equal(second.token, link.token);
	us_arena_free(a);
}

static void a_malformed_token_has_no_hash(void **state)
{
	(void)state;
	us_token_hashes hashes;
	assert_int_not_equal(invitation_link_hashes(&ctx, "short", &hashes), US_OK);
	assert_int_not_equal(invitation_link_hashes(&ctx, "", &hashes), US_OK);
}

/* After a rotation (other's keys replaced ctx's), a link made before it is still found
 * and its sealed copy still opens while the old key is in its time, and not after. */
static void a_link_from_before_a_rotation_works_until_its_key_expires(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	invitation_link_secret link;
	assert_int_equal(invitation_link_new(&ctx, a, &link), US_OK);

	invitation_ctx rotated = other;
	rotated.token_keys.n_previous = 1;
	memcpy(rotated.token_keys.previous[0].key, ctx.token_keys.current, US_TOKEN_KEY_BYTES);
	memcpy(rotated.previous_seal_keys[0], ctx.seal_key, sizeof(ctx.seal_key));
	rotated.token_keys.previous[0].until_ms = INT64_MAX; /* in its time */
	us_token_hashes hashes;
	char hex[2 * US_TOKEN_HASH_BYTES + 1];
	assert_int_equal(invitation_link_hashes(&rotated, link.token, &hashes), US_OK);
	assert_int_equal(hashes.n, 2);
	sodium_bin2hex(hex, sizeof(hex), hashes.hash[1], US_TOKEN_HASH_BYTES);
	assert_string_equal(hex, link.hash_hex);
	char *token = invitation_link_unseal(&rotated, a, link.sealed);
	assert_non_null(token);
	assert_string_equal(token, link.token);

	rotated.token_keys.previous[0].until_ms = 1; /* 1970: its time is up */
	assert_int_equal(invitation_link_hashes(&rotated, link.token, &hashes), US_OK);
	assert_int_equal(hashes.n, 1);
	sodium_bin2hex(hex, sizeof(hex), hashes.hash[0], US_TOKEN_HASH_BYTES);
	assert_string_not_equal(hex, link.hash_hex);
	assert_null(invitation_link_unseal(&rotated, a, link.sealed));
	us_arena_free(a);
}

static void urls_start_with_the_public_base(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	assert_string_equal(invitation_link_url(&ctx, a, "i", "TOKEN"),
	                    "https://usher.example/i/TOKEN");
	invitation_ctx slash = ctx;
	slash.settings.public_base_url = "https://usher.example/";
	assert_string_equal(invitation_link_url(&slash, a, "l", "T"), "https://usher.example/l/T");
	us_arena_free(a);
}

static void request_hashes_keep_fields_apart(void **state)
{
	(void)state;
	char h1[INVITATION_REQUEST_HASH_HEX], h2[INVITATION_REQUEST_HASH_HEX],
	        h3[INVITATION_REQUEST_HASH_HEX], h4[INVITATION_REQUEST_HASH_HEX];
	const char *ab_c[] = {"ab", "c"}, *a_bc[] = {"a", "bc"};
	invitation_request_hash(&ctx, ab_c, 2, h1);
	invitation_request_hash(&ctx, a_bc, 2, h2);
	invitation_request_hash(&ctx, ab_c, 2, h3);
	invitation_request_hash(&other, ab_c, 2, h4);
	assert_false(invitation_request_hash_equal(h1, h2));
	assert_true(invitation_request_hash_equal(h1, h3));
	assert_false(invitation_request_hash_equal(h1, h4)); /* keyed */
	assert_false(invitation_request_hash_equal("", ""));  /* none matches nothing */
	assert_false(invitation_request_hash_equal(h1, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_link_hashes_and_seals_its_token),
		cmocka_unit_test(a_link_from_before_a_rotation_works_until_its_key_expires),
		cmocka_unit_test(a_malformed_token_has_no_hash),
		cmocka_unit_test(urls_start_with_the_public_base),
		cmocka_unit_test(request_hashes_keep_fields_apart),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
