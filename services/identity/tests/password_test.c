/* The argon2id hasher's own logic: unknown users cost a check against the dummy hash and
 * never match, a hash made with older parameters is upgraded, and past the bound a caller
 * is refused at once. Tiny parameters keep it fast. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "password.h"

#define OPS 1
#define MEM crypto_pwhash_MEMLIMIT_MIN

static void test_hash_and_verify(void **state)
{
	(void)state;
	identity_passwords p;
	assert_int_equal(identity_password_init(&p, OPS, MEM, 2), US_OK);
	char hash[IDENTITY_PASSWORD_HASH_SIZE], rehash[IDENTITY_PASSWORD_HASH_SIZE];
	assert_int_equal(identity_password_hash(&p, "correct horse", hash), US_OK);
	assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
	bool match = false;
	assert_int_equal(identity_password_verify(&p, hash, "correct horse", &match, rehash), US_OK);
	assert_true(match);
	assert_string_equal(rehash, ""); /* current parameters: nothing to upgrade */
	assert_int_equal(identity_password_verify(&p, hash, "correct horsE", &match, rehash), US_OK);
	assert_false(match);
	/* No stored hash (no such user): the dummy is checked, and nothing matches. */
	assert_int_equal(identity_password_verify(&p, NULL, "correct horse", &match, NULL), US_OK);
	assert_false(match);
	/* Every slot is given back. */
	assert_int_equal(atomic_load(&p.in_use), 0);
}

static void test_rehash_with_new_parameters(void **state)
{
	(void)state;
	identity_passwords old, now;
	assert_int_equal(identity_password_init(&old, OPS, MEM, 1), US_OK);
	assert_int_equal(identity_password_init(&now, OPS + 1, MEM, 1), US_OK);
	char hash[IDENTITY_PASSWORD_HASH_SIZE], rehash[IDENTITY_PASSWORD_HASH_SIZE];
	assert_int_equal(identity_password_hash(&old, "s3cret pass", hash), US_OK);
	bool match = false;
	assert_int_equal(identity_password_verify(&now, hash, "s3cret pass", &match, rehash), US_OK);
	assert_true(match);
	assert_string_not_equal(rehash, "");
	assert_string_not_equal(rehash, hash);
	assert_int_equal(identity_password_verify(&now, rehash, "s3cret pass", &match, NULL), US_OK);
	assert_true(match);
	/* A wrong password is never upgraded. */
	assert_int_equal(identity_password_verify(&now, hash, "wrong pass", &match, rehash), US_OK);
	assert_false(match);
	assert_string_equal(rehash, "");
}

static void test_bound(void **state)
{
	(void)state;
	identity_passwords p;
	assert_int_equal(identity_password_init(&p, OPS, MEM, 1), US_OK);
	char hash[IDENTITY_PASSWORD_HASH_SIZE];
	/* One operation in progress elsewhere: the next is refused, not queued. */
	atomic_store(&p.in_use, 1);
	assert_int_equal(identity_password_hash(&p, "password1", hash), US_EEXHAUSTED);
	bool match = true;
	assert_int_equal(identity_password_verify(&p, NULL, "password1", &match, NULL),
	                 US_EEXHAUSTED);
	assert_int_equal(atomic_load(&p.in_use), 1);
	atomic_store(&p.in_use, 0);
	assert_int_equal(identity_password_hash(&p, "password1", hash), US_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_rehash_with_new_parameters),
		cmocka_unit_test(test_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
