#include "webhooks.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "common/arena.h"
#include "common/db.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/ticker.h"
#include "egress.h"
#include "events_store.h"
#include "seal.h"
#include "webhook_sign.h"

/* One delivery thread: its own database connection and curl handle. Threads take
 * different deliveries (SKIP LOCKED), so a slow receiver holds up one thread, not all. */
typedef struct poster {
	const notification_ctx *ctx;
	us_ticker *ticker;
	PGconn *db;
	CURL *curl;
	notification_egress egress;
} poster;

struct notification_webhooks {
	poster *posters;
	int n_posters;
};

int64_t notification_webhooks_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts)
{
	int64_t delay = base_ms;
	for (int i = 1; i < attempts && delay < max_ms; i++)
		delay *= 2;
	return delay < max_ms ? delay : max_ms;
}

/* The answer's body is not kept: the status code is what counts. */
static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	size_t *seen = arg;
	*seen += size * n;
	return size * n;
}

/* The webhook-signature header: one "v1,..." per secret that signs. */
static char *signature_header(const notification_ctx *ctx, us_arena *a,
                              const notification_due_webhook *d)
{
	const char *sealed[2] = {d->sealed_secret, d->sealed_previous};
	char *header = us_arena_printf(a, "webhook-signature:");
	for (int i = 0; i < 2 && header != NULL; i++) {
		if (sealed[i][0] == '\0')
			continue;
		char *secret = notification_unseal(a, ctx->seal_key, sealed[i], "webhook_secret",
		                                   d->endpoint_id);
		if (secret == NULL)
			return NULL;
		char *sig = notification_webhook_sign(a, secret, d->event_id, d->timestamp, d->body,
		                                      strlen(d->body));
		sodium_memzero(secret, strlen(secret));
		if (sig == NULL)
			return NULL;
		header = us_arena_printf(a, "%s %s", header, sig);
	}
	return header;
}

/* Posts the delivery; fills o (error in the arena). */
static void post(poster *w, us_arena *a, const notification_due_webhook *d,
                 notification_webhook_outcome *o)
{
	const notification_settings *s = &w->ctx->settings;
	o->succeeded = false;
	o->status_code = 0;
	o->error = "";
	char *sig = signature_header(w->ctx, a, d);
	char *id = us_arena_printf(a, "webhook-id: %s", d->event_id);
	char *ts = us_arena_printf(a, "webhook-timestamp: %s", d->timestamp);
	if (sig == NULL || id == NULL || ts == NULL) {
		o->error = "not sent: the endpoint's secret does not open (was NOTIFICATION_SEAL_KEY "
		           "changed?)";
		return;
	}
	struct curl_slist *headers = NULL, *h;
	const char *lines[] = {"Content-Type: application/json", "User-Agent: usher-webhooks/1",
	                       "Expect:", id, ts, sig};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		h = curl_slist_append(headers, lines[i]);
		if (h == NULL) {
			curl_slist_free_all(headers);
			o->error = "not sent: out of memory";
			return;
		}
		headers = h;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	size_t answer = 0;
	CURL *c = w->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* never: not even to the same host */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->webhook_timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->webhook_timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	w->egress.allow_private = s->webhook_allow_private;
	w->egress.refused[0] = '\0';
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, notification_egress_open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &w->egress);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK && w->egress.refused[0] != '\0') {
		o->error = us_arena_printf(a, "not sent: %s is not a public address "
		                              "(WEBHOOK_ALLOW_PRIVATE allows it)",
		                           w->egress.refused);
		return;
	}
	if (rc != CURLE_OK) {
		o->error = us_arena_printf(a, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return;
	}
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	o->status_code = (int)code;
	if (code >= 200 && code < 300) {
		o->succeeded = true;
		return;
	}
	if (code >= 300 && code < 400) {
		char *location = NULL;
		curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
		o->error = us_arena_printf(a, "redirect to %.200s not followed (redirects never are)",
		                           location != NULL ? location : "(no Location)");
	} else {
		o->error = us_arena_printf(a, "the receiver answered %ld", code);
	}
}

/* Counts a recorded attempt in usher_webhook_deliveries_total{result}: succeeded, retried
 * (still pending, posted again later) or failed (given up: too old, or its endpoint was
 * disabled by it). A redelivery is counted by its attempts, like any delivery. */
