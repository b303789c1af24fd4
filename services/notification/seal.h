/* A queued message's variables (its links among them) are stored sealed with
 * NOTIFICATION_SEAL_KEY, which only usher-notificationd holds: a dump of the database
 * shows no link a reader could follow (issue 11, hole 7). XChaCha20-Poly1305 with a random
 * nonce; the message's template and recipient are the associated data, so a sealed value
 * moved onto another message (another recipient) does not open. */
#ifndef NOTIFICATION_SEAL_H
#define NOTIFICATION_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

#define NOTIFICATION_SEAL_KEY_BYTES 32

/* plain (len bytes) sealed with key for template and recipient, as hex in the arena; NULL when out
 * of memory. */
char *notification_seal(us_arena *a, const uint8_t key[NOTIFICATION_SEAL_KEY_BYTES],
                        const char *plain, size_t len, const char *template_name,
                        const char *recipient);

/* The plain text (NUL-terminated, in the arena) of a sealed hex value; NULL when it does
 * not open (another key, another message, or tampered with). */
char *notification_unseal(us_arena *a, const uint8_t key[NOTIFICATION_SEAL_KEY_BYTES],
                          const char *hex, const char *template_name, const char *recipient);

#endif
