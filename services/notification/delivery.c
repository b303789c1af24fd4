#include "delivery.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/clock.h"
#include "compose.h"
#include "common/db.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/ticker.h"
#include "mime.h"
#include "policy.h"
#include "seal.h"
#include "smtp.h"
#include "spool.h"
#include "store.h"
#include "common/validate.h"

typedef struct worker {
	notification_delivery *engine;
	pthread_t thread;
	bool started;
	PGconn *db;
	notification_store_session session;
	notification_smtp_client *smtp; /* NULL: the spool */
	us_buf message;
} worker;

struct notification_delivery {
	const notification_ctx *ctx;
	const notification_settings *settings;
	const char *schema;
	notification_retry_policy policy;
	bool curl_ready;
	worker *workers;
	int n_workers;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on the monotonic clock */
	bool stopping;
	uint64_t wakeups; /* bumped by notification_delivery_wake(), so no wake-up is missed */
	us_ticker *reclaim;
	PGconn *reclaim_db; /* the reclaim ticker's own */
};

static bool stopping(notification_delivery *e)
{
	pthread_mutex_lock(&e->mu);
	bool s = e->stopping;
	pthread_mutex_unlock(&e->mu);
	return s;
}

static uint64_t wakeups(notification_delivery *e)
{
	pthread_mutex_lock(&e->mu);
	uint64_t n = e->wakeups;
	pthread_mutex_unlock(&e->mu);
	return n;
}

/* Wakes one idle worker, not all: the others would each look for due messages that the
 * first has already claimed (the accept benchmark: 4,078 claims for 2,106 wake-ups). A
 * worker that claims a full batch wakes the next, so a long queue still gets them all. A
 * worker busy when the wake-up comes sees it (wakeups moved) once it is done. */
