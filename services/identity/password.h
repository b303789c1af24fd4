/* Password hashing with argon2id (crypto_pwhash_str). Each hash or verification holds
 * PASSWORD_MEMLIMIT_MIB of memory for tens of milliseconds, so at most a set number run
 * at once: past that a caller gets RESOURCE_EXHAUSTED at once instead of the daemon
 * growing until the kernel kills it. */
#ifndef IDENTITY_PASSWORD_H
#define IDENTITY_PASSWORD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

#include "common/err.h"

#define IDENTITY_PASSWORD_HASH_SIZE crypto_pwhash_STRBYTES

/* The hasher: the cost of new hashes, the bound and the dummy hash. */
typedef struct identity_passwords {
	unsigned long long opslimit;
	size_t memlimit_bytes;
	int concurrency;
	atomic_int in_use; /* a counter, not a semaphore: callers want a fast refusal */
	char dummy_hash[IDENTITY_PASSWORD_HASH_SIZE];
} identity_passwords;

/* Sets the cost of new hashes and the number of operations allowed at once, and makes
 * the dummy hash that unknown users are checked against. Call once before serving. */
US_MUST_USE us_err identity_password_init(identity_passwords *p, unsigned long long opslimit,
                                          size_t memlimit_bytes, int concurrency);

/* Writes the argon2id string of password into out. RESOURCE_EXHAUSTED when the bound is
 * reached or the memory cannot be had. */
US_MUST_USE us_err identity_password_hash(identity_passwords *p, const char *password,
                                          char out[IDENTITY_PASSWORD_HASH_SIZE]);

/* Checks password against stored, or against the dummy hash when stored is NULL, so
 * that an unknown user costs what a known one does (*match is then false). When it
 * matches a hash made with other parameters than the current ones and rehash is not
 * NULL, rehash (IDENTITY_PASSWORD_HASH_SIZE bytes) gets a new hash, or "" when none
 * could be made now. RESOURCE_EXHAUSTED as above. */
US_MUST_USE us_err identity_password_verify(identity_passwords *p, const char *stored,
                                            const char *password, bool *match, char *rehash);

#endif
