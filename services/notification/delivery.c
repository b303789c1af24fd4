#include "delivery.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/arena.h"
#include "buf.h"
#include "common/clock.h"
#include "compose.h"
#include "common/db.h"
#include "common/fault.h"
#include "common/log.h"
#include "mime.h"
#include "policy.h"
#include "seal.h"
#include "smtp.h"
#include "spool.h"
#include "store.h"
#include "common/validate.h"

typedef struct worker {
	pthread_t thread;
	bool started;
	PGconn *db;
	store_session session;
	smtp_client *smtp; /* NULL: the spool */
	buf message;
} worker;

static struct {
	const notification_settings *settings;
	const template_set *templates;
	const char *database_url;
	const char *schema;
	mime_mailbox from;
	retry_policy policy;
	bool curl_ready;
	worker *workers;
	int n_workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	uint64_t wakeups; /* bumped by delivery_wake(), so no wake-up is missed */
	atomic_int_fast64_t next_reclaim_ms;
} engine = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool stopping(void)
{
	pthread_mutex_lock(&engine.mu);
	bool s = engine.stopping;
	pthread_mutex_unlock(&engine.mu);
	return s;
}

static uint64_t wakeups(void)
{
	pthread_mutex_lock(&engine.mu);
	uint64_t n = engine.wakeups;
	pthread_mutex_unlock(&engine.mu);
	return n;
}

void delivery_wake(void)
{
	pthread_mutex_lock(&engine.mu);
	engine.wakeups++;
	pthread_cond_broadcast(&engine.cv);
	pthread_mutex_unlock(&engine.mu);
}

