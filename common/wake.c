#include "common/wake.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/clock.h"

/* One mutex and two conditions for the process: a handful of relay threads wait on them.
 * A commit bumps its topic's count and takes the mutex only when some relay waits for
 * work, so a busy daemon (its relays pausing or at work) pays a few atomic operations a
 * commit, and a pausing relay is never woken by one. The count is bumped before the
 * waiters are looked at, and a waiter is counted before it reads the count: either the
 * committer sees the waiter or the waiter sees the commit. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;       /* relays waiting for work; on CLOCK_MONOTONIC */
static pthread_cond_t pause_cv; /* relays pausing: only a stop wakes them */
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static atomic_ulong commits[US_WAKE_TOPICS];
static atomic_int waiting;

struct us_wake {
	us_wake_topic topic;
	atomic_bool stopping;
};

static void cv_init(void)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &attr);
	pthread_cond_init(&pause_cv, &attr);
	pthread_condattr_destroy(&attr);
}

us_wake *us_wake_new(us_wake_topic topic)
{
	pthread_once(&cv_once, cv_init);
	us_wake *w = calloc(1, sizeof(us_wake));
	if (w != NULL)
		w->topic = topic;
	return w;
}

void us_wake_free(us_wake *w)
{
	free(w);
}

static void announce(unsigned topics)
{
	for (int t = 0; t < US_WAKE_TOPICS; t++) {
		if (topics & (1u << t))
			atomic_fetch_add(&commits[t], 1);
	}
	if (atomic_load(&waiting) == 0)
		return;
	pthread_mutex_lock(&mu);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

void us_wake_committed(void)
{
	announce((1u << US_WAKE_TOPICS) - 1);
}

void us_wake_committed_topic(us_wake_topic topic)
{
	announce(1u << topic);
}

unsigned long us_wake_mark(const us_wake *w)
{
	return atomic_load(&commits[w->topic]);
}

us_wake_reason us_wake_wait(us_wake *w, unsigned long mark, int timeout_ms)
{
	struct timespec until = us_monotonic_after(timeout_ms);
	pthread_mutex_lock(&mu);
	atomic_fetch_add(&waiting, 1);
	int rc = 0;
	while (!atomic_load(&w->stopping) && atomic_load(&commits[w->topic]) == mark &&
	       rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&cv, &mu, &until);
	atomic_fetch_sub(&waiting, 1);
	pthread_mutex_unlock(&mu);
	if (atomic_load(&w->stopping))
		return US_WAKE_STOP;
	return atomic_load(&commits[w->topic]) != mark ? US_WAKE_COMMIT : US_WAKE_TIMEOUT;
}

bool us_wake_pause(us_wake *w, int ms)
{
	struct timespec until = us_monotonic_after(ms);
	pthread_mutex_lock(&mu);
	int rc = 0;
	while (!atomic_load(&w->stopping) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&pause_cv, &mu, &until);
	pthread_mutex_unlock(&mu);
	return !atomic_load(&w->stopping);
}

void us_wake_stop(us_wake *w)
{
	pthread_mutex_lock(&mu);
	atomic_store(&w->stopping, true);
	pthread_cond_broadcast(&cv);
	pthread_cond_broadcast(&pause_cv);
	pthread_mutex_unlock(&mu);
}

bool us_wake_stopping(us_wake *w)
{
	return atomic_load(&w->stopping);
}
