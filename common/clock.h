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

/* The CLOCK_MONOTONIC time ms from now: the deadline for pthread_cond_timedwait() on a
 * condition variable set to that clock (pthread_condattr_setclock). */
static inline struct timespec us_monotonic_after(int64_t ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Unix time in milliseconds (CLOCK_REALTIME): a signed request's issue time. */
static inline int64_t us_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
