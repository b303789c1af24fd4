#include "common/housekeeping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/idempotency.h"
#include "common/log.h"
#include "common/metrics.h"

#include "common/ticker.h"

#define INTERVAL_MS (3600u * 1000)

struct us_housekeeping {
	us_ticker *ticker;
	PGconn *conn; /* the ticker's thread's own; NULL until connected */
	char *database_url;
	char *schema;
	int64_t retention_hours;
};

static void upkeep(void *arg)
{
	us_housekeeping *h = arg;
	char err[256];
	if (h->conn == NULL &&
	    us_db_connect(h->database_url, h->schema, &h->conn, err, sizeof(err)) != US_OK) {
		us_warn("housekeeping could not connect: %s", err);
		h->conn = NULL;
		return;
	}
	if (us_db_ensure(h->conn, h->schema) != US_OK)
		return;
	long deleted = 0;
	us_metrics_upkeep_run("idempotency_keys");
	if (us_idempotency_purge(h->conn, h->retention_hours, &deleted) != US_OK)
		us_warn("could not delete old idempotency keys");
	else if (deleted > 0)
		us_info("deleted %ld idempotency keys older than %lld hours", deleted,
		        (long long)h->retention_hours);
}

static void housekeeping_free(us_housekeeping *h)
{
	if (h->conn != NULL)
		PQfinish(h->conn);
	free(h->database_url);
	free(h->schema);
	free(h);
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
	if (us_ticker_start("housekeeping", INTERVAL_MS, upkeep, h, &h->ticker) != US_OK) {
		snprintf(err, err_size, "could not start the housekeeping thread");
		housekeeping_free(h);
		return US_EEXHAUSTED;
	}
	*out = h;
	return US_OK;
}

void us_housekeeping_stop(us_housekeeping *h)
{
	if (h == NULL)
		return;
	us_ticker_stop(h->ticker);
	housekeeping_free(h);
}
