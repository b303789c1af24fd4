/* Webhook delivery: WEBHOOK_WORKERS ticker threads, each with its own database connection,
 * post each due delivery with libcurl, signed (webhook_sign.h), and record the attempt in
 * the same transaction that holds the delivery's row lock (so a daemon killed mid-post leaves it
 * due, and it is posted again with the same webhook-id). A 2xx answer ends it; anything
 * else (a redirect included: none is followed) is retried after WEBHOOK_RETRY_BASE_MS,
 * doubling up to WEBHOOK_RETRY_MAX_MS, until WEBHOOK_RETRY_MAX_AGE_S; an endpoint failing
 * for WEBHOOK_DISABLE_AFTER_S is disabled. */
#ifndef NOTIFICATION_WEBHOOKS_H
#define NOTIFICATION_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "context.h"

/* Starts the threads; *out is owned (notification_webhooks_stop() it). libcurl must be
 * initialised (curl_global_init) before, while no other thread runs. */
US_MUST_USE us_err notification_webhooks_start(const notification_ctx *ctx,
                                               notification_webhooks **out, char *err,
                                               size_t err_size);

/* Looks for due deliveries now (new events were stored). Takes NULL. */
void notification_webhooks_wake(notification_webhooks *w);

/* Finishes the post in hand and stops. Takes NULL. */
void notification_webhooks_stop(notification_webhooks *w);

/* The next delay after attempt number attempts (1 for the first) failed: base doubled per
 * attempt, at most max. */
int64_t notification_webhooks_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts);

#endif
