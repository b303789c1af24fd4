/* The login throttle's logic, apart from its table: what an attempt's failures count
 * under and how long an attempt must wait given the counts (login.c reads and writes the
 * counts through store.c; see migrations/0003_login_throttle.sql).
 *
 * Subjects are keyed hashes (IDENTITY_TOKEN_KEY), so the tables hold no email or address,
 * and the kind goes in first, so an email and an address can never share a counter.
 * Password reset requests are counted under subjects of their own kinds. */
#ifndef IDENTITY_THROTTLE_H
#define IDENTITY_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/token.h"
#include "context.h"

#define IDENTITY_SUBJECT_BYTES 32

/* One attempt's subjects: email and network together, the email alone, and the network
 * alone (NULL without a client address). */
typedef struct identity_throttle_subjects {
	const uint8_t *pair;
	const uint8_t *email;
	const uint8_t *network;
} identity_throttle_subjects;

/* What the throttle knows of one subject. */
typedef struct identity_throttle_count {
	int64_t failures;         /* in the current window; 0 when it has passed */
	int64_t since_failure_ms; /* since the last failure */
	bool known;               /* pair only: it signed in within known_days */
} identity_throttle_count;

/* An attempt's subjects with the hashes they point at (do not copy it). */
typedef struct identity_throttle_attempt {
	uint8_t pair[IDENTITY_SUBJECT_BYTES];
	uint8_t email[IDENTITY_SUBJECT_BYTES];
	uint8_t network[IDENTITY_SUBJECT_BYTES];
	identity_throttle_subjects subjects;
} identity_throttle_attempt;

/* The subject of value under kind: BLAKE2b keyed with key over kind, a NUL and value. */
void identity_throttle_subject(const uint8_t key[US_TOKEN_KEY_BYTES], const char *kind,
                               const void *value, size_t len,
                               uint8_t out[IDENTITY_SUBJECT_BYTES]);

/* The subject of an email (normalised) alone. */
void identity_throttle_email_subject(const uint8_t key[US_TOKEN_KEY_BYTES], const char *email,
                                     uint8_t out[IDENTITY_SUBJECT_BYTES]);

/* The subject of a client address's network: an IPv4 address, or the /64 an IPv6 address
 * is in (one subscriber commonly holds a whole /64, and any spelling of it counts alike).
 * False when address is not an IP address. */
bool identity_throttle_network_subject(const uint8_t key[US_TOKEN_KEY_BYTES],
                                       const char *address, uint8_t out[IDENTITY_SUBJECT_BYTES]);

/* Whether a client address is "" (unknown) or an IPv4 or IPv6 address. */
bool identity_throttle_address_ok(const char *address);

/* The subjects of a login for email (normalised) from address, which passed
 * identity_throttle_address_ok(). */
void identity_throttle_attempt_init(const uint8_t key[US_TOKEN_KEY_BYTES], const char *email,
                                    const char *address, identity_throttle_attempt *at);

/* Milliseconds an attempt must still wait (0: go ahead), given the counts of its pair,
 * email and network in c[0..2] (has_network false: no network subject). Past a subject's
 * limit the wait doubles with each further failure, from LOGIN_BACKOFF_BASE_MS up to
 * LOGIN_BACKOFF_MAX_S, counted from the last failure. The email's own limit spares a pair
 * that signed in before, so a crowd of strangers cannot lock the owner out. */
int64_t identity_throttle_wait_ms(const identity_settings *s, const identity_throttle_count c[3],
                                  bool has_network);

#endif
