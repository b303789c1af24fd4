/* Standard Webhooks signing (https://www.standardwebhooks.com): a secret is "whsec_" and
 * the base64 of 24 random bytes; a message is signed by HMAC-SHA256, keyed with the
 * secret's bytes, of "<webhook-id>.<webhook-timestamp>.<body>", and the header
 * webhook-signature holds "v1,<base64 of the MAC>", one per secret that signs, separated
 * by spaces. */
#ifndef NOTIFICATION_WEBHOOK_SIGN_H
#define NOTIFICATION_WEBHOOK_SIGN_H

#include <stddef.h>

#include "common/arena.h"

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_BYTES 24

/* A new random secret, in the arena; NULL when out of memory. */
char *notification_webhook_secret_new(us_arena *a);

/* "v1,<base64>" for the message, in the arena; NULL when the secret is malformed or out
 * of memory. */
char *notification_webhook_sign(us_arena *a, const char *secret, const char *id,
                                const char *timestamp, const char *body, size_t body_len);

#endif
