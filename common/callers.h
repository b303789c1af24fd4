/* The caller policy: which public keys a daemon trusts and what each may do, as data
 * (RPC_CALLERS_FILE, reread on SIGHUP). One caller per line:
 *
 *     # NAME            PUBLIC KEY (64 hex digits)   RIGHTS
 *     usher-gatewayd    3b6a27bc...                  actor
 *     usher-invitationd 9f0c...                      actor system
 *     operator          41d2...                      actor system principals
 *     reports           77aa...                      methods=usher.v1.TenancyService/ListMembers
 *
 * Rights: "actor" may name a person as a request's actor; "system" is Usher itself
 * (internal methods, requests without an actor, verified users, grants without a person
 * as granter); "principals" may manage service principals; "methods=P,P,..." limits the
 * methods it may call (a pattern is a full name, or a service's name then "/" and "*";
 * without it, any). A name
 * may appear on two lines while its key is rotated; a key only once. Service principals
 * are not listed here: usher-identityd knows them (caller_auth.h). */
#ifndef US_CALLERS_H
#define US_CALLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/caller_key.h"
#include "common/err.h"

#define US_CALLER_NAME_MAX 64

enum {
	US_RIGHT_ACTOR = 1 << 0,
	US_RIGHT_SYSTEM = 1 << 1,
	US_RIGHT_PRINCIPALS = 1 << 2,
};

typedef struct us_caller_entry {
	char name[US_CALLER_NAME_MAX + 1];
	uint8_t public_key[US_PUBLIC_KEY_BYTES];
	unsigned rights;
	char **methods; /* NULL: every method */
	size_t n_methods;
} us_caller_entry;

typedef struct us_callers us_callers;

/* Parses a policy; origin names it in errors ("callers.conf:3: ..."). Returns owned *out
 * (us_callers_free()), or an error with the reason in err. */
US_MUST_USE us_err us_callers_parse(const char *text, const char *origin, us_callers **out,
                                    char *err, size_t err_size);

/* Reads and parses a file (at most 1 MiB). */
US_MUST_USE us_err us_callers_load(const char *path, us_callers **out, char *err,
                                   size_t err_size);

void us_callers_free(us_callers *c);

size_t us_callers_count(const us_callers *c);

/* The entry holding public_key, borrowed from c; NULL when none. */
const us_caller_entry *us_callers_find(const us_callers *c,
                                       const uint8_t public_key[US_PUBLIC_KEY_BYTES]);

/* Does the pattern list allow method ("usher.v1.X/Y")? n == 0 allows every method. */
bool us_methods_allow(char *const *patterns, size_t n, const char *method);

/* NULL when pattern is a valid method pattern, else why not. */
const char *us_method_pattern_check(const char *pattern);

#endif
