#include "events_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/row.h"
#include "common/timestamp.h"

#define TS(col) US_SQL_TIMESTAMP(col)
#define ATTEMPTS_KEPT 20

/* --- events --- */

us_err notification_events_record(PGconn *c, const notification_events_columns *cols,
                                  int64_t *stored, int64_t *deliveries)
{
	/* Held to the commit: the numbers are given out in commit order, so no reader that
	 * has seen N later finds an event below N. */
	us_err rc = us_db_exec(c, "SELECT pg_advisory_xact_lock(hashtext('notification.events'))",
	                       0, NULL, NULL);
	if (rc != US_OK)
		return rc;
	/* Arrays rather than one JSON document: only data is parsed as JSON, once. */
	const char *params[] = {cols->id,          cols->type,      cols->account_id,
	                        cols->actor,       cols->object_type, cols->object_id,
	                        cols->data,        cols->occurred_at};
	PGresult *res;
	rc = us_db_exec(
	        c,
	        "WITH ins AS ("
	        " INSERT INTO events (id, type, account_id, actor, object_type, object_id, data,"
	        "  occurred_at)"
	        " SELECT id, type, account_id, actor, object_type, object_id, data::jsonb,"
	        "  occurred_at"
	        " FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::uuid[],"
	        "  $7::text[], $8::timestamptz[]) WITH ORDINALITY AS x (id, type, account_id, actor,"
	        "  object_type, object_id, data, occurred_at, ord)"
	        " ORDER BY x.ord"
	        " ON CONFLICT (id, account_id) DO NOTHING RETURNING seq, type, account_id),"
	        " d AS (INSERT INTO webhook_deliveries (endpoint_id, event_seq, next_attempt_at,"
	        "  account_id)"
	        "  SELECT w.id, ins.seq, now(), ins.account_id FROM ins JOIN webhook_endpoints w"
	        "   ON (w.account_id IS NULL OR w.account_id = ins.account_id)"
	        "  WHERE w.enabled AND w.deleted_at IS NULL"
	        "   AND (w.types = '{}' OR ins.type = ANY (w.types))"
	        "  RETURNING 1)"
	        "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM d)",
	        8, params, &res);
	if (rc != US_OK)
		return rc;
	*stored = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*deliveries = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return US_OK;
}

#define EVENT_COLUMNS                                                                          \
	"seq::text, id, type, account_id, actor, object_type, object_id, data::text, "             \
	TS("occurred_at")

static void read_event(us_row *r, Usher__V1__Event *e)
{
	usher__v1__event__init(e);
	e->sequence = us_row_text(r, 0);
	e->id = us_row_uuid(r, 1);
	e->type = us_row_text(r, 2);
	e->account_id = us_row_uuid(r, 3);
	e->actor = us_row_text(r, 4);
	e->object_type = us_row_text(r, 5);
	e->object_id = us_row_uuid(r, 6);
	e->data_json = us_row_text(r, 7);
	e->occurred_at = us_row_text(r, 8);
}

us_err notification_events_list(PGconn *c, us_arena *a, const char *account, const char *after,
                                const char *types, uint32_t limit, Usher__V1__Event ***out,
                                size_t *n)
{
	char lim[16];
	snprintf(lim, sizeof(lim), "%u", limit);
	const char *params[] = {after, account, types, lim};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT " EVENT_COLUMNS " FROM events WHERE seq > $1::bigint"
	                       " AND ($2::uuid IS NULL OR account_id = $2::uuid)"
	                       " AND ($3::text[] = '{}' OR type = ANY ($3::text[]))"
	                       " ORDER BY seq LIMIT $4::int",
	                       4, params, &res);
	if (rc != US_OK)
		return rc;
	size_t count = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Event **list = us_row_alloc(&r, sizeof(*list) * (count ? count : 1));
	for (size_t i = 0; list != NULL && i < count; i++) {
		r.row = (int)i;
		list[i] = US_ROW_NEW(&r, Usher__V1__Event);
		if (list[i] == NULL)
			break;
		read_event(&r, list[i]);
	}
	PQclear(res);
	if (list == NULL || us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = list;
	*n = count;
	return US_OK;
}

/* --- endpoints --- */

#define ENDPOINT_COLUMNS                                                                       \
	"id, account_id, url, description, types, enabled, disabled_reason, "                     \
	TS("failing_since") ", " TS("created_at") ", "                                             \
	TS("CASE WHEN previous_expires_at > now() THEN previous_expires_at END")

