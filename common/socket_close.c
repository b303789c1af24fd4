#include "common/socket_close.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/clock.h"

typedef struct closing {
	nng_socket sock;
	pthread_mutex_t mu;
	pthread_cond_t done_cv;
	bool done;
	bool abandoned; /* the caller stopped waiting: the closing thread frees this */
} closing;

static atomic_bool any_left_closing;

bool us_socket_close_all_finished(void)
{
	return !atomic_load(&any_left_closing);
}

static void closing_free(closing *c)
{
	pthread_cond_destroy(&c->done_cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void *close_main(void *arg)
{
	closing *c = arg;
	nng_close(c->sock);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	bool abandoned = c->abandoned;
	pthread_cond_signal(&c->done_cv);
	pthread_mutex_unlock(&c->mu);
	if (abandoned)
		closing_free(c);
	return NULL;
}

bool us_socket_close_within(nng_socket sock, uint32_t within_ms)
{
	closing *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return false;
	c->sock = sock;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->done_cv, &attr);
	pthread_condattr_destroy(&attr);

	pthread_t thread;
	if (pthread_create(&thread, NULL, close_main, c) != 0) {
		atomic_store(&any_left_closing, true); /* not closed at all: nng_fini would */
		closing_free(c);
		return false;
	}
	struct timespec until = us_monotonic_after(within_ms);
	pthread_mutex_lock(&c->mu);
	int rv = 0;
	while (!c->done && rv != ETIMEDOUT)
		rv = pthread_cond_timedwait(&c->done_cv, &c->mu, &until);
	bool done = c->done;
	c->abandoned = !done;
	pthread_mutex_unlock(&c->mu);
	if (!done) {
		atomic_store(&any_left_closing, true);
		pthread_detach(thread);
		return false;
	}
	pthread_join(thread, NULL);
	closing_free(c);
	return true;
}