void notification_delivery_wake(notification_delivery *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->wakeups++;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

/* Sleeps up to ms, or until a wake-up after the one seen, or until stopping: not a
 * periodic loop but a wait on the next due message that a queueing request cuts short. */
static void idle(notification_delivery *e, uint64_t seen, int64_t ms)
{
	struct timespec until = us_monotonic_after(ms);
	pthread_mutex_lock(&e->mu);
	while (!e->stopping && e->wakeups == seen) {
		if (pthread_cond_timedwait(&e->cv, &e->mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&e->mu);
}

/* Connects *db or reconnects it after a Postgres restart. */
static bool db_ready(notification_delivery *e, PGconn **db, const char *who)
{
	if (*db == NULL) {
		char err[256];
		if (us_db_connect(e->ctx->database_url, e->schema, db, err, sizeof(err)) != US_OK) {
			*db = NULL;
			us_warn("%s could not connect to the database: %s", who, err);
			return false;
		}
		return true;
	}
	return us_db_ensure(*db, e->schema) == US_OK;
}

/* Connects or reconnects; claims name the session, so a new one is identified. */
static bool connected(worker *w)
{
	if (!db_ready(w->engine, &w->db, "delivery"))
		return false;
	if (PQbackendPID(w->db) != w->session.pid &&
	    notification_store_session_identify(w->db, &w->session) != US_OK)
		return false;
	return true;
}

/* Takes back the claims of processes that died: at start and every RECLAIM_INTERVAL_S. */
static void reclaim_round(void *arg)
{
	notification_delivery *e = arg;
	if (!db_ready(e, &e->reclaim_db, "the reclaim"))
		return;
	us_metrics_upkeep_run("reclaim");
	int64_t n = 0;
	if (notification_store_reclaim(e->reclaim_db, &n) == US_OK && n > 0)
		us_info("took back %lld messages whose delivery was interrupted", (long long)n);
}

static void attempt(worker *w, us_arena *arena, const notification_store_message *m,
                    notification_send_result *r)
{
	const notification_delivery *e = w->engine;
	char why[200];
	us_buf_reset(&w->message);
	notification_compose_input in = m->in;
	if (m->sealed[0] != '\0') {
		in.variables = notification_unseal(arena, e->ctx->seal_key, m->sealed, in.template,
		                                   in.recipient);
		if (in.variables == NULL) {
			r->outcome = SEND_BROKEN;
			snprintf(r->reply, sizeof(r->reply),
			         "not sent: its variables do not open (was NOTIFICATION_SEAL_KEY changed?)");
			return;
		}
	}
	us_err rc = notification_compose_message(e->ctx->templates, &e->ctx->from, &in, &w->message,
	                                         why, sizeof(why));
	if (m->sealed[0] != '\0')
		sodium_memzero((char *)in.variables, strlen(in.variables));
	if (rc != US_OK) {
		r->outcome = rc == US_EINVAL ? SEND_BROKEN : SEND_TRANSIENT;
		snprintf(r->reply, sizeof(r->reply), "not sent: %s", why);
		return;
	}
	if (w->smtp != NULL)
		notification_smtp_send(w->smtp, e->ctx->from.address, m->in.recipient,
		                       w->message.data, w->message.len, r);
	else
		notification_spool_write(e->settings->mail_spool_dir, m->in.id, w->message.data,
		                         w->message.len, r);
}

static void log_outcome(const notification_store_message *m, const notification_store_result *res,
                        uint32_t attempts)
{
	static const char *const what[] = {
		[POLICY_SENT] = "delivered",
		[POLICY_RETRY] = "delivery deferred",
		[POLICY_FAIL] = "delivery failed",
		[POLICY_FAIL_AND_SUPPRESS] = "delivery refused; address suppressed",
	};
	static const us_log_level level[] = {
		[POLICY_SENT] = US_LOG_DEBUG,
		[POLICY_RETRY] = US_LOG_INFO,
		[POLICY_FAIL] = US_LOG_WARN,
		[POLICY_FAIL_AND_SUPPRESS] = US_LOG_WARN,
	};
	char to[US_EMAIL_MAX + 8], n[16];
	us_redact_email(m->in.recipient, to, sizeof(to));
	snprintf(n, sizeof(n), "%u", attempts);
	us_log_fields(level[res->action], what[res->action], "message_id", m->in.id, "to", to,
	              "attempt", n, "reply", res->reply, NULL);
}

static bool decide(const notification_delivery *e, const notification_store_message *m,
                   const notification_send_result *r, us_arena *arena,
                   notification_store_result *out)
{
	uint32_t attempts = m->attempts + 1;
	int64_t delay = 0;
	out->id = m->in.id;
	out->action = notification_policy_decide(&e->policy, r->outcome, attempts, m->age_ms,
	                                         randombytes_random(), &delay);
	out->delay_ms = delay;
	out->reply = us_arena_strdup(arena, r->reply);
	if (out->reply == NULL)
		return false;
	log_outcome(m, out, attempts);
	return true;
}

/* The recorded outcomes, for /metrics' email counters. */
static void count_outcomes(const notification_store_message *msgs, size_t n_msgs,
                           const notification_store_result *results, size_t n)
{
	static const char *const names[] = {
		[POLICY_SENT] = "usher_email_delivered_total",
		[POLICY_RETRY] = "usher_email_retried_total",
		[POLICY_FAIL] = "usher_email_failed_total",
		[POLICY_FAIL_AND_SUPPRESS] = "usher_email_suppressed_total",
	};
	static const char *const helps[] = {
		[POLICY_SENT] = "emails the SMTP server took (or written to the spool)",
		[POLICY_RETRY] = "delivery attempts deferred to retry later",
		[POLICY_FAIL] = "emails given up on (refused for good, or too old to retry)",
		[POLICY_FAIL_AND_SUPPRESS] = "emails not sent because their address is suppressed",
	};
	double counts[POLICY_FAIL_AND_SUPPRESS + 1] = {0};
	for (size_t i = 0; i < n; i++)
		counts[results[i].action]++;
	for (size_t i = 0; i < n_msgs; i++)
		counts[POLICY_FAIL_AND_SUPPRESS] += msgs[i].suppressed;
	for (int a = 0; a <= POLICY_FAIL_AND_SUPPRESS; a++)
		us_metrics_add(us_metrics_family(US_METRIC_COUNTER, names[a], helps[a], ""), NULL,
		               counts[a]);
}

static void deliver_batch(worker *w, const notification_store_message *msgs, size_t n,
                          us_arena *arena)
{
	notification_store_result *results = US_ARENA_ARRAY(arena, notification_store_result, n);
	size_t done = 0;
	bool ok = results != NULL;
	for (size_t i = 0; ok && i < n && !stopping(w->engine); i++) {
		if (msgs[i].suppressed)
			continue;
		notification_send_result r;
		attempt(w, arena, &msgs[i], &r);
		if (r.outcome == SEND_OK)
			us_fault_point("delivery.after_send");
		ok = decide(w->engine, &msgs[i], &r, arena, &results[done]);
		done += ok;
	}
	if (done > 0 && notification_store_record(w->db, &w->session, results, done) != US_OK) {
		us_error("could not record %zu delivery attempts; those messages will be sent again",
		         done);
		ok = false;
	} else {
		count_outcomes(msgs, n, results, done);
	}
	/* Whatever this session still holds was not attempted, or its outcome was lost. */
	if ((!ok || stopping(w->engine)) && notification_store_release(w->db, &w->session) != US_OK)
		us_error("could not give back claimed messages; they wait for the reclaim");
}

#define IDLE_MIN_WAIT_MS 10

/* One round; returns how long to wait before the next (0: at once). */
static int64_t run_once(worker *w)
{
	const notification_settings *s = w->engine->settings;
	const int64_t poll = s->delivery_poll_ms;
	if (!connected(w))
		return poll;
	us_arena *arena = us_arena_new();
	notification_store_message *msgs = NULL;
	size_t n = 0;
	int64_t wait = poll;
	if (arena == NULL || notification_store_claim(w->db, &w->session, (int)s->delivery_batch,
	                                              arena, &msgs, &n) != US_OK) {
		us_arena_free(arena);
		return poll;
	}
	if (n > 0) {
		if (n == (size_t)s->delivery_batch)
			notification_delivery_wake(w->engine); /* more may be due: a hand from another */
		us_fault_point("delivery.after_claim");
		deliver_batch(w, msgs, n, arena);
		wait = 0;
	} else if (notification_store_next_due_ms(w->db, &wait) != US_OK || wait < 0 || wait > poll) {
		wait = poll;
	} else if (wait < IDLE_MIN_WAIT_MS) {
		/* Due but not claimable (locked by another transaction): do not spin on it. */
		wait = IDLE_MIN_WAIT_MS;
	}
	us_arena_free(arena);
	return wait;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	while (!stopping(w->engine)) {
		uint64_t seen = wakeups(w->engine);
		int64_t wait = run_once(w);
		if (wait > 0)
			idle(w->engine, seen, wait);
	}
	return NULL;
}

static void free_engine(notification_delivery *e)
{
	for (int i = 0; e->workers != NULL && i < e->n_workers; i++) {
		worker *w = &e->workers[i];
		notification_smtp_close(w->smtp);
		if (w->db != NULL)
			PQfinish(w->db);
		us_buf_free(&w->message);
	}
	free(e->workers);
	if (e->reclaim_db != NULL)
		PQfinish(e->reclaim_db);
	if (e->curl_ready)
		notification_smtp_global_cleanup();
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static us_err prepare(notification_delivery *e, char *err, size_t err_size)
{
	const notification_settings *s = e->settings;
	us_err rc = s->smtp_url != NULL ? notification_smtp_global_init(err, err_size)
	                                : notification_spool_prepare(s->mail_spool_dir, err,
	                                                             err_size);
	if (rc != US_OK)
		return rc;
	e->curl_ready = s->smtp_url != NULL;
	e->workers = calloc(s->delivery_workers > 0 ? (size_t)s->delivery_workers : 1,
	                    sizeof(worker));
	if (e->workers == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	e->n_workers = (int)s->delivery_workers;
	for (int i = 0; i < e->n_workers && rc == US_OK; i++) {
		e->workers[i].engine = e;
		if (s->smtp_url != NULL)
			rc = notification_smtp_open(s, &e->workers[i].smtp, err, err_size);
	}
	return rc;
}

us_err notification_delivery_start(const notification_ctx *ctx, const char *schema,
                                   notification_delivery **out, char *err, size_t err_size)
{
	notification_delivery *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	const notification_settings *s = &ctx->settings;
	e->ctx = ctx;
	e->settings = s;
	e->schema = schema;
	e->policy = (notification_retry_policy){s->retry_base_ms, s->retry_max_ms,
	                                        s->retry_max_age_s * 1000};
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &attr);
	pthread_condattr_destroy(&attr);

	us_err rc = prepare(e, err, err_size);
	for (int i = 0; i < e->n_workers && rc == US_OK; i++) {
		if (pthread_create(&e->workers[i].thread, NULL, worker_main, &e->workers[i]) != 0) {
			snprintf(err, err_size, "could not start delivery thread");
			rc = US_EEXHAUSTED;
		}
		e->workers[i].started = rc == US_OK;
	}
	/* A replica that only queues leaves the reclaim to those that deliver. */
	if (rc == US_OK && e->n_workers > 0 &&
	    us_ticker_start("reclaim", (uint32_t)(s->reclaim_interval_s * 1000), reclaim_round, e,
	                    &e->reclaim) != US_OK) {
		snprintf(err, err_size, "could not start the reclaim thread");
		rc = US_EEXHAUSTED;
	}
	if (rc != US_OK) {
		notification_delivery_stop(e);
		return rc;
	}
	*out = e;
	return US_OK;
}

void notification_delivery_stop(notification_delivery *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	for (int i = 0; i < e->n_workers; i++) {
		if (e->workers[i].started)
			pthread_join(e->workers[i].thread, NULL);
	}
	us_ticker_stop(e->reclaim);
	free_engine(e);
}
