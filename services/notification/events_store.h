/* The SQL of events and webhooks in the notification schema (events.h and webhooks.h
 * use it). account arguments scope a statement: NULL means any account (operators), else
 * only rows of that account. */
#ifndef NOTIFICATION_EVENTS_STORE_H
#define NOTIFICATION_EVENTS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/err.h"
#include "usher/v1/events.pb-c.h"

/* The columns of events to record, each a Postgres array literal of the same length
 * (us_db_text_array), in order. */
typedef struct notification_events_columns {
	const char *id, *type, *account_id, *actor, *object_type, *object_id, *data, *occurred_at;
} notification_events_columns;

/* Stores the events that are new, numbers them and queues a delivery to every matching
 * endpoint; *stored: how many were new. Takes the numbering lock first: call inside a
 * transaction, which holds it to the commit. */
US_MUST_USE us_err notification_events_record(PGconn *c, const notification_events_columns *cols,
                                              int64_t *stored, int64_t *deliveries);

/* Events after after (a sequence; "0" from the start), of account (NULL: all) and of
 * types (a text[] literal; "{}": all), at most limit, oldest first. */
US_MUST_USE us_err notification_events_list(PGconn *c, us_arena *a, const char *account,
                                            const char *after, const char *types, uint32_t limit,
                                            Usher__V1__Event ***out, size_t *n);

US_MUST_USE us_err notification_webhooks_create(PGconn *c, us_arena *a, const char *id,
                                                const char *account, const char *url,
                                                const char *description, const char *types,
                                                const char *sealed_secret,
                                                Usher__V1__WebhookEndpoint **out);

/* Endpoints of account (NULL: every endpoint), oldest first. */
US_MUST_USE us_err notification_webhooks_list(PGconn *c, us_arena *a, const char *account,
                                              Usher__V1__WebhookEndpoint ***out, size_t *n);

/* NOT_FOUND when no live endpoint id is in the scope. */
US_MUST_USE us_err notification_webhooks_delete(PGconn *c, const char *account, const char *id);

US_MUST_USE us_err notification_webhooks_set_enabled(PGconn *c, us_arena *a, const char *account,
                                                     const char *id, bool enabled,
                                                     Usher__V1__WebhookEndpoint **out);

/* Makes sealed_secret the signing secret; the one before keeps signing for overlap_s. */
US_MUST_USE us_err notification_webhooks_rotate(PGconn *c, us_arena *a, const char *account,
                                                const char *id, const char *sealed_secret,
                                                int64_t overlap_s,
                                                Usher__V1__WebhookEndpoint **out);

/* The live endpoint's sealed signing secret (NOT_FOUND once deleted or out of scope). */
US_MUST_USE us_err notification_webhooks_sealed_secret(PGconn *c, us_arena *a, const char *account,
                                                       const char *id, char **sealed);

US_MUST_USE us_err notification_webhooks_deliveries(PGconn *c, us_arena *a, const char *account,
                                                    const char *endpoint_id, uint32_t limit,
                                                    Usher__V1__WebhookDelivery ***out, size_t *n);

US_MUST_USE us_err notification_webhooks_redeliver(PGconn *c, us_arena *a, const char *account,
                                                   const char *delivery_id,
                                                   Usher__V1__WebhookDelivery **out);

/* A delivery due now, locked (FOR UPDATE SKIP LOCKED) until the transaction ends. */
typedef struct notification_due_webhook {
	char *delivery_id;
	char *endpoint_id;
	char *url;
	char *sealed_secret;
	char *sealed_previous; /* "" unless the previous secret still signs */
	char *event_id;
	char *body;            /* the JSON posted, exactly the bytes signed */
	char *timestamp;       /* seconds since the epoch, now */
	int attempts;          /* before this one */
	int64_t age_ms;        /* since the delivery was queued (or redelivered) */
} notification_due_webhook;

/* NOT_FOUND when nothing is due. */
US_MUST_USE us_err notification_webhooks_claim(PGconn *c, us_arena *a,
                                               notification_due_webhook *out);

typedef struct notification_webhook_outcome {
	bool succeeded;
	int status_code;       /* 0: no HTTP answer */
	const char *error;     /* "" on success */
	int64_t retry_in_ms;   /* when it failed: next attempt in; < 0: give up */
	int64_t disable_after_s; /* an endpoint failing this long is disabled */
} notification_webhook_outcome;

/* Records the attempt on the claimed delivery; *disabled when its endpoint was disabled
 * by it. */
US_MUST_USE us_err notification_webhooks_record(PGconn *c, const notification_due_webhook *d,
                                                const notification_webhook_outcome *o,
                                                bool *disabled);

/* The webhook gauges: deliveries pending for enabled endpoints, and the age in seconds
 * of the oldest of them (from its creation or redelivery; 0 when none). */
US_MUST_USE us_err notification_webhooks_gauges(PGconn *c, int64_t *backlog, double *oldest_s);

#endif
