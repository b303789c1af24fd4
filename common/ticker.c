#define _GNU_SOURCE /* pthread_setname_np */
#include "common/ticker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/clock.h"

struct us_ticker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	bool stopping;
	bool poked;
	uint32_t interval_ms;
	us_ticker_fn fn;
	void *arg;
	char name[16]; /* the thread's name, as ps shows it */
};

static void *ticker_main(void *arg)
{
	us_ticker *t = arg;
	pthread_setname_np(pthread_self(), t->name);
	pthread_mutex_lock(&t->mu);
	while (!t->stopping) {
		t->poked = false;
		pthread_mutex_unlock(&t->mu);
		t->fn(t->arg);
		pthread_mutex_lock(&t->mu);
		struct timespec until = us_monotonic_after(t->interval_ms);
		while (!t->stopping && !t->poked &&
		       pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

us_err us_ticker_start(const char *name, uint32_t interval_ms, us_ticker_fn fn, void *arg,
                       us_ticker **out)
{
	if (interval_ms == 0)
		return US_EINVAL;
	us_ticker *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return US_EEXHAUSTED;
	t->interval_ms = interval_ms;
	t->fn = fn;
	t->arg = arg;
	size_t i = 0;
	for (; name[i] != '\0' && i < sizeof(t->name) - 1; i++)
		t->name[i] = name[i];
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, &attr);
	pthread_condattr_destroy(&attr);
	*out = t; /* before the first round, which may look at it (us_ticker_stopping) */
	if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
		*out = NULL;
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return US_EEXHAUSTED;
	}
	return US_OK;
}

void us_ticker_poke(us_ticker *t)
{
	pthread_mutex_lock(&t->mu);
	t->poked = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

bool us_ticker_stopping(us_ticker *t)
{
	pthread_mutex_lock(&t->mu);
	bool stopping = t->stopping;
	pthread_mutex_unlock(&t->mu);
	return stopping;
}

void us_ticker_stop(us_ticker *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopping = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
