/* Process-wide metrics in the Prometheus text format (docs/operations.md lists every one):
 * counters, gauges and histograms in families with up to US_METRIC_LABELS_MAX labels.
 * Families are found by name (made on first use), so any module can count without
 * setup; every call is thread-safe. The admin HTTP server (admin_http.h) renders them. */
#ifndef US_METRICS_H
#define US_METRICS_H

#include <stddef.h>

#define US_METRIC_LABELS_MAX 3

typedef enum us_metric_type {
	US_METRIC_COUNTER,
	US_METRIC_GAUGE,
	US_METRIC_HISTOGRAM, /* seconds: buckets from 5 ms to 10 s */
} us_metric_type;

typedef struct us_metric_family us_metric_family;

/* The family called name (made when new): label_names is a comma-separated list
 * ("service,method,code", "" for none). name, help and label_names are borrowed (string
 * literals). NULL when out of memory or when name exists with another type; calls on
 * NULL do nothing. */
us_metric_family *us_metrics_family(us_metric_type type, const char *name, const char *help,
                                    const char *label_names);

/* values: one per label, in order (copied; at most 120 bytes each are kept). */
void us_metrics_add(us_metric_family *f, const char *const *values, double by);
void us_metrics_set(us_metric_family *f, const char *const *values, double value);
void us_metrics_observe(us_metric_family *f, const char *const *values, double seconds);

/* Counts a round of an upkeep job ("idempotency_keys", "reclaim"):
 * usher_upkeep_runs_total{service,job}, the service being the log's (log.h). */
void us_metrics_upkeep_run(const char *job);

/* A series' current value (a histogram's count), 0 when it has none: for tests. */
double us_metrics_value(us_metric_family *f, const char *const *values);

/* Every family as Prometheus text exposition format 0.0.4: owned, free() it. NULL when
 * out of memory. */
char *us_metrics_render(void);

#endif
