/* Monotonic time, for deadlines and durations; wall-clock time for what crosses hosts. */
#ifndef US_CLOCK_H
#define US_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t us_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t us_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Unix time in milliseconds (CLOCK_REALTIME): a signed request's issue time. */
static inline int64_t us_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
