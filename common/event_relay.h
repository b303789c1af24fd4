/* The event relay of a daemon that owns events (invitationd, tenancyd): one thread that
 * hands the rows its triggers wrote into <schema>.events to usher-notificationd
 * (usher.v1.EventService/RecordEvents, idempotent by event id) in the order they were
 * written, and deletes them in the same transaction once notificationd has stored them.
 * A daemon killed in between sends them again; notificationd skips the ones it has.
 * Replicas take turns (an advisory lock), so the order holds with any number of them.
 * It wakes when the daemon announces a commit (wake.h: its own requests and loops), or
 * every poll_ms for rows another process wrote (another replica, usherctl). */
#ifndef US_EVENT_RELAY_H
#define US_EVENT_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/rpc_client.h"

typedef struct us_event_relay us_event_relay;

typedef struct us_event_relay_opts {
	const char *database_url; /* borrowed for the relay's life */
	const char *schema;       /* "invitation" */
	us_rpc_client *notification; /* borrowed for the relay's life */
	uint32_t batch;           /* events per call, 1-2000 (RecordEvents takes at most 2000) */
	uint32_t poll_ms;         /* how often it looks without a commit of its own process */
} us_event_relay_opts;

/* Starts the thread; *out is owned (us_event_relay_stop() it). */
US_MUST_USE us_err us_event_relay_start(const us_event_relay_opts *opts, us_event_relay **out,
                                        char *err, size_t err_size);

/* Finishes the call in hand, stops the thread and frees r. Takes NULL. */
void us_event_relay_stop(us_event_relay *r);

#endif