static void read_endpoint(us_row *r, Usher__V1__WebhookEndpoint *e)
{
	usher__v1__webhook_endpoint__init(e);
	e->id = us_row_uuid(r, 0);
	e->account_id = us_row_uuid(r, 1);
	e->url = us_row_text(r, 2);
	e->description = us_row_text(r, 3);
	e->types = us_row_array(r, 4, &e->n_types);
	e->enabled = us_row_bool(r, 5);
	e->disabled_reason = us_row_text(r, 6);
	e->failing_since = us_row_text(r, 7);
	e->created_at = us_row_text(r, 8);
	e->previous_secret_expires_at = us_row_text(r, 9);
}

static us_err endpoints(PGconn *c, us_arena *a, const char *sql, int n_params,
                        const char *const *params, Usher__V1__WebhookEndpoint ***out, size_t *n)
{
	PGresult *res;
	us_err rc = us_db_exec(c, sql, n_params, params, &res);
	if (rc != US_OK)
		return rc;
	size_t count = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__WebhookEndpoint **list = us_row_alloc(&r, sizeof(*list) * (count ? count : 1));
	for (size_t i = 0; list != NULL && i < count; i++) {
		r.row = (int)i;
		list[i] = US_ROW_NEW(&r, Usher__V1__WebhookEndpoint);
		if (list[i] == NULL)
			break;
		read_endpoint(&r, list[i]);
	}
	PQclear(res);
	if (list == NULL || us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = list;
	*n = count;
	return US_OK;
}

static us_err one_endpoint(PGconn *c, us_arena *a, const char *sql, int n_params,
                           const char *const *params, Usher__V1__WebhookEndpoint **out)
{
	Usher__V1__WebhookEndpoint **list;
	size_t n;
	us_err rc = endpoints(c, a, sql, n_params, params, &list, &n);
	if (rc != US_OK)
		return rc;
	if (n != 1)
		return US_ENOTFOUND;
	*out = list[0];
	return US_OK;
}

us_err notification_webhooks_create(PGconn *c, us_arena *a, const char *id, const char *account,
                                    const char *url, const char *description, const char *types,
                                    const char *sealed_secret, Usher__V1__WebhookEndpoint **out)
{
	const char *params[] = {id, account, url, description, types, sealed_secret};
	return one_endpoint(c, a,
	                    "INSERT INTO webhook_endpoints (id, account_id, url, description, types,"
	                    " sealed_secret) VALUES ($1, $2, $3, $4, $5::text[], $6)"
	                    " RETURNING " ENDPOINT_COLUMNS,
	                    6, params, out);
}

us_err notification_webhooks_list(PGconn *c, us_arena *a, const char *account,
                                  Usher__V1__WebhookEndpoint ***out, size_t *n)
{
	const char *params[] = {account};
	return endpoints(c, a,
	                 "SELECT " ENDPOINT_COLUMNS " FROM webhook_endpoints"
	                 " WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR account_id = $1::uuid)"
	                 " ORDER BY created_at, id",
	                 1, params, out, n);
}

#define IN_SCOPE "deleted_at IS NULL AND ($1::uuid IS NULL OR account_id = $1::uuid) AND id = $2"

us_err notification_webhooks_delete(PGconn *c, const char *account, const char *id)
{
	const char *params[] = {account, id};
	PGresult *res;
	/* Its pending deliveries end with it. */
	us_err rc = us_db_exec(c,
	                       "WITH e AS (UPDATE webhook_endpoints SET deleted_at = now(),"
	                       "  enabled = false WHERE " IN_SCOPE " RETURNING id),"
	                       " d AS (UPDATE webhook_deliveries SET state = 'failed',"
	                       "  next_attempt_at = NULL, updated_at = now()"
	                       "  WHERE endpoint_id IN (SELECT id FROM e) AND state = 'pending')"
	                       "SELECT count(*) FROM e",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	bool found = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	PQclear(res);
	return found ? US_OK : US_ENOTFOUND;
}

us_err notification_webhooks_set_enabled(PGconn *c, us_arena *a, const char *account,
                                         const char *id, bool enabled,
                                         Usher__V1__WebhookEndpoint **out)
{
	const char *params[] = {account, id, enabled ? "t" : "f"};
	return one_endpoint(c, a,
	                    "UPDATE webhook_endpoints SET enabled = $3::boolean,"
	                    " disabled_reason = CASE WHEN $3::boolean THEN '' ELSE 'disabled by hand' END,"
	                    " failing_since = CASE WHEN $3::boolean THEN NULL ELSE failing_since END"
	                    " WHERE " IN_SCOPE " RETURNING " ENDPOINT_COLUMNS,
	                    3, params, out);
}

us_err notification_webhooks_rotate(PGconn *c, us_arena *a, const char *account, const char *id,
                                    const char *sealed_secret, int64_t overlap_s,
                                    Usher__V1__WebhookEndpoint **out)
{
	char overlap[24];
	snprintf(overlap, sizeof(overlap), "%lld", (long long)overlap_s);
	const char *params[] = {account, id, sealed_secret, overlap};
	return one_endpoint(c, a,
	                    "UPDATE webhook_endpoints SET sealed_previous = sealed_secret,"
	                    " sealed_secret = $3,"
	                    " previous_expires_at = now() + make_interval(secs => $4::int)"
	                    " WHERE " IN_SCOPE " RETURNING " ENDPOINT_COLUMNS,
	                    4, params, out);
}

us_err notification_webhooks_sealed_secret(PGconn *c, us_arena *a, const char *account,
                                           const char *id, char **sealed)
{
	const char *params[] = {account, id};
	PGresult *res;
	us_err rc = us_db_exec_one(c, "SELECT sealed_secret FROM webhook_endpoints WHERE " IN_SCOPE,
	                           2, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	char *text = us_row_text(&r, 0);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*sealed = text;
	return US_OK;
}

/* --- deliveries --- */

#define DELIVERY_COLUMNS                                                                       \
	"d.id, d.endpoint_id, e.id, e.type, d.state, d.attempts, " TS("d.next_attempt_at") ", "   \
	TS("d.created_at") ", " TS("d.updated_at")

static const char *const delivery_states[] = {"", "pending", "succeeded", "failed"};

static void read_delivery(us_row *r, Usher__V1__WebhookDelivery *d)
{
	usher__v1__webhook_delivery__init(d);
	d->id = us_row_uuid(r, 0);
	d->endpoint_id = us_row_uuid(r, 1);
	d->event_id = us_row_uuid(r, 2);
	d->event_type = us_row_text(r, 3);
	const char *state = us_row_text(r, 4);
	for (int s = 1; s <= 3; s++) {
		if (strcmp(state, delivery_states[s]) == 0)
			d->state = (Usher__V1__WebhookDeliveryState)s;
	}
	d->attempts = (uint32_t)us_row_int(r, 5);
	d->next_attempt_at = us_row_text(r, 6);
	d->created_at = us_row_text(r, 7);
	d->updated_at = us_row_text(r, 8);
}

/* Adds each delivery's latest attempts, oldest first, in one statement. */
static us_err add_attempts(PGconn *c, us_arena *a, Usher__V1__WebhookDelivery **ds, size_t n)
{
	if (n == 0)
		return US_OK;
	const char **ids = US_ARENA_ARRAY(a, const char *, n);
	if (ids == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n; i++)
		ids[i] = ds[i]->id;
	const char *params[] = {us_db_text_array(a, ids, n)};
	if (params[0] == NULL)
		return US_EEXHAUSTED;
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT delivery_id, number, status_code, error, " TS("at") " FROM ("
	                       " SELECT *, row_number() OVER (PARTITION BY delivery_id"
	                       "  ORDER BY number DESC) AS k FROM webhook_attempts"
	                       " WHERE delivery_id = ANY ($1::uuid[])) t"
	                       " WHERE k <= 20"
	                       " ORDER BY delivery_id, number",
	                       1, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	for (int row = 0; row < PQntuples(res); row++) {
		r.row = row;
		const char *id = PQgetvalue(res, row, 0);
		for (size_t i = 0; i < n; i++) {
			Usher__V1__WebhookDelivery *d = ds[i];
			if (strcmp(d->id, id) != 0)
				continue;
			if (d->attempt_log == NULL)
				d->attempt_log = us_row_alloc(&r, sizeof(*d->attempt_log) * ATTEMPTS_KEPT);
			Usher__V1__WebhookAttempt *at = US_ROW_NEW(&r, Usher__V1__WebhookAttempt);
			if (d->attempt_log == NULL || at == NULL || d->n_attempt_log >= ATTEMPTS_KEPT)
				break;
			usher__v1__webhook_attempt__init(at);
			at->number = (uint32_t)us_row_int(&r, 1);
			at->status_code = (uint32_t)us_row_int(&r, 2);
			at->error = us_row_text(&r, 3);
			at->at = us_row_text(&r, 4);
			d->attempt_log[d->n_attempt_log++] = at;
		}
	}
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

static us_err deliveries(PGconn *c, us_arena *a, const char *sql, int n_params,
                         const char *const *params, Usher__V1__WebhookDelivery ***out, size_t *n)
{
	PGresult *res;
	us_err rc = us_db_exec(c, sql, n_params, params, &res);
	if (rc != US_OK)
		return rc;
	size_t count = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__WebhookDelivery **list = us_row_alloc(&r, sizeof(*list) * (count ? count : 1));
	for (size_t i = 0; list != NULL && i < count; i++) {
		r.row = (int)i;
		list[i] = US_ROW_NEW(&r, Usher__V1__WebhookDelivery);
		if (list[i] == NULL)
			break;
		read_delivery(&r, list[i]);
	}
	PQclear(res);
	if (list == NULL || us_row_failed(&r))
		return US_EEXHAUSTED;
	if ((rc = add_attempts(c, a, list, count)) != US_OK)
		return rc;
	*out = list;
	*n = count;
	return US_OK;
}

us_err notification_webhooks_deliveries(PGconn *c, us_arena *a, const char *account,
                                        const char *endpoint_id, uint32_t limit,
                                        Usher__V1__WebhookDelivery ***out, size_t *n)
{
	char lim[16];
	snprintf(lim, sizeof(lim), "%u", limit);
	const char *params[] = {account, endpoint_id, lim};
	return deliveries(c, a,
	                  "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries d"
	                  " JOIN webhook_endpoints w ON w.id = d.endpoint_id"
	                  " JOIN events e ON e.seq = d.event_seq AND e.account_id = d.account_id"
	                  " WHERE w.deleted_at IS NULL"
	                  " AND ($1::uuid IS NULL OR w.account_id = $1::uuid) AND w.id = $2"
	                  " ORDER BY d.created_at DESC, e.seq DESC LIMIT $3::int",
	                  3, params, out, n);
}

us_err notification_webhooks_redeliver(PGconn *c, us_arena *a, const char *account,
                                       const char *delivery_id, Usher__V1__WebhookDelivery **out)
{
	const char *params[] = {account, delivery_id};
	Usher__V1__WebhookDelivery **list;
	size_t n;
	us_err rc = deliveries(c, a,
	                       "WITH d AS (UPDATE webhook_deliveries d SET state = 'pending',"
	                       "  next_attempt_at = now(), created_at = now(), updated_at = now()"
	                       "  FROM webhook_endpoints w WHERE w.id = d.endpoint_id"
	                       "  AND w.deleted_at IS NULL"
	                       "  AND ($1::uuid IS NULL OR w.account_id = $1::uuid) AND d.id = $2"
	                       "  RETURNING d.*)"
	                       "SELECT " DELIVERY_COLUMNS " FROM d JOIN events e ON e.seq = d.event_seq"
	                       " AND e.account_id = d.account_id",
	                       2, params, &list, &n);
	if (rc != US_OK)
		return rc;
	if (n != 1)
		return US_ENOTFOUND;
	*out = list[0];
	return US_OK;
}

us_err notification_webhooks_claim(PGconn *c, us_arena *a, notification_due_webhook *out)
{
	PGresult *res;
	us_err rc = us_db_exec(
	        c,
	        "SELECT d.id, w.id, w.url, w.sealed_secret,"
	        " CASE WHEN w.previous_expires_at > now() THEN w.sealed_previous ELSE '' END,"
	        " e.id, json_build_object('id', e.id, 'type', e.type,"
	        "  'timestamp', " TS("e.occurred_at") ", 'sequence', e.seq::text,"
	        "  'account_id', e.account_id, 'actor', e.actor,"
	        "  'object', json_build_object('type', e.object_type, 'id', e.object_id),"
	        "  'data', e.data)::text,"
	        " floor(extract(epoch FROM clock_timestamp()))::bigint::text, d.attempts,"
	        " (extract(epoch FROM now() - d.created_at) * 1000)::bigint"
	        " FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id"
	        " JOIN events e ON e.seq = d.event_seq AND e.account_id = d.account_id"
	        " WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND w.enabled"
	        " ORDER BY d.next_attempt_at, d.event_seq LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
	        0, NULL, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	us_row r = us_row_at(a, res, 0, 0);
	out->delivery_id = us_row_uuid(&r, 0);
	out->endpoint_id = us_row_uuid(&r, 1);
	out->url = us_row_text(&r, 2);
	out->sealed_secret = us_row_text(&r, 3);
	out->sealed_previous = us_row_text(&r, 4);
	out->event_id = us_row_uuid(&r, 5);
	out->body = us_row_text(&r, 6);
	out->timestamp = us_row_text(&r, 7);
	out->attempts = (int)us_row_int(&r, 8);
	out->age_ms = us_row_int(&r, 9);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err notification_webhooks_record(PGconn *c, const notification_due_webhook *d,
                                    const notification_webhook_outcome *o, bool *disabled)
{
	char status[16], retry[24], disable[24], number[16];
	snprintf(status, sizeof(status), "%d", o->status_code);
	snprintf(retry, sizeof(retry), "%lld", (long long)o->retry_in_ms);
	snprintf(disable, sizeof(disable), "%lld", (long long)o->disable_after_s);
	snprintf(number, sizeof(number), "%d", d->attempts + 1);
	const char *params[] = {d->delivery_id, o->succeeded ? "t" : "f", status, o->error, retry,
	                        d->endpoint_id, disable, number};
	PGresult *res;
	/* An endpoint failing for disable_after_s is disabled, and its pending deliveries
	 * end with it (redeliver them once it works again). */
#define DISABLE_NOW                                                                            \
	"(NOT $2::boolean AND (SELECT failing_since FROM webhook_endpoints WHERE id = $6)"         \
	" <= now() - make_interval(secs => $7::int))"
	us_err rc = us_db_exec(
	        c,
	        "WITH a AS (INSERT INTO webhook_attempts (delivery_id, number, status_code, error,"
	        "  account_id)"
	        "  SELECT $1, $8::int, $3::int, $4, account_id FROM webhook_deliveries WHERE id = $1),"
	        " d AS (UPDATE webhook_deliveries SET attempts = $8::int, updated_at = now(),"
	        "  state = CASE WHEN $2::boolean THEN 'succeeded'"
	        "   WHEN $5::bigint < 0 OR " DISABLE_NOW " THEN 'failed' ELSE 'pending' END,"
	        "  next_attempt_at = CASE WHEN NOT $2::boolean AND $5::bigint >= 0"
	        "   AND NOT coalesce(" DISABLE_NOW ", false)"
	        "   THEN now() + make_interval(secs => $5::bigint / 1000.0) END"
	        "  WHERE id = $1),"
	        " w AS (UPDATE webhook_endpoints SET"
	        "  failing_since = CASE WHEN $2::boolean THEN NULL"
	        "   ELSE coalesce(failing_since, now()) END,"
	        "  enabled = enabled AND NOT coalesce(" DISABLE_NOW ", false),"
	        "  disabled_reason = CASE WHEN coalesce(" DISABLE_NOW ", false)"
	        "   THEN 'failing since ' || " TS("failing_since") " ELSE disabled_reason END"
	        "  WHERE id = $6 RETURNING enabled),"
	        " f AS (UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL,"
	        "  updated_at = now() WHERE endpoint_id = $6 AND state = 'pending' AND id <> $1"
	        "  AND coalesce(" DISABLE_NOW ", false))"
	        "SELECT coalesce(" DISABLE_NOW ", false) FROM w",
	        8, params, &res);
#undef DISABLE_NOW
	if (rc != US_OK)
		return rc;
	*disabled = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return US_OK;
}

us_err notification_webhooks_gauges(PGconn *c, int64_t *backlog, double *oldest_s)
{
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT count(*),"
	                       " COALESCE(EXTRACT(EPOCH FROM now() - min(d.created_at)), 0)"
	                       " FROM webhook_deliveries d"
	                       " JOIN webhook_endpoints w ON w.id = d.endpoint_id"
	                       " WHERE d.state = 'pending' AND w.enabled AND w.deleted_at IS NULL",
	                       0, NULL, &res);
	if (rc != US_OK)
		return rc;
	*backlog = atoll(PQgetvalue(res, 0, 0));
	*oldest_s = atof(PQgetvalue(res, 0, 1));
	PQclear(res);
	return US_OK;
}
