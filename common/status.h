/* The outcome of an RPC: a code, a short message for humans, and the fields that were
 * wrong. Filled by a handler on the server, read back by the client. */
#ifndef US_STATUS_H
#define US_STATUS_H

#include <stddef.h>

#include "common/err.h"

#define US_STATUS_MESSAGE_MAX 256
#define US_STATUS_VIOLATIONS_MAX 100

typedef struct us_violation {
	char *field;       /* owned */
	char *description; /* owned */
} us_violation;

#define US_STATUS_REASON_MAX 32

typedef struct us_status {
	us_err code;
	char message[US_STATUS_MESSAGE_MAX];
	char reason[US_STATUS_REASON_MAX]; /* for programs: why UNAUTHENTICATED ("REPLAYED"), or "" */
	us_violation *violations; /* owned array */
	size_t n_violations;
} us_status;

/* An OK status with no violations. */
void us_status_init(us_status *st);

/* Frees the violations and resets to OK. Takes NULL. */
void us_status_clear(us_status *st);

/* Sets the code and the printf-formatted message; returns code. */
us_err us_status_set(us_status *st, us_err code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Adds a violation; silently stops at US_STATUS_VIOLATIONS_MAX. */
void us_status_add_violation(us_status *st, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The description of the violation on field, or NULL. */
const char *us_status_violation(const us_status *st, const char *field);

#endif