static void count_result(const notification_webhook_outcome *o, bool disabled)
{
	const char *result = "retried";
	if (o->succeeded)
		result = "succeeded";
	else if (o->retry_in_ms < 0 || disabled)
		result = "failed";
	us_metrics_add(us_metrics_family(US_METRIC_COUNTER, "usher_webhook_deliveries_total",
	                                 "webhook delivery attempts recorded, by result", "result"),
	               &result, 1);
}

/* Takes, posts and records one due delivery; false when none was due (or on error). */
static bool deliver_one(poster *w)
{
	const notification_settings *s = &w->ctx->settings;
	us_arena *a = us_arena_new();
	if (a == NULL)
		return false;
	notification_due_webhook d;
	bool done = false;
	us_err rc = us_db_begin(w->db);
	if (rc == US_OK)
		rc = notification_webhooks_claim(w->db, a, &d);
	if (rc == US_OK) {
		notification_webhook_outcome o = {.disable_after_s = s->webhook_disable_after_s};
		post(w, a, &d, &o);
		us_fault_point("webhook.after_post");
		if (!o.succeeded) {
			bool too_old = d.age_ms >= s->webhook_retry_max_age_s * 1000;
			o.retry_in_ms = too_old ? -1
			                        : notification_webhooks_backoff_ms(s->webhook_retry_base_ms,
			                                                            s->webhook_retry_max_ms,
			                                                            d.attempts + 1);
		}
		bool disabled = false;
		rc = notification_webhooks_record(w->db, &d, &o, &disabled);
		if (rc == US_OK)
			rc = us_db_commit(w->db);
		if (rc == US_OK) {
			count_result(&o, disabled);
			char n[16], status[16];
			snprintf(n, sizeof(n), "%d", d.attempts + 1);
			snprintf(status, sizeof(status), "%d", o.status_code);
			us_log_fields(o.succeeded ? US_LOG_DEBUG : US_LOG_INFO,
			              o.succeeded ? "webhook delivered" : "webhook delivery failed",
			              "delivery_id", d.delivery_id, "endpoint_id", d.endpoint_id,
			              "event_id", d.event_id, "attempt", n, "status", status, "error",
			              o.error, NULL);
			if (disabled)
				us_log_fields(US_LOG_WARN,
				              "webhook endpoint disabled: it has failed for too long",
				              "endpoint_id", d.endpoint_id, NULL);
			done = true;
		}
	}
	if (!done)
		us_db_rollback(w->db);
	us_arena_free(a);
	return done;
}

static void round_fn(void *arg)
{
	poster *w = arg;
	if (w->db == NULL) {
		char err[256];
		if (us_db_connect(w->ctx->database_url, "notification", &w->db, err, sizeof(err)) !=
		    US_OK) {
			w->db = NULL;
			us_warn("webhook delivery could not connect to the database: %s", err);
			return;
		}
	} else if (us_db_ensure(w->db, "notification") != US_OK) {
		return;
	}
	while (deliver_one(w))
		;
}

us_err notification_webhooks_start(const notification_ctx *ctx, notification_webhooks **out,
                                   char *err, size_t err_size)
{
	*out = NULL;
	int n = (int)ctx->settings.webhook_workers;
	notification_webhooks *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->posters = calloc((size_t)n, sizeof(*w->posters))) == NULL) {
		free(w);
		snprintf(err, err_size, "out of memory starting webhook delivery");
		return US_EEXHAUSTED;
	}
	us_err rc = US_OK;
	for (; w->n_posters < n && rc == US_OK; w->n_posters++) {
		poster *p = &w->posters[w->n_posters];
		p->ctx = ctx;
		if ((p->curl = curl_easy_init()) == NULL) {
			rc = US_EEXHAUSTED;
			snprintf(err, err_size, "out of memory starting webhook delivery");
		} else if ((rc = us_ticker_start("webhooks", (uint32_t)ctx->settings.webhook_poll_ms,
		                                 round_fn, p, &p->ticker)) != US_OK) {
			snprintf(err, err_size, "could not start webhook delivery");
		}
	}
	if (rc != US_OK) {
		notification_webhooks_stop(w);
		return rc;
	}
	*out = w;
	return US_OK;
}

void notification_webhooks_wake(notification_webhooks *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < w->n_posters; i++)
		us_ticker_poke(w->posters[i].ticker);
}

void notification_webhooks_stop(notification_webhooks *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < w->n_posters; i++) {
		poster *p = &w->posters[i];
		us_ticker_stop(p->ticker);
		curl_easy_cleanup(p->curl);
		PQfinish(p->db);
	}
	free(w->posters);
	free(w);
}
