/* A daemon's own upkeep, on a thread with its own connection: today, deleting
 * idempotency keys past their retention (IDEMPOTENCY_RETENTION_HOURS), at start-up and
 * every hour. */
#ifndef US_HOUSEKEEPING_H
#define US_HOUSEKEEPING_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct us_housekeeping us_housekeeping;

/* Starts the thread; returns owned *out (us_housekeeping_stop() it). */
US_MUST_USE us_err us_housekeeping_start(const char *database_url, const char *schema,
                                         int64_t retention_hours, us_housekeeping **out,
                                         char *err, size_t err_size);

/* Stops the thread and frees it. Takes NULL. */
void us_housekeeping_stop(us_housekeeping *h);

#endif
