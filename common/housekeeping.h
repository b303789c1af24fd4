/* A daemon's own upkeep, on a thread with its own connection, at start-up and every
 * hour: deleting idempotency keys past IDEMPOTENCY_RETENTION_HOURS, then what each
 * retention rule says is past its time (docs/operations.md, "Retention"). */
#ifndef US_HOUSEKEEPING_H
#define US_HOUSEKEEPING_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct us_housekeeping us_housekeeping;

/* One growing table's retention. sql deletes at most US_RETENTION_BATCH rows older than
 * $1 days (an int); it runs again while it deletes a full batch, so no statement holds
 * locks on a large table for long. */
typedef struct us_retention_rule {
	const char *name;    /* for logs: "sessions" */
	const char *sql;
	const int64_t *days; /* the setting, read at each round; 0: kept for ever */
} us_retention_rule;

#define US_RETENTION_BATCH 10000
#define US_SQL_RETENTION_LIMIT " LIMIT 10000" /* US_RETENTION_BATCH, for the statements */
/* "older than $1 days" */
#define US_SQL_OLDER_THAN(col) col " < now() - make_interval(days => $1::int)"

/* Starts the thread; returns owned *out (us_housekeeping_stop() it). rules (n) are
 * borrowed for the thread's life. */
US_MUST_USE us_err us_housekeeping_start(const char *database_url, const char *schema,
                                         int64_t retention_hours, const us_retention_rule *rules,
                                         size_t n_rules, us_housekeeping **out, char *err,
                                         size_t err_size);

/* Stops the thread and frees it. Takes NULL. */
void us_housekeeping_stop(us_housekeeping *h);

#endif
