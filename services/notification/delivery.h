/* The delivery engine: DELIVERY_WORKERS threads, each with its own database connection
 * and its own SMTP client (so its connection is reused), claim due messages in small
 * batches, send them, and record every attempt. A message is marked sent only after the
 * server's 250, so a crash in between sends it again, with the same Message-ID: at least
 * once, never lost. Claims of a process that died are taken back at start-up and every
 * RECLAIM_INTERVAL_S. */
#ifndef NOTIFICATION_DELIVERY_H
#define NOTIFICATION_DELIVERY_H

#include <stddef.h>

#include "common/err.h"
#include "context.h"

/* Starts the workers and the reclaim ticker; ctx and schema are borrowed until
 * notification_delivery_stop(). Returns owned *out. */
US_MUST_USE us_err notification_delivery_start(const notification_ctx *ctx, const char *schema,
                                               notification_delivery **out, char *err,
                                               size_t err_size);

/* Tells idle workers that messages were queued (called after a commit). Takes NULL. */
void notification_delivery_wake(notification_delivery *e);

/* Lets each worker finish the message in hand, gives back the claims on the rest, joins
 * the workers and frees the engine. Takes NULL. */
void notification_delivery_stop(notification_delivery *e);

#endif
