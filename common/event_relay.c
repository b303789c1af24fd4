#include "common/event_relay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/db.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/row.h"
#include "common/timestamp.h"
#include "common/wake.h"
#include "usher/v1/events.pb-c.h"

#define SEND_TIMEOUT_MS 30000
#define RETRY_PAUSE_MS 1000
#define EVENTS_COALESCE_MS 20

struct us_event_relay {
	us_event_relay_opts opts;
	pthread_t thread;
	bool started;
	PGconn *db;
	us_wake *wake;
};

/* One relay at a time per schema, whatever the number of replicas: the events leave in
 * the order they were written. The rows are deleted as they are taken, in the transaction
 * that hands them over (rolled back if the call fails): one statement and one write per
 * row, where a FOR UPDATE then a DELETE by number wrote each row twice. A row another
 * relay deleted meanwhile is skipped by the DELETE, as FOR UPDATE skipped it. */
static const char take_sql[] =
        "WITH taken AS ("
        " DELETE FROM events WHERE seq = ANY (ARRAY("
        "  SELECT e.seq FROM (SELECT pg_try_advisory_xact_lock(hashtext(current_schema() ||"
        "   '.events')) AS mine) AS l, events e WHERE l.mine ORDER BY e.seq LIMIT $1))"
        " RETURNING seq, id, type, account_id, actor, object_type, object_id, data::text,"
        "  " US_SQL_TIMESTAMP("occurred_at")
        ") SELECT * FROM taken ORDER BY seq";

static Usher__V1__Event *read_event(us_row *r)
{
	Usher__V1__Event *e = US_ROW_NEW(r, Usher__V1__Event);
	if (e == NULL)
		return NULL;
	usher__v1__event__init(e);
	e->id = us_row_uuid(r, 1);
	e->type = us_row_text(r, 2);
	e->account_id = us_row_uuid(r, 3);
	e->actor = us_row_text(r, 4);
	e->object_type = us_row_text(r, 5);
	e->object_id = us_row_uuid(r, 6);
	e->data_json = us_row_text(r, 7);
	e->occurred_at = us_row_text(r, 8);
	return e;
}

/* Hands one chunk over. Returns how many events it handed (0: none waiting, or another
 * replica is at it), or -1 when it must wait and retry. */
static int relay_chunk(us_event_relay *rl)
{
	us_arena *a = us_arena_new();
	if (a == NULL)
		return -1;
	char limit[16];
	snprintf(limit, sizeof(limit), "%u", rl->opts.batch);
	const char *params[] = {limit};
	PGresult *res = NULL;
	int handed = -1;
	us_err rc = us_db_ensure(rl->db, rl->opts.schema);
	if (rc == US_OK)
		rc = us_db_begin(rl->db);
	if (rc == US_OK)
		rc = us_db_exec(rl->db, take_sql, 1, params, &res);
	size_t n = rc == US_OK ? (size_t)PQntuples(res) : 0;
	Usher__V1__Event **events = US_ARENA_ARRAY(a, Usher__V1__Event *, n ? n : 1);
	if (rc == US_OK) {
		us_row r = us_row_at(a, res, 0, 0);
		for (size_t i = 0; i < n && events != NULL; i++) {
			r.row = (int)i;
			events[i] = read_event(&r);
		}
		if (events == NULL || us_row_failed(&r))
			rc = US_EEXHAUSTED;
	}
	PQclear(res);
	/* With notificationd down, a call would only wait out its deadline and hold up a stop:
	 * the rows stay, and the relay tries again after its pause. */
	if (rc == US_OK && n > 0 && !us_rpc_client_connected(rl->opts.notification))
		rc = US_EUNAVAILABLE;
	if (rc == US_OK && n > 0) {
		Usher__V1__RecordEventsRequest req = USHER__V1__RECORD_EVENTS_REQUEST__INIT;
		req.events = events;
		req.n_events = n;
		us_rpc_call_opts call = {.timeout_ms = SEND_TIMEOUT_MS};
		us_status st;
		us_status_init(&st);
		ProtobufCMessage *reply;
		rc = us_rpc_call(rl->opts.notification, "usher.v1.EventService/RecordEvents", &call,
		                 &req.base, &usher__v1__record_events_reply__descriptor, a, &reply, &st);
		if (rc != US_OK)
			us_log_fields(US_LOG_WARN, "could not hand events to usher-notificationd; will retry",
			              "code", us_err_name(rc), "message", st.message, NULL);
		us_status_clear(&st);
		if (rc == US_OK)
			us_fault_point("events.after_send");
	}
	/* Nothing taken, nothing to commit (a commit would only cost a round trip). */
	if (rc == US_OK && n > 0)
		rc = us_db_commit(rl->db);
	if (rc == US_OK)
		handed = (int)n;
	if (rc != US_OK || n == 0)
		us_db_rollback(rl->db);
	us_arena_free(a);
	return handed;
}

static void *relay_main(void *arg)
{
	us_event_relay *rl = arg;
	for (;;) {
		/* Commits announced from here on bring another look. A full chunk means more may
		 * wait; a stop waits for the chunk in hand only, however many are left. */
		unsigned long mark = us_wake_mark(rl->wake);
		int handed;
		do
			handed = relay_chunk(rl);
		while (handed >= (int)rl->opts.batch && !us_wake_stopping(rl->wake));
		int pause = handed < 0 ? RETRY_PAUSE_MS : (int)rl->opts.poll_ms;
		us_wake_reason why = us_wake_wait(rl->wake, mark, pause);
		/* After a commit, a short pause: the events of many small changes (accepts, each
		 * with an event in two services) go to notificationd in one call, not one each. */
		if (why == US_WAKE_STOP ||
		    (why == US_WAKE_COMMIT && !us_wake_pause(rl->wake, EVENTS_COALESCE_MS)))
			break;
	}
	return NULL;
}

us_err us_event_relay_start(const us_event_relay_opts *opts, us_event_relay **out, char *err,
                            size_t err_size)
{
	*out = NULL;
	us_event_relay *rl = calloc(1, sizeof(*rl));
	if (rl == NULL) {
		snprintf(err, err_size, "out of memory starting the event relay");
		return US_EEXHAUSTED;
	}
	rl->opts = *opts;
	if ((rl->wake = us_wake_new(US_WAKE_EVENTS)) == NULL) {
		snprintf(err, err_size, "out of memory starting the event relay");
		us_event_relay_stop(rl);
		return US_EEXHAUSTED;
	}
	us_err rc = us_db_connect(opts->database_url, opts->schema, &rl->db, err, err_size);
	if (rc == US_OK && pthread_create(&rl->thread, NULL, relay_main, rl) != 0) {
		snprintf(err, err_size, "could not start the event relay");
		rc = US_EEXHAUSTED;
	}
	rl->started = rc == US_OK;
	if (rc != US_OK) {
		us_event_relay_stop(rl);
		return rc;
	}
	*out = rl;
	return US_OK;
}

void us_event_relay_stop(us_event_relay *rl)
{
	if (rl == NULL)
		return;
	if (rl->wake != NULL)
		us_wake_stop(rl->wake);
	if (rl->started)
		pthread_join(rl->thread, NULL);
	PQfinish(rl->db);
	us_wake_free(rl->wake);
	free(rl);
}
