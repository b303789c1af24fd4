/* The outbox relay: threads (OUTBOX_RELAYS) that hand the emails written to the outbox to
 * usher-notificationd in batches (idempotent there by key) and deletes them once taken.
 * It wakes on a NOTIFY sent by the transaction that wrote them, or every OUTBOX_POLL_MS. */
#ifndef INVITATION_OUTBOX_H
#define INVITATION_OUTBOX_H

#include <stddef.h>

#include "common/err.h"

US_MUST_USE us_err inv_outbox_start(char *err, size_t err_size);
void inv_outbox_stop(void); /* finishes the chunk in hand; safe when never started */

#endif
