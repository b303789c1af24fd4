/* Percentiles of a benchmark's samples. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>

typedef struct bench_stats {
	double p50, p99, mean, max;
} bench_stats;

/* Sorts samples in place and summarises them. */
void bench_stats_of(double *samples, size_t n, bench_stats *out);

#endif
