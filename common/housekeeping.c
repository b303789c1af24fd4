#include "common/housekeeping.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/db.h"
#include "common/idempotency.h"
#include "common/log.h"

#define INTERVAL_S 3600

struct us_housekeeping {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	char *database_url;
	char *schema;
	int64_t retention_hours;
};

static void upkeep(us_housekeeping *h, PGconn **conn)
{
	char err[256];
	if (*conn == NULL && us_db_connect(h->database_url, h->schema, conn, err, sizeof(err)) != US_OK) {
		us_warn("housekeeping could not connect: %s", err);
		*conn = NULL;
		return;
	}
	if (us_db_ensure(*conn, h->schema) != US_OK)
		return;
	long deleted = 0;
	if (us_idempotency_purge(*conn, h->retention_hours, &deleted) != US_OK)
		us_warn("could not delete old idempotency keys");
	else if (deleted > 0)
		us_info("deleted %ld idempotency keys older than %lld hours", deleted,
		        (long long)h->retention_hours);
}

static void *housekeeping_main(void *arg)
{
	us_housekeeping *h = arg;
	PGconn *conn = NULL;
	pthread_mutex_lock(&h->mu);
	while (!h->stopping) {
		pthread_mutex_unlock(&h->mu);
		upkeep(h, &conn);
		pthread_mutex_lock(&h->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += INTERVAL_S;
		while (!h->stopping && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&h->mu);
	if (conn != NULL)
		PQfinish(conn);
	return NULL;
}

us_err us_housekeeping_start(const char *database_url, const char *schema, int64_t retention_hours,
                             us_housekeeping **out, char *err, size_t err_size)
{
	us_housekeeping *h = calloc(1, sizeof(*h));
	if (h == NULL || (h->database_url = strdup(database_url)) == NULL ||
	    (h->schema = strdup(schema)) == NULL) {
		if (h != NULL)
			free(h->database_url);
		free(h);
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	h->retention_hours = retention_hours;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->thread, NULL, housekeeping_main, h) != 0) {
		snprintf(err, err_size, "could not start the housekeeping thread");
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->cv);
		free(h->database_url);
		free(h->schema);
		free(h);
		return US_EEXHAUSTED;
	}
	*out = h;
	return US_OK;
}

void us_housekeeping_stop(us_housekeeping *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h->database_url);
	free(h->schema);
	free(h);
}
