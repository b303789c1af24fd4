#include "password.h"

#include <stdatomic.h>
#include <string.h>

#include "common/log.h"

static unsigned long long ops;
static size_t mem;
static int limit;
static atomic_int in_use;
static char dummy_hash[IDENTITY_PASSWORD_HASH_SIZE];

/* A counter, not a semaphore: the caller wants a fast refusal, never a queue. */
static bool slot_take(void)
{
	if (atomic_fetch_add(&in_use, 1) < limit)
		return true;
	atomic_fetch_sub(&in_use, 1);
	return false;
}

static void slot_give(void)
{
	atomic_fetch_sub(&in_use, 1);
}

us_err identity_password_init(unsigned long long opslimit, size_t memlimit_bytes,
                              int concurrency)
{
	ops = opslimit;
	mem = memlimit_bytes;
	limit = concurrency;
	atomic_store(&in_use, 0);
	char random_password[33];
	uint8_t raw[16];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(random_password, sizeof(random_password), raw, sizeof(raw));
	int rv = crypto_pwhash_str_alg(dummy_hash, random_password, strlen(random_password), ops,
	                               mem, crypto_pwhash_ALG_ARGON2ID13);
	sodium_memzero(random_password, sizeof(random_password));
	return rv == 0 ? US_OK : US_EEXHAUSTED;
}

us_err identity_password_hash(const char *password, char out[IDENTITY_PASSWORD_HASH_SIZE])
{
	if (!slot_take())
		return US_EEXHAUSTED;
	int rv = crypto_pwhash_str_alg(out, password, strlen(password), ops, mem,
	                               crypto_pwhash_ALG_ARGON2ID13);
	slot_give();
	if (rv != 0) {
		us_warn("could not hash a password: out of memory");
		return US_EEXHAUSTED;
	}
	return US_OK;
}

us_err identity_password_verify(const char *stored, const char *password, bool *match,
                                char *rehash)
{
	if (rehash != NULL)
		rehash[0] = '\0';
	if (!slot_take())
		return US_EEXHAUSTED;
	const char *against = stored != NULL ? stored : dummy_hash;
	bool ok = crypto_pwhash_str_verify(against, password, strlen(password)) == 0;
	slot_give();
	*match = ok && stored != NULL;
	if (*match && rehash != NULL && crypto_pwhash_str_needs_rehash(stored, ops, mem) != 0 &&
	    identity_password_hash(password, rehash) != US_OK)
		rehash[0] = '\0';
	return US_OK;
}
