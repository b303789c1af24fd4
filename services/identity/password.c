#include "password.h"

#include <string.h>

#include "common/log.h"

static bool slot_take(identity_passwords *p)
{
	if (atomic_fetch_add(&p->in_use, 1) < p->concurrency)
		return true;
	atomic_fetch_sub(&p->in_use, 1);
	return false;
}

static void slot_give(identity_passwords *p)
{
	atomic_fetch_sub(&p->in_use, 1);
}

us_err identity_password_init(identity_passwords *p, unsigned long long opslimit,
                              size_t memlimit_bytes, int concurrency)
{
	p->opslimit = opslimit;
	p->memlimit_bytes = memlimit_bytes;
	p->concurrency = concurrency;
	atomic_store(&p->in_use, 0);
	char random_password[33];
	uint8_t raw[16];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(random_password, sizeof(random_password), raw, sizeof(raw));
	int rv = crypto_pwhash_str_alg(p->dummy_hash, random_password, strlen(random_password),
	                               opslimit, memlimit_bytes, crypto_pwhash_ALG_ARGON2ID13);
	sodium_memzero(random_password, sizeof(random_password));
	return rv == 0 ? US_OK : US_EEXHAUSTED;
}

us_err identity_password_hash(identity_passwords *p, const char *password,
                              char out[IDENTITY_PASSWORD_HASH_SIZE])
{
	if (!slot_take(p))
		return US_EEXHAUSTED;
	int rv = crypto_pwhash_str_alg(out, password, strlen(password), p->opslimit,
	                               p->memlimit_bytes, crypto_pwhash_ALG_ARGON2ID13);
	slot_give(p);
	if (rv != 0) {
		us_warn("could not hash a password: out of memory");
		return US_EEXHAUSTED;
	}
	return US_OK;
}

us_err identity_password_verify(identity_passwords *p, const char *stored, const char *password,
                                bool *match, char *rehash)
{
	if (rehash != NULL)
		rehash[0] = '\0';
	if (!slot_take(p))
		return US_EEXHAUSTED;
	const char *against = stored != NULL ? stored : p->dummy_hash;
	bool ok = crypto_pwhash_str_verify(against, password, strlen(password)) == 0;
	slot_give(p);
	*match = ok && stored != NULL;
	if (*match && rehash != NULL &&
	    crypto_pwhash_str_needs_rehash(stored, p->opslimit, p->memlimit_bytes) != 0 &&
	    identity_password_hash(p, password, rehash) != US_OK)
		rehash[0] = '\0';
	return US_OK;
}
