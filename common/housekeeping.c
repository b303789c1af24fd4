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
	const us_retention_rule *rules;
	size_t n_rules;
};

/* Runs rule until it deletes less than a full batch; the number deleted in *deleted. */
static us_err purge(PGconn *conn, const us_retention_rule *rule, long *deleted)
{
	char days[24];
	snprintf(days, sizeof(days), "%lld", (long long)*rule->days);
	const char *params[] = {days};
	*deleted = 0;
	for (;;) {
		PGresult *res;
		us_err rc = us_db_exec(conn, rule->sql, 1, params, &res);
		if (rc != US_OK)
			return rc;
		long n = atol(PQcmdTuples(res));
		PQclear(res);
		*deleted += n;
		if (n < US_RETENTION_BATCH)
			return US_OK;
	}
}

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
	for (size_t i = 0; i < h->n_rules; i++) {
		const us_retention_rule *rule = &h->rules[i];
		if (*rule->days == 0)
			continue;
		if (purge(h->conn, rule, &deleted) != US_OK)
			us_warn("could not delete old %s", rule->name);
		else if (deleted > 0)
			us_info("deleted %ld %s older than %lld days", deleted, rule->name,
			        (long long)*rule->days);
	}
	us_info("upkeep finished");
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
                             const us_retention_rule *rules, size_t n_rules, us_housekeeping **out,
                             char *err, size_t err_size)
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
	h->rules = rules;
	h->n_rules = n_rules;
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
