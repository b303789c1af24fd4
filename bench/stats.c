#include "stats.h"

#include <stdlib.h>

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void bench_stats_of(double *samples, size_t n, bench_stats *out)
{
	qsort(samples, n, sizeof(double), by_value);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += samples[i];
	out->p50 = samples[n / 2];
	out->p99 = samples[(size_t)((double)(n - 1) * 0.99)];
	out->mean = sum / (double)n;
	out->max = samples[n - 1];
}
