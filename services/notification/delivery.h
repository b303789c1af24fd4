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
#include "settings.h"
#include "template.h"

/* Starts the workers. settings, templates, database_url and schema are borrowed until
 * delivery_stop(). */
US_MUST_USE us_err delivery_start(const notification_settings *settings,
                                  const template_set *templates, const char *database_url,
                                  const char *schema, char *err, size_t err_size);

/* Tells idle workers that messages were queued (called after a commit). */
void delivery_wake(void);

/* Lets each worker finish the message in hand, gives back the claims on the rest, and
 * joins the workers. Safe when not started. */
void delivery_stop(void);

#endif
