#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/db.h"
#include "common/housekeeping.h"
#include "common/log.h"
#include "common/row.h"
#include "common/timestamp.h"
#include "seal.h"

#define SUPPRESSED_REPLY "not attempted: the address is suppressed"
#define HISTORY_MAX 20

/* Sets key to a string; false when s is not UTF-8 or memory ran out. */
static bool set_string(json_t *obj, const char *key, const char *s)
{
	json_t *v = json_string(s);
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static char *dump(json_t *doc)
{
	char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return text;
}

us_err notification_store_session_identify(PGconn *conn, notification_store_session *out)
{
	PGresult *res;
	us_err rc = us_db_exec(conn,
	                       "SELECT pid, backend_start::text FROM pg_catalog.pg_stat_activity "
	                       "WHERE pid = pg_catalog.pg_backend_pid()",
	                       0, NULL, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		us_error("could not find this session in pg_stat_activity");
		return US_EINTERNAL;
	}
	us_arena *arena = us_arena_new();
	us_row r = us_row_at(arena, res, 0, 0);
	out->pid = (int)us_row_int(&r, 0);
	const char *started = arena != NULL ? us_row_text(&r, 1) : "";
	snprintf(out->started, sizeof(out->started), "%s", started);
	PQclear(res);
	us_arena_free(arena);
	if (arena == NULL || us_row_failed(&r))
		return US_EEXHAUSTED;
	return US_OK;
}

/* --- queueing --- */

/* The emails' text columns as array literals in the arena: 0 key, 1 template,
 * 2 recipient, 3 reference, 4 subject. Arrays rather than one JSON document: nothing for
 * Postgres to parse but the arrays, and no document tree in the daemon. */
#define QUEUE_TEXT_COLUMNS 5

static bool queue_text_columns(us_arena *arena, const notification_store_new_email *emails,
                               size_t n, const char *out[QUEUE_TEXT_COLUMNS])
{
	const char **items = US_ARENA_ARRAY(arena, const char *, n ? n : 1);
	for (int c = 0; c < QUEUE_TEXT_COLUMNS; c++) {
		for (size_t i = 0; items != NULL && i < n; i++) {
			const notification_store_new_email *e = &emails[i];
			const char *const field[QUEUE_TEXT_COLUMNS] = {e->key, e->template, e->recipient,
			                                               e->reference, e->subject};
			items[i] = field[c];
		}
		out[c] = items != NULL ? us_db_text_array(arena, items, n) : NULL;
		if (out[c] == NULL)
			return false;
	}
	return true;
}

static char *put_u32(char *p, uint32_t v)
{
	*p++ = (char)(v >> 24);
	*p++ = (char)(v >> 16);
	*p++ = (char)(v >> 8);
	*p++ = (char)v;
	return p;
}

#define BYTEA_OID 17

/* The sealed variables (hex) as a bytea[] in Postgres' binary format, in the arena: the
 * largest column, half the bytes of hex text and no text array to parse. NULL when out
 * of memory or a value is not hex. */
static char *sealed_array(us_arena *arena, const notification_store_new_email *emails, size_t n,
                          int *len)
{
	size_t size = 20;
	for (size_t i = 0; i < n; i++)
		size += 4 + strlen(emails[i].sealed) / 2;
	if (size > INT32_MAX)
		return NULL;
	char *out = us_arena_alloc(arena, size);
	if (out == NULL)
		return NULL;
	/* dimensions, flags (no NULLs), element type, then the one dimension: length, lower bound */
	char *p = put_u32(put_u32(put_u32(put_u32(put_u32(out, 1), 0), BYTEA_OID), (uint32_t)n), 1);
	for (size_t i = 0; i < n; i++) {
		const char *hex = emails[i].sealed;
		size_t bytes;
		if (sodium_hex2bin((unsigned char *)p + 4, strlen(hex) / 2, hex, strlen(hex), NULL,
		                   &bytes, NULL) != 0 || bytes * 2 != strlen(hex))
			return NULL;
		p = put_u32(p, (uint32_t)bytes) + bytes;
	}
	*len = (int)(p - out);
	return out;
}

/* The id of each email: inserted now, or queued before under the same key. A key queued
 * by a transaction that committed while this statement ran is invisible to it and comes
 * back NULL; queue_lookup() finds those. The existing message is looked up only for an
 * email that was not inserted (COALESCE stops at the first value). */
static const char queue_sql[] =
        "WITH e AS MATERIALIZED ("
        "  SELECT gen_random_uuid() AS id, (x.ord - 1)::int AS i, x.key, x.template,"
        "         x.recipient, x.reference, x.subject, x.sealed"
        "    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        "                $6::bytea[]) WITH ORDINALITY AS x (key, template, recipient, reference,"
        "                                                  subject, sealed, ord)"
        "), ins AS ("
        "  INSERT INTO messages (id, idempotency_key, template, recipient, reference, subject,"
        "                        sealed_variables, smtp_message_id, state, next_attempt_at,"
        "                        last_reply)"
        "  SELECT e.id, e.key, e.template, e.recipient, e.reference, e.subject,"
        "         CASE WHEN s.email IS NULL THEN e.sealed END,"
        "         '<' || e.id || '@' || $7 || '>',"
        "         CASE WHEN s.email IS NULL THEN 'queued' ELSE 'suppressed' END,"
        "         CASE WHEN s.email IS NULL THEN now() END,"
        "         CASE WHEN s.email IS NULL THEN '' ELSE '" SUPPRESSED_REPLY "' END"
        "    FROM e LEFT JOIN suppressions s ON s.email = e.recipient"
        "  ON CONFLICT (idempotency_key) DO NOTHING"
        "  RETURNING id, idempotency_key"
        ")"
        "SELECT e.i, COALESCE(ins.id,"
        "                     (SELECT m.id FROM messages m WHERE m.idempotency_key = e.key))"
        "  FROM e LEFT JOIN ins ON ins.idempotency_key = e.key"
        " ORDER BY e.i";

static const char queue_lookup_sql[] =
        "SELECT (e.ord - 1)::int, m.id FROM unnest($1::text[]) WITH ORDINALITY AS e (key, ord)"
        "  JOIN messages m ON m.idempotency_key = e.key";

static us_err fill_ids(const PGresult *res, size_t n, us_arena *arena, char **ids)
{
	us_row r = us_row_at(arena, res, 0, 0);
	for (; r.row < PQntuples(res); r.row++) {
		int64_t i = us_row_int(&r, 0);
		if (i < 0 || (size_t)i >= n)
			return US_EINTERNAL;
		if (!us_row_null(&r, 1))
			ids[i] = us_row_uuid(&r, 1);
	}
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

static us_err queue_in_tx(PGconn *conn, const char *const cols[QUEUE_TEXT_COLUMNS],
                          const char *sealed, int sealed_len, size_t n, const char *domain,
                          int64_t timeout_ms, us_arena *arena, char **ids)
{
	us_err rc = us_db_set_local_timeout(conn, (long)timeout_ms);
	const char *params[] = {cols[0], cols[1], cols[2], cols[3], cols[4], sealed, domain};
	const int lengths[] = {0, 0, 0, 0, 0, sealed_len, 0};
	const int formats[] = {0, 0, 0, 0, 0, 1, 0};
	PGresult *res = NULL;
	if (rc == US_OK)
		rc = us_db_exec_bin(conn, queue_sql, 7, params, lengths, formats, &res);
	if (rc == US_OK) {
		rc = fill_ids(res, n, arena, ids);
		PQclear(res);
	}
	bool missing = false;
	for (size_t i = 0; rc == US_OK && i < n; i++)
		missing = missing || ids[i] == NULL;
	if (rc == US_OK && missing) {
		rc = us_db_exec(conn, queue_lookup_sql, 1, params, &res);
		if (rc == US_OK) {
			rc = fill_ids(res, n, arena, ids);
			PQclear(res);
		}
		for (size_t i = 0; rc == US_OK && i < n; i++) {
			if (ids[i] == NULL)
				rc = US_EABORTED; /* the other transaction rolled back: try again */
		}
	}
	return rc;
}

us_err notification_store_queue(PGconn *conn, const notification_store_new_email *emails, size_t n,
                                const char *message_id_domain, int64_t timeout_ms, us_arena *arena,
                                char ***ids)
{
	char **out = US_ARENA_ARRAY(arena, char *, n);
	const char *cols[QUEUE_TEXT_COLUMNS];
	int sealed_len = 0;
	char *sealed = sealed_array(arena, emails, n, &sealed_len);
	if (out == NULL || sealed == NULL || !queue_text_columns(arena, emails, n, cols))
		return US_EEXHAUSTED;
	us_err rc = us_db_begin(conn);
	if (rc == US_OK)
		rc = queue_in_tx(conn, cols, sealed, sealed_len, n, message_id_domain, timeout_ms, arena,
		                 out);
	if (rc == US_OK)
		rc = us_db_commit(conn);
	if (rc != US_OK)
		us_db_rollback(conn);
	if (rc == US_OK)
		*ids = out;
	return rc;
}

/* --- delivery --- */

static const char claim_sql[] =
        "WITH due AS ("
        "  SELECT m.id, EXISTS (SELECT 1 FROM suppressions s WHERE s.email = m.recipient) AS suppressed"
        "    FROM messages m"
        "   WHERE m.state = 'queued' AND m.claim_pid IS NULL AND m.next_attempt_at <= now()"
        "   ORDER BY m.next_attempt_at"
        "   LIMIT $3"
        "   FOR UPDATE OF m SKIP LOCKED"
        ")"
        "UPDATE messages m SET"
        "  state = CASE WHEN due.suppressed THEN 'suppressed' ELSE m.state END,"
        "  claim_pid = CASE WHEN due.suppressed THEN NULL ELSE $1::int END,"
        "  claim_started = CASE WHEN due.suppressed THEN NULL ELSE $2::timestamptz END,"
        "  variables = CASE WHEN due.suppressed THEN NULL ELSE m.variables END,"
        "  sealed_variables = CASE WHEN due.suppressed THEN NULL ELSE m.sealed_variables END,"
        "  next_attempt_at = CASE WHEN due.suppressed THEN NULL ELSE m.next_attempt_at END,"
        "  last_reply = CASE WHEN due.suppressed THEN '" SUPPRESSED_REPLY "' ELSE m.last_reply END,"
        "  updated_at = CASE WHEN due.suppressed THEN now() ELSE m.updated_at END"
        "  FROM due WHERE m.id = due.id"
        " RETURNING m.id, due.suppressed, m.template, m.recipient, m.subject,"
        "   COALESCE(m.variables::text, '{}'), m.smtp_message_id,"
        "   extract(epoch FROM m.created_at)::bigint,"
        "   (extract(epoch FROM now() - m.created_at) * 1000)::bigint, m.attempts,"
        "   COALESCE(encode(m.sealed_variables, 'hex'), '')";

static void read_claimed(us_row *r, notification_store_message *m)
{
	m->in.id = us_row_uuid(r, 0);
	m->suppressed = us_row_bool(r, 1);
	m->in.template = us_row_text(r, 2);
	m->in.recipient = us_row_text(r, 3);
	m->in.subject = us_row_text(r, 4);
	m->in.variables = us_row_text(r, 5);
	m->in.smtp_message_id = us_row_text(r, 6);
	m->in.created_at = us_row_int(r, 7);
	m->age_ms = us_row_int(r, 8);
	m->attempts = (uint32_t)us_row_int(r, 9);
	m->sealed = us_row_text(r, 10);
}

us_err notification_store_claim(PGconn *conn, const notification_store_session *session, int limit,
                                us_arena *arena, notification_store_message **out, size_t *n)
{
	char pid[16], lim[16];
	snprintf(pid, sizeof(pid), "%d", session->pid);
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *params[] = {pid, session->started, lim};
	PGresult *res;
	us_err rc = us_db_exec(conn, claim_sql, 3, params, &res);
	if (rc != US_OK)
		return rc;
	int rows = PQntuples(res);
	us_row r = us_row_at(arena, res, 0, 0);
	notification_store_message *msgs =
	        US_ROW_ARRAY(&r, notification_store_message, rows > 0 ? (size_t)rows : 1);
	for (; !us_row_failed(&r) && r.row < rows; r.row++)
		read_claimed(&r, &msgs[r.row]);
	PQclear(res);
	if (us_row_failed(&r)) {
		/* Nothing may stay claimed by a live session that will not deliver it. */
		if (notification_store_release(conn, session) != US_OK)
			us_error("could not release claimed messages");
		return US_EEXHAUSTED;
	}
	*out = msgs;
	*n = (size_t)rows;
	return US_OK;
}

us_err notification_store_next_due_ms(PGconn *conn, int64_t *ms)
{
	PGresult *res;
	/* Not greatest(0, ...): it skips a NULL, so an empty queue would read as "due now"
	 * and the workers would poll without pause. */
	us_err rc = us_db_exec(conn,
	                       "SELECT ceil(extract(epoch FROM min(next_attempt_at) - now())"
	                       " * 1000)::bigint FROM messages"
	                       " WHERE state = 'queued' AND claim_pid IS NULL",
	                       0, NULL, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(NULL, res, 0, 0);
	if (us_row_null(&r, 0)) {
		*ms = -1;
	} else {
		int64_t due = us_row_int(&r, 0);
		*ms = due > 0 ? due : 0;
	}
	PQclear(res);
	return US_OK;
}

static const char *const action_names[] = {
	[POLICY_SENT] = "sent",
	[POLICY_RETRY] = "retry",
	[POLICY_FAIL] = "fail",
	[POLICY_FAIL_AND_SUPPRESS] = "suppress",
};

static char *results_json(const notification_store_result *results, size_t n)
{
	json_t *doc = json_array();
	for (size_t i = 0; doc != NULL && i < n; i++) {
		const notification_store_result *r = &results[i];
		json_t *o = json_object();
		bool ok = o != NULL && set_string(o, "id", r->id) &&
		          set_string(o, "action", action_names[r->action]) && set_string(o, "reply", r->reply) &&
		          json_object_set_new(o, "delay_ms", json_integer(r->delay_ms)) == 0;
		if (!ok || json_array_append_new(doc, o) != 0) {
			if (!ok)
				json_decref(o);
			json_decref(doc);
			return NULL;
		}
	}
	return dump(doc);
}

/* The messages are reached by key ("= ANY (ARRAY(...))"): joined with the results alone,
 * which Postgres guesses at a hundred rows, it scanned the whole queue for every delivery
 * (a seq scan of messages per call, 2 ms with 4,500 rows, more as the queue grows).
 * A retry is scheduled only under this session's claim (the message may have been taken
 * back and be in another worker's hands); a final outcome is a fact and always lands,
 * unless another attempt already ended the message. */
static const char record_sql[] =
        "WITH r AS ("
        "  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, action text, reply text,"
        "                                                   delay_ms bigint)"
        "), upd AS ("
        "  UPDATE messages m SET"
        "    state = CASE r.action WHEN 'sent' THEN 'sent' WHEN 'retry' THEN 'queued'"
        "                          ELSE 'failed' END,"
        "    attempts = m.attempts + 1,"
        "    last_reply = r.reply,"
        "    next_attempt_at = CASE WHEN r.action = 'retry'"
        "                           THEN now() + r.delay_ms * interval '1 millisecond' END,"
        "    sent_at = CASE WHEN r.action = 'sent' THEN now() END,"
        "    variables = CASE WHEN r.action = 'retry' THEN m.variables END,"
        "    sealed_variables = CASE WHEN r.action = 'retry' THEN m.sealed_variables END,"
        "    claim_pid = NULL, claim_started = NULL, updated_at = now()"
        "    FROM r"
        "   WHERE m.id = r.id AND m.id = ANY (ARRAY(SELECT id FROM r)) AND m.state = 'queued'"
        "     AND (r.action <> 'retry' OR (m.claim_pid = $2::int AND m.claim_started = $3::timestamptz))"
        "  RETURNING m.id, m.attempts, m.recipient"
        "), log AS ("
        "  INSERT INTO attempts (message_id, number, reply)"
        "  SELECT upd.id, upd.attempts, r.reply FROM upd JOIN r ON r.id = upd.id"
        "  ON CONFLICT DO NOTHING"
        ")"
        "INSERT INTO suppressions (email, reason, message_id)"
        "SELECT upd.recipient, r.reply, upd.id FROM upd JOIN r ON r.id = upd.id"
        " WHERE r.action = 'suppress'"
        "ON CONFLICT (email) DO NOTHING";

us_err notification_store_record(PGconn *conn, const notification_store_session *session,
                                 const notification_store_result *results, size_t n)
{
	if (n == 0)
		return US_OK;
	char *doc = results_json(results, n);
	if (doc == NULL)
		return US_EEXHAUSTED;
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", session->pid);
	const char *params[] = {doc, pid, session->started};
	us_err rc = us_db_exec(conn, record_sql, 3, params, NULL);
	free(doc);
	return rc;
}

us_err notification_store_release(PGconn *conn, const notification_store_session *session)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", session->pid);
	const char *params[] = {pid, session->started};
	return us_db_exec(conn,
	                  "UPDATE messages SET claim_pid = NULL, claim_started = NULL"
	                  " WHERE claim_pid = $1::int AND claim_started = $2::timestamptz"
	                  "   AND state = 'queued'",
	                  2, params, NULL);
}

us_err notification_store_reclaim(PGconn *conn, int64_t *n)
{
	PGresult *res;
	us_err rc = us_db_exec(conn,
	                       "UPDATE messages m SET claim_pid = NULL, claim_started = NULL"
	                       " WHERE m.claim_pid IS NOT NULL AND m.state = 'queued'"
	                       "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a"
	                       "                    WHERE a.pid = m.claim_pid"
	                       "                      AND a.backend_start = m.claim_started)",
	                       0, NULL, &res);
	if (rc != US_OK)
		return rc;
	*n = atoll(PQcmdTuples(res));
	PQclear(res);
	return US_OK;
}

/* --- status --- */

static const char deliveries_sql[] =
        "SELECT id, recipient, template, subject, reference, state, attempts, last_reply,"
        "       " US_SQL_TIMESTAMP("created_at") ", " US_SQL_TIMESTAMP("updated_at") ","
        "       " US_SQL_TIMESTAMP("CASE WHEN state = 'queued' THEN next_attempt_at END") ","
        "       " US_SQL_TIMESTAMP("sent_at") ", smtp_message_id"
        "  FROM messages"
        " WHERE ($1 = '' OR reference = $1) AND ($2 = '' OR recipient = $2)"
        " ORDER BY created_at DESC, id DESC"
        " LIMIT $3::int";

static const char history_sql[] =
        "SELECT d.ord, a.number, " US_SQL_TIMESTAMP("a.at") ", a.reply"
        "  FROM unnest($1::uuid[]) WITH ORDINALITY AS d(id, ord)"
        "  JOIN messages m ON m.id = d.id"
        "  JOIN attempts a ON a.message_id = d.id AND a.number > m.attempts - $2::int"
        " ORDER BY d.ord, a.number";

static Usher__V1__DeliveryState state_of(const char *s)
{
	if (strcmp(s, "queued") == 0)
		return USHER__V1__DELIVERY_STATE__DELIVERY_QUEUED;
	if (strcmp(s, "sent") == 0)
		return USHER__V1__DELIVERY_STATE__DELIVERY_SENT;
	if (strcmp(s, "failed") == 0)
		return USHER__V1__DELIVERY_STATE__DELIVERY_FAILED;
	return USHER__V1__DELIVERY_STATE__DELIVERY_SUPPRESSED;
}

/* SQL NULL (no next attempt, not sent) reads as "". */
static Usher__V1__Delivery *read_delivery(us_row *r)
{
	Usher__V1__Delivery *d = US_ROW_NEW(r, Usher__V1__Delivery);
	if (d == NULL)
		return NULL;
	usher__v1__delivery__init(d);
	d->message_id = us_row_uuid(r, 0);
	d->recipient = us_row_text(r, 1);
	d->template_ = us_row_text(r, 2);
	d->subject = us_row_text(r, 3);
	d->reference = us_row_text(r, 4);
	d->state = state_of(us_row_text(r, 5));
	d->attempts = (uint32_t)us_row_int(r, 6);
	d->last_reply = us_row_text(r, 7);
	d->created_at = us_row_timestamp(r, 8);
	d->updated_at = us_row_timestamp(r, 9);
	d->next_attempt_at = us_row_timestamp(r, 10);
	d->sent_at = us_row_timestamp(r, 11);
	d->smtp_message_id = us_row_text(r, 12);
	return d;
}

/* Adds each message's latest attempts, oldest first. */
static us_err add_history(PGconn *conn, Usher__V1__Delivery **ds, size_t n, us_arena *arena)
{
	const char **ids = US_ARENA_ARRAY(arena, const char *, n);
	if (ids == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n; i++)
		ids[i] = ds[i]->message_id;
	char *list = us_db_text_array(arena, ids, n);
	if (list == NULL)
		return US_EEXHAUSTED;
	char max[16];
	snprintf(max, sizeof(max), "%d", HISTORY_MAX);
	const char *params[] = {list, max};
	PGresult *res;
	us_err rc = us_db_exec(conn, history_sql, 2, params, &res);
	if (rc != US_OK)
		return rc;
	int rows = PQntuples(res);
	us_row r = us_row_at(arena, res, 0, 0);
	for (; r.row < rows && !us_row_failed(&r); r.row++) {
		int64_t ord = us_row_int(&r, 0);
		if (ord < 1 || (size_t)ord > n) {
			rc = US_EINTERNAL;
			break;
		}
		Usher__V1__Delivery *d = ds[ord - 1];
		if (d->attempt_log == NULL)
			d->attempt_log = US_ROW_ARRAY(&r, Usher__V1__DeliveryAttempt *, HISTORY_MAX);
		if (d->attempt_log == NULL || d->n_attempt_log == HISTORY_MAX)
			continue;
		Usher__V1__DeliveryAttempt *a = US_ROW_NEW(&r, Usher__V1__DeliveryAttempt);
		if (a == NULL)
			continue;
		usher__v1__delivery_attempt__init(a);
		a->number = (uint32_t)us_row_int(&r, 1);
		a->at = us_row_timestamp(&r, 2);
		a->reply = us_row_text(&r, 3);
		d->attempt_log[d->n_attempt_log++] = a;
	}
	PQclear(res);
	if (rc == US_OK && us_row_failed(&r))
		rc = US_EEXHAUSTED;
	return rc;
}

us_err notification_store_deliveries(PGconn *conn, const char *reference, const char *recipient,
                        uint32_t limit, us_arena *arena, Usher__V1__Delivery ***out, size_t *n)
{
	char lim[16];
	snprintf(lim, sizeof(lim), "%u", limit);
	const char *params[] = {reference, recipient, lim};
	PGresult *res;
	us_err rc = us_db_exec(conn, deliveries_sql, 3, params, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(arena, res, 0, 0);
	Usher__V1__Delivery **ds = US_ROW_ARRAY(&r, Usher__V1__Delivery *, rows ? rows : 1);
	for (; !us_row_failed(&r) && (size_t)r.row < rows; r.row++)
		ds[r.row] = read_delivery(&r);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	if (rows > 0 && (rc = add_history(conn, ds, rows, arena)) != US_OK)
		return rc;
	*out = ds;
	*n = rows;
	return US_OK;
}

us_err notification_store_seal_plain_variables(PGconn *conn,
                                               const uint8_t key[NOTIFICATION_SEAL_KEY_BYTES],
                                               int64_t *n)
{
	*n = 0;
	for (;;) {
		us_arena *a = us_arena_new();
		if (a == NULL)
			return US_EEXHAUSTED;
		PGresult *res = NULL;
		us_err rc = us_db_begin(conn);
		if (rc == US_OK)
			rc = us_db_exec(conn,
			                "SELECT id, template, recipient, variables::text FROM messages "
			                "WHERE variables IS NOT NULL LIMIT 500 FOR UPDATE SKIP LOCKED",
			                0, NULL, &res);
		int rows = rc == US_OK ? PQntuples(res) : 0;
		us_row r = us_row_at(a, res, 0, 0);
		for (; rc == US_OK && r.row < rows; r.row++) {
			const char *id = us_row_uuid(&r, 0);
			const char *plain = us_row_text(&r, 3);
			char *sealed = notification_seal(a, key, plain, strlen(plain),
			                                 us_row_text(&r, 1), us_row_text(&r, 2));
			if (us_row_failed(&r))
				sealed = NULL;
			const char *params[] = {id, sealed};
			rc = sealed == NULL ? US_EEXHAUSTED
			                    : us_db_exec(conn,
			                                 "UPDATE messages SET sealed_variables = "
			                                 "decode($2, 'hex'), variables = NULL WHERE id = $1",
			                                 2, params, NULL);
		}
		PQclear(res);
		if (rc == US_OK)
			rc = us_db_commit(conn);
		if (rc != US_OK)
			us_db_rollback(conn);
		us_arena_free(a);
		if (rc != US_OK)
			return rc;
		*n += rows;
		if (rows == 0)
			return US_OK;
	}
}

us_err notification_store_unsuppress(PGconn *conn, const char *email, bool *removed)
{
	const char *params[] = {email};
	PGresult *res;
	us_err rc = us_db_exec(conn, "DELETE FROM suppressions WHERE email = $1", 1, params, &res);
	if (rc != US_OK)
		return rc;
	*removed = atoll(PQcmdTuples(res)) > 0;
	PQclear(res);
	return US_OK;
}

/* --- retention (common/housekeeping.h): $1 days --- */

/* Finished messages, from their last change; their attempts go with them (cascade). */
const char notification_store_purge_messages[] =
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages"
        " WHERE state <> 'queued' AND " US_SQL_OLDER_THAN("updated_at")
        US_SQL_RETENTION_LIMIT ")";

const char notification_store_purge_webhook_deliveries[] =
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
        " WHERE state <> 'pending' AND " US_SQL_OLDER_THAN("updated_at")
        US_SQL_RETENTION_LIMIT ")";
const char notification_store_purge_events[] =
        "DELETE FROM events WHERE seq IN (SELECT e.seq FROM events e"
        " WHERE " US_SQL_OLDER_THAN("e.stored_at")
        " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = e.seq"
        "  AND d.account_id = e.account_id)"
        US_SQL_RETENTION_LIMIT ")";
const char notification_store_purge_webhook_endpoints[] =
        "DELETE FROM webhook_endpoints WHERE id IN (SELECT w.id FROM webhook_endpoints w"
        " WHERE " US_SQL_OLDER_THAN("w.deleted_at")
        " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id)"
        US_SQL_RETENTION_LIMIT ")";

/* --- erasure (common/erasure.h) --- */

us_err notification_store_erase_user(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows)
{
	const char *params[] = {req->email[0] ? req->email : NULL, req->user_id, req->pseudonym_id,
	                        req->email, req->pseudonym_email};
	PGresult *res;
	/* Events keep their history with the pseudonym in place of the person: the user id
	 * wherever it stands (a UUID matches nothing else), the address only as a whole JSON
	 * string (so another address containing it is left alone). Events carry no names. */
	us_err rc = us_db_exec(db, "WITH m AS (DELETE FROM messages WHERE recipient = $1 OR strpos(subject, $1) > 0"
	                       "  RETURNING 1),"
	                       " s AS (DELETE FROM suppressions WHERE email = $1 RETURNING 1),"
	                       " e AS (UPDATE events SET actor = replace(actor, $2, $3),"
	                       "  object_id = CASE WHEN object_id = $2::uuid THEN $3::uuid"
	                       "   ELSE object_id END,"
	                       "  data = replace(replace(data::text, $2, $3),"
	                       "   to_jsonb($4::text)::text, to_jsonb($5::text)::text)::jsonb"
	                       "  WHERE strpos(actor, $2) > 0 OR object_id = $2::uuid"
	                       "   OR strpos(data::text, $2) > 0"
	                       "   OR ($1 IS NOT NULL AND strpos(data::text, to_jsonb($1::text)::text) > 0)"
	                       "  RETURNING 1)"
	                       " SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM s)"
	                       "  + (SELECT count(*) FROM e)",
	                       5, params, &res);
	if (rc != US_OK)
		return rc;
	*rows += atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return US_OK;
}

us_err notification_store_queue_gauges(PGconn *conn, int64_t *depth, double *oldest_s)
{
	PGresult *res;
	us_err rc = us_db_exec(conn,
	                       "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)"
	                       " FROM messages WHERE state = 'queued'",
	                       0, NULL, &res);
	if (rc != US_OK)
		return rc;
	*depth = atoll(PQgetvalue(res, 0, 0));
	*oldest_s = atof(PQgetvalue(res, 0, 1));
	PQclear(res);
	return US_OK;
}