/* Sleeps up to ms, or until a wake-up after the one seen, or until stopping. */
static void idle(uint64_t seen, int64_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&engine.mu);
	while (!engine.stopping && engine.wakeups == seen) {
		if (pthread_cond_timedwait(&engine.cv, &engine.mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&engine.mu);
}

/* Connects or reconnects; claims name the session, so a new one is identified. */
static bool connected(worker *w)
{
	if (w->db == NULL) {
		char err[256];
		if (us_db_connect(engine.database_url, engine.schema, &w->db, err, sizeof(err)) != US_OK) {
			w->db = NULL;
			us_warn("delivery could not connect to the database: %s", err);
			return false;
		}
	} else if (us_db_ensure(w->db, engine.schema) != US_OK) {
		return false;
	}
	if (PQbackendPID(w->db) != w->session.pid &&
	    store_session_identify(w->db, &w->session) != US_OK)
		return false;
	return true;
}

static void maybe_reclaim(worker *w)
{
	int64_t now = us_monotonic_ms();
	int_fast64_t next = atomic_load(&engine.next_reclaim_ms);
	if (now < next || !atomic_compare_exchange_strong(&engine.next_reclaim_ms, &next,
	                                                  now + engine.settings->reclaim_interval_s * 1000))
		return;
	int64_t n = 0;
	if (store_reclaim(w->db, &n) == US_OK && n > 0)
		us_info("took back %lld messages whose delivery was interrupted", (long long)n);
}

static void attempt(worker *w, us_arena *arena, const store_message *m, send_result *r)
{
	char why[200];
	buf_reset(&w->message);
	compose_input in = m->in;
	if (m->sealed[0] != '\0') {
		in.variables = notification_unseal(arena, m->sealed, in.template, in.recipient);
		if (in.variables == NULL) {
			r->outcome = SEND_BROKEN;
			snprintf(r->reply, sizeof(r->reply),
			         "not sent: its variables do not open (was NOTIFICATION_SEAL_KEY changed?)");
			return;
		}
	}
	us_err rc = compose_message(engine.templates, &engine.from, &in, &w->message, why,
	                            sizeof(why));
	if (m->sealed[0] != '\0')
		sodium_memzero((char *)in.variables, strlen(in.variables));
	if (rc != US_OK) {
		r->outcome = rc == US_EINVAL ? SEND_BROKEN : SEND_TRANSIENT;
		snprintf(r->reply, sizeof(r->reply), "not sent: %s", why);
		return;
	}
	if (w->smtp != NULL)
		smtp_send(w->smtp, engine.from.address, m->in.recipient, w->message.data,
		          w->message.len, r);
	else
		spool_write(engine.settings->mail_spool_dir, m->in.id, w->message.data, w->message.len, r);
}

static void log_outcome(const store_message *m, const store_result *res, uint32_t attempts)
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

static bool decide(const store_message *m, const send_result *r, us_arena *arena,
                   store_result *out)
{
	uint32_t attempts = m->attempts + 1;
	int64_t delay = 0;
	out->id = m->in.id;
	out->action = policy_decide(&engine.policy, r->outcome, attempts, m->age_ms,
	                            randombytes_random(), &delay);
	out->delay_ms = delay;
	out->reply = us_arena_strdup(arena, r->reply);
	if (out->reply == NULL)
		return false;
	log_outcome(m, out, attempts);
	return true;
}

static void deliver_batch(worker *w, const store_message *msgs, size_t n, us_arena *arena)
{
	store_result *results = US_ARENA_ARRAY(arena, store_result, n);
	size_t done = 0;
	bool ok = results != NULL;
	for (size_t i = 0; ok && i < n && !stopping(); i++) {
		if (msgs[i].suppressed)
			continue;
		send_result r;
		attempt(w, arena, &msgs[i], &r);
		if (r.outcome == SEND_OK)
			us_fault_point("delivery.after_send");
		ok = decide(&msgs[i], &r, arena, &results[done]);
		done += ok;
	}
	if (done > 0 && store_record(w->db, &w->session, results, done) != US_OK) {
		us_error("could not record %zu delivery attempts; those messages will be sent again",
		         done);
		ok = false;
	}
	/* Whatever this session still holds was not attempted, or its outcome was lost. */
	if ((!ok || stopping()) && store_release(w->db, &w->session) != US_OK)
		us_error("could not give back claimed messages; they wait for the reclaim");
}

#define IDLE_MIN_WAIT_MS 10

/* One round; returns how long to wait before the next (0: at once). */
static int64_t run_once(worker *w)
{
	const int64_t poll = engine.settings->delivery_poll_ms;
	if (!connected(w))
		return poll;
	maybe_reclaim(w);
	us_arena *arena = us_arena_new();
	store_message *msgs = NULL;
	size_t n = 0;
	int64_t wait = poll;
	if (arena == NULL ||
	    store_claim(w->db, &w->session, (int)engine.settings->delivery_batch, arena, &msgs, &n) != US_OK) {
		us_arena_free(arena);
		return poll;
	}
	if (n > 0) {
		us_fault_point("delivery.after_claim");
		deliver_batch(w, msgs, n, arena);
		wait = 0;
	} else if (store_next_due_ms(w->db, &wait) != US_OK || wait < 0 || wait > poll) {
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
	while (!stopping()) {
		uint64_t seen = wakeups();
		int64_t wait = run_once(w);
		if (wait > 0)
			idle(seen, wait);
	}
	return NULL;
}

static void free_workers(void)
{
	for (int i = 0; i < engine.n_workers; i++) {
		worker *w = &engine.workers[i];
		smtp_close(w->smtp);
		if (w->db != NULL)
			PQfinish(w->db);
		buf_free(&w->message);
	}
	free(engine.workers);
	engine.workers = NULL;
	engine.n_workers = 0;
	if (engine.curl_ready)
		smtp_global_cleanup();
	engine.curl_ready = false;
}

static us_err prepare(const notification_settings *s, char *err, size_t err_size)
{
	us_err rc = s->smtp_url != NULL ? smtp_global_init(err, err_size)
	                                : spool_prepare(s->mail_spool_dir, err, err_size);
	if (rc != US_OK)
		return rc;
	engine.curl_ready = s->smtp_url != NULL;
	engine.workers = calloc(s->delivery_workers > 0 ? (size_t)s->delivery_workers : 1, sizeof(worker));
	if (engine.workers == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	engine.n_workers = (int)s->delivery_workers;
	for (int i = 0; i < engine.n_workers && rc == US_OK; i++) {
		if (s->smtp_url != NULL)
			rc = smtp_open(s, &engine.workers[i].smtp, err, err_size);
	}
	return rc;
}

us_err delivery_start(const notification_settings *settings, const template_set *templates,
                      const char *database_url, const char *schema, char *err, size_t err_size)
{
	engine.settings = settings;
	engine.templates = templates;
	engine.database_url = database_url;
	engine.schema = schema;
	engine.stopping = false;
	atomic_init(&engine.next_reclaim_ms, 0); /* the first worker reclaims at once */
	engine.policy = (retry_policy){settings->retry_base_ms, settings->retry_max_ms,
	                               settings->retry_max_age_s * 1000};
	const char *why = mime_parse_mailbox(settings->mail_from, &engine.from);
	if (why != NULL) {
		snprintf(err, err_size, "MAIL_FROM: %s", why);
		return US_EINVAL;
	}
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&engine.cv, &attr);
	pthread_condattr_destroy(&attr);

	us_err rc = prepare(settings, err, err_size);
	for (int i = 0; i < engine.n_workers && rc == US_OK; i++) {
		if (pthread_create(&engine.workers[i].thread, NULL, worker_main, &engine.workers[i]) != 0) {
			snprintf(err, err_size, "could not start delivery thread");
			rc = US_EEXHAUSTED;
		}
		engine.workers[i].started = rc == US_OK;
	}
	if (rc != US_OK)
		delivery_stop();
	return rc;
}

void delivery_stop(void)
{
	pthread_mutex_lock(&engine.mu);
	engine.stopping = true;
	pthread_cond_broadcast(&engine.cv);
	pthread_mutex_unlock(&engine.mu);
	for (int i = 0; i < engine.n_workers; i++) {
		if (engine.workers[i].started)
			pthread_join(engine.workers[i].thread, NULL);
	}
	free_workers();
}
