/* The outbox relay: threads (OUTBOX_RELAYS) that hand the emails written to the outbox to
 * usher-notificationd in batches (idempotent there by key) and deletes them once taken.
 * They wake when the daemon announces a commit (common/wake.h), or every OUTBOX_POLL_MS for
 * rows another process wrote (another replica). */
#ifndef INVITATION_OUTBOX_H
#define INVITATION_OUTBOX_H

#include <stddef.h>

#include "common/err.h"
#include "context.h"

/* Starts the relays of ctx's settings; *out is owned (invitation_outbox_stop() it). */
US_MUST_USE us_err invitation_outbox_start(const invitation_ctx *ctx, invitation_outbox **out,
                                           char *err, size_t err_size);
/* Finishes the chunks in hand, stops the relays and frees o. Takes NULL. */
void invitation_outbox_stop(invitation_outbox *o);

#endif
