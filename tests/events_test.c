/* Events and webhooks end to end (docs/events.md): the real daemons against a real
 * Postgres, webhooks posted to a real HTTP receiver (tests/support/webhook_receiver.py),
 * whose signatures are checked by Python's hmac, not by the code under test.
 *
 * An accept makes exactly one invitation.accepted event and one signed delivery; a
 * failing receiver gets retries with a growing delay, then the delivery succeeds; bad URLs
 * are refused; a redirect to another host is not followed; and events survive a SIGKILL of
 * each daemon that handles them at its worst moment (none lost, none doubled, in order).
 * notificationd's /metrics counts the attempts by result and shows the pending backlog. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/timestamp.h"
#include "harness.h"
#include "http.h"
#include "usher/v1/events.pb-c.h"

#define EV "usher.v1.EventService/"
#define INV "usher.v1.InvitationService/"
#define PASSWORD "correct horse battery"
#define WAIT_MS 60000
#define RETRY_BASE_MS 200
/* The extra_env entry a test sets for one restart of a daemon: a crash point, a setting. */
#define RESTART_SLOT 5

static ut_system sys;
static char spool[200];
static us_arena *A;
static char *owner;
static const char *owner_email = "owner@events.example";

/* --- the receiver --- */

typedef struct receiver {
	pid_t pid;
	int port;
	char log[256];
} receiver;

/* Starts a receiver on r->port (0: any free port). */
static void receiver_start_on(receiver *r, const char *name, const char *codes,
                              const char *redirect)
{
	char script[512], port_file[256], out[256];
	snprintf(script, sizeof(script), "%s/tests/support/webhook_receiver.py",
	         getenv("USHER_SOURCE_DIR"));
	snprintf(port_file, sizeof(port_file), "%s/%s.port", sys.dir, name);
	snprintf(r->log, sizeof(r->log), "%s/%s.jsonl", sys.dir, name);
	snprintf(out, sizeof(out), "%s/%s.out", sys.dir, name);
	unlink(port_file);
	char port[16];
	snprintf(port, sizeof(port), "%d", r->port);
	char *argv[] = {"python3", script, "serve", "--port-file", port_file, "--log", r->log,
	                "--codes", (char *)codes, "--redirect", (char *)(redirect ? redirect : ""),
	                "--port", port, NULL};
	char python[] = "/usr/bin/python3";
	argv[0] = python;
	r->pid = ut_spawn(argv, NULL, out);
	struct timespec until = us_monotonic_after(WAIT_MS), now;
	FILE *f = NULL;
	while ((f = fopen(port_file, "r")) == NULL) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec)
			fail_msg("the webhook receiver did not start (see %s)", out);
		usleep(20000);
	}
	assert_int_equal(fscanf(f, "%d", &r->port), 1);
	fclose(f);
}

static void receiver_start(receiver *r, const char *name, const char *codes, const char *redirect)
{
	r->port = 0;
	receiver_start_on(r, name, codes, redirect);
}

static void receiver_stop(receiver *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		ut_reap(r->pid, WAIT_MS);
		r->pid = 0;
	}
}

/* The requests received so far (a JSON array; json_decref it). */
static json_t *received(const receiver *r)
{
	json_t *all = json_array();
	FILE *f = fopen(r->log, "r");
	char *line = NULL;
	size_t cap = 0;
	while (f != NULL && getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		if (j != NULL)
			json_array_append_new(all, j);
	}
	free(line);
	if (f != NULL)
		fclose(f);
	return all;
}

/* How many requests carried an event of type (NULL: any) with id (NULL: any). */
static size_t count_received(const receiver *r, const char *type, const char *event_id)
{
	json_t *all = received(r);
	size_t n = 0, i;
	json_t *req;
	json_array_foreach(all, i, req) {
		json_t *body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
		const char *t = json_string_value(json_object_get(body, "type"));
		const char *id = json_string_value(json_object_get(body, "id"));
		if ((type == NULL || (t && strcmp(t, type) == 0)) &&
		    (event_id == NULL || (id && strcmp(id, event_id) == 0)))
			n++;
		json_decref(body);
	}
	json_decref(all);
	return n;
}

/* Runs the receiver's independent verifier: how many requests verify (-1: one did not). */
static long verify_signatures(const receiver *r, const char *secret)
{
	char script[512];
	snprintf(script, sizeof(script), "%s/tests/support/webhook_receiver.py",
	         getenv("USHER_SOURCE_DIR"));
	char python[] = "/usr/bin/python3";
	char *argv[] = {python, script, "verify", "--log", (char *)r->log, "--secret", (char *)secret,
	                NULL};
	char *out = NULL;
	int status = ut_run(argv, NULL, false, &out);
	long n = status == 0 && out != NULL ? strtol(out, NULL, 10) : -1;
	free(out);
	return n;
}

static void url_of(const receiver *r, const char *host, char *out, size_t size)
{
	snprintf(out, size, "http://%s:%d/hooks", host, r->port);
}

/* --- calls --- */

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

static bool past(const struct timespec *until)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > until->tv_sec ||
	       (now.tv_sec == until->tv_sec && now.tv_nsec > until->tv_nsec);
}

static Usher__V1__CreateWebhookEndpointReply *create_endpoint(const char *account, const char *url,
                                                              const char *type, us_err *rc,
                                                              us_status *st)
{
	Usher__V1__CreateWebhookEndpointRequest req = USHER__V1__CREATE_WEBHOOK_ENDPOINT_REQUEST__INIT;
	char *types[] = {(char *)type};
	req.account_id = (char *)account;
	req.url = (char *)url;
	req.types = types;
	req.n_types = type != NULL;
	ProtobufCMessage *out = NULL;
	*rc = ut_call(&sys, UT_NOTIFICATION, EV "CreateWebhookEndpoint", NULL, ut_key(A), &req.base,
	              &usher__v1__create_webhook_endpoint_reply__descriptor, A, &out, st);
	return (Usher__V1__CreateWebhookEndpointReply *)out;
}

static Usher__V1__CreateWebhookEndpointReply *must_create_endpoint(const char *account,
                                                                   const char *url,
                                                                   const char *type)
{
	us_err rc;
	us_status st;
	Usher__V1__CreateWebhookEndpointReply *r = create_endpoint(account, url, type, &rc, &st);
	if (rc != US_OK)
		fail_msg("CreateWebhookEndpoint %s: %s", url, st.message);
	us_status_clear(&st);
	assert_int_equal(strncmp(r->secret, "whsec_", 6), 0);
	return r;
}

/* Every event of account so far, in order (all pages). */
static Usher__V1__Event **list_events(const char *account, size_t *n)
{
	size_t cap = 64, count = 0;
	Usher__V1__Event **all = US_ARENA_ARRAY(A, Usher__V1__Event *, cap);
	const char *after = "";
	for (;;) {
		Usher__V1__ListEventsRequest req = USHER__V1__LIST_EVENTS_REQUEST__INIT;
		req.account_id = (char *)account;
		req.after = (char *)after;
		req.limit = 7; /* several pages, so the cursor is exercised */
		ProtobufCMessage *out;
		us_status st;
		us_err rc = ut_call(&sys, UT_NOTIFICATION, EV "ListEvents", NULL, NULL, &req.base,
		                    &usher__v1__list_events_reply__descriptor, A, &out, &st);
		if (rc != US_OK)
			fail_msg("ListEvents: %s", st.message);
		us_status_clear(&st);
		Usher__V1__ListEventsReply *r = (Usher__V1__ListEventsReply *)out;
		for (size_t i = 0; i < r->n_events; i++) {
			if (count == cap) {
				Usher__V1__Event **bigger = US_ARENA_ARRAY(A, Usher__V1__Event *, cap * 2);
				memcpy(bigger, all, sizeof(*all) * cap);
				all = bigger;
				cap *= 2;
			}
			all[count++] = r->events[i];
		}
		if (r->n_events == 0)
			break;
		after = r->next_after;
	}
	*n = count;
	return all;
}

static size_t count_events(Usher__V1__Event **events, size_t n, const char *type,
                           const char *object_id)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(events[i]->type, type) == 0 &&
		    (object_id == NULL || strcmp(events[i]->object_id, object_id) == 0))
			c++;
	}
	return c;
}

/* Waits until account has at least want events of type (for object_id, may be NULL). */
static void wait_events(const char *account, const char *type, const char *object_id, size_t want)
{
	struct timespec until = us_monotonic_after(WAIT_MS);
	for (;;) {
		size_t n;
		Usher__V1__Event **ev = list_events(account, &n);
		if (count_events(ev, n, type, object_id) >= want)
			return;
		if (past(&until))
			fail_msg("%zu %s event(s) did not come", want, type);
		sleep_ms(50);
	}
}

static Usher__V1__WebhookDelivery **deliveries(const char *account, const char *endpoint,
                                               size_t *n)
{
	Usher__V1__ListWebhookDeliveriesRequest req = USHER__V1__LIST_WEBHOOK_DELIVERIES_REQUEST__INIT;
	req.account_id = (char *)account;
	req.endpoint_id = (char *)endpoint;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = ut_call(&sys, UT_NOTIFICATION, EV "ListWebhookDeliveries", NULL, NULL, &req.base,
	                    &usher__v1__list_webhook_deliveries_reply__descriptor, A, &out, &st);
	if (rc != US_OK)
		fail_msg("ListWebhookDeliveries: %s", st.message);
	us_status_clear(&st);
	Usher__V1__ListWebhookDeliveriesReply *r = (Usher__V1__ListWebhookDeliveriesReply *)out;
	*n = r->n_deliveries;
	return r->deliveries;
}

/* Waits for the endpoint's delivery of event_id to end in state; returns it. */
static Usher__V1__WebhookDelivery *wait_delivery(const char *account, const char *endpoint,
                                                 const char *event_id,
                                                 Usher__V1__WebhookDeliveryState state)
{
	struct timespec until = us_monotonic_after(WAIT_MS);
	for (;;) {
		size_t n;
		Usher__V1__WebhookDelivery **ds = deliveries(account, endpoint, &n);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(ds[i]->event_id, event_id) == 0 && ds[i]->state == state)
				return ds[i];
		}
		if (past(&until))
			fail_msg("the delivery of %s did not reach state %d", event_id, state);
		sleep_ms(50);
	}
}

static void delete_endpoint(const char *account, const char *id)
{
	Usher__V1__DeleteWebhookEndpointRequest req = USHER__V1__DELETE_WEBHOOK_ENDPOINT_REQUEST__INIT;
	req.account_id = (char *)account;
	req.id = (char *)id;
	us_status st;
	if (ut_call(&sys, UT_NOTIFICATION, EV "DeleteWebhookEndpoint", NULL, ut_key(A), &req.base,
	            &usher__v1__delete_webhook_endpoint_reply__descriptor, A, NULL, &st) != US_OK)
		fail_msg("DeleteWebhookEndpoint: %s", st.message);
	us_status_clear(&st);
}

static char *new_account(const char *name)
{
	return ut_create_account(&sys, A, owner, name, "texting");
}

/* Invites email into account as the owner and returns its token (from the spool). */
static char *invite(const char *account, const char *email, char **invitation_id)
{
	const char *emails[] = {email};
	Usher__V1__CreateInvitationsReply *r;
	us_status st;
	us_err rc = ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, 1,
	                      &r, &st);
	if (rc != US_OK)
		fail_msg("invite %s: %s", email, st.message);
	us_status_clear(&st);
	if (invitation_id != NULL)
		*invitation_id = r->results[0]->invitation_id;
	ut_email mail;
	if (!ut_wait_email(spool, A, email, "Invitation", 0, WAIT_MS, &mail))
		fail_msg("no invitation email reached %s", email);
	return mail.token;
}

static us_err accept_new(const char *token, us_status *st)
{
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = "Ada Accepter";
	profile.phone = "+14155550123";
	profile.password = PASSWORD;
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = (char *)token;
	req.new_user = &profile;
	return ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	               &usher__v1__accept_reply__descriptor, A, NULL, st);
}

static void must_accept(const char *token)
{
	us_status st;
	us_err rc = accept_new(token, &st);
	if (rc != US_OK)
		fail_msg("accept: %s", st.message);
	us_status_clear(&st);
}

static const Usher__V1__Event *find_event(Usher__V1__Event **ev, size_t n, const char *type,
                                          const char *object_id)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ev[i]->type, type) == 0 && strcmp(ev[i]->object_id, object_id) == 0)
			return ev[i];
	}
	return NULL;
}

/* The value of notificationd's sample name{result} on /metrics (parsed by the Prometheus
 * client, tests/support/prom_parse.py); 0 when it has none yet. */
static double notification_metric(const char *name, const char *result)
{
	char *body = NULL;
	long status = ut_admin_get(&sys.daemons[UT_NOTIFICATION], "/metrics", &body);
	if (status != 200)
		fail_msg("/metrics of notificationd answered %ld", status);
	char path[256], command[1024];
	snprintf(path, sizeof(path), "%s/metrics-events.txt", sys.dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	free(body);
	snprintf(command, sizeof(command), "/usr/bin/python3 '%s/tests/support/prom_parse.py' < '%s'",
	         getenv("USHER_SOURCE_DIR"), path);
	char *const argv[] = {"/bin/sh", "-c", command, NULL};
	char *out = NULL;
	if (ut_run(argv, NULL, true, &out) != 0)
		fail_msg("the Prometheus parser refused notificationd's /metrics: %s", out);
	double value = 0;
	for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		json_t *doc = json_loads(line, 0, NULL);
		if (doc == NULL)
			fail_msg("prom_parse.py printed \"%s\"", line);
		const char *have = json_string_value(
		        json_object_get(json_object_get(doc, "labels"), "result"));
		if (strcmp(json_string_value(json_object_get(doc, "name")), name) == 0 &&
		    (result == NULL || (have != NULL && strcmp(have, result) == 0)))
			value = json_number_value(json_object_get(doc, "value"));
		json_decref(doc);
	}
	free(out);
	return value;
}

#define DELIVERIES "usher_webhook_deliveries_total"

/* Waits until name{result} reaches at_least (a delivery's state is visible a moment before
 * its count); returns the value then, so a caller sees a count that went past. */
static double wait_metric(const char *name, const char *result, double at_least)
{
	struct timespec until = us_monotonic_after(WAIT_MS);
	for (;;) {
		double v = notification_metric(name, result);
		if (v >= at_least)
			return v;
		if (past(&until))
			fail_msg("%s{result=\"%s\"} stayed at %g, not %g", name, result, v, at_least);
		sleep_ms(50);
	}
}

/* Waits until every delivery to endpoint has succeeded; returns how many there are. */
static size_t wait_all_succeeded(const char *account, const char *endpoint)
{
	struct timespec until = us_monotonic_after(WAIT_MS);
	for (;;) {
		size_t n, done = 0;
		Usher__V1__WebhookDelivery **ds = deliveries(account, endpoint, &n);
		for (size_t i = 0; i < n; i++)
			done += ds[i]->state == USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED;
		if (n > 0 && done == n)
			return n;
		if (past(&until))
			fail_msg("%zu of %zu deliveries succeeded", done, n);
		sleep_ms(50);
	}
}

/* --- tests --- */

static void test_an_accept_makes_one_event_and_one_signed_delivery(void **state)
{
	(void)state;
	receiver rcv;
	receiver_start(&rcv, "accept", "", NULL);
	double succeeded0 = notification_metric(DELIVERIES, "succeeded");
	char *account = new_account("Accept Co");
	char url[128];
	url_of(&rcv, "127.0.0.1", url, sizeof(url));
	Usher__V1__CreateWebhookEndpointReply *ep = must_create_endpoint(account, url, NULL);

	char *invitation;
	char *token = invite(account, "ada@events.example", &invitation);
	must_accept(token);
	wait_events(account, "invitation.accepted", invitation, 1);
	wait_events(account, "membership.created", NULL, 2); /* the owner's, then Ada's */

	size_t n;
	Usher__V1__Event **ev = list_events(account, &n);
	assert_int_equal(count_events(ev, n, "invitation.accepted", invitation), 1);
	assert_int_equal(count_events(ev, n, "invitation.created", invitation), 1);
	assert_int_equal(count_events(ev, n, "invitation.sent", invitation), 1);
	const Usher__V1__Event *accepted = find_event(ev, n, "invitation.accepted", invitation);
	assert_string_equal(accepted->account_id, account);
	assert_string_equal(accepted->object_type, "invitation");
	assert_int_equal(strncmp(accepted->actor, "user:", 5), 0);
	assert_null(us_timestamp_check(accepted->occurred_at));
	json_t *data = json_loads(accepted->data_json, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(data, "state")), "accepted");
	assert_string_equal(json_string_value(json_object_get(data, "email")), "ada@events.example");
	json_decref(data);
	/* The creator is the actor of the creation. */
	const Usher__V1__Event *created = find_event(ev, n, "invitation.created", invitation);
	char who[64];
	snprintf(who, sizeof(who), "user:%s", owner);
	assert_string_equal(created->actor, who);
	/* In order: created, sent, accepted. */
	assert_true(strtoll(created->sequence, NULL, 10) <
	            strtoll(find_event(ev, n, "invitation.sent", invitation)->sequence, NULL, 10));
	assert_true(strtoll(find_event(ev, n, "invitation.sent", invitation)->sequence, NULL, 10) <
	            strtoll(accepted->sequence, NULL, 10));

	/* One delivery of it, succeeded at the first attempt, and one request received. */
	Usher__V1__WebhookDelivery *d = wait_delivery(account, ep->endpoint->id, accepted->id,
	                                              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);
	assert_int_equal(d->attempts, 1);
	assert_int_equal(d->n_attempt_log, 1);
	assert_int_equal(d->attempt_log[0]->status_code, 200);
	assert_int_equal(count_received(&rcv, "invitation.accepted", NULL), 1);
	assert_int_equal(count_received(&rcv, "invitation.accepted", accepted->id), 1);

	/* Python's hmac verifies every request's signature with the endpoint's secret, and
	 * refuses them with another secret. */
	size_t requests = count_received(&rcv, NULL, NULL);
	assert_true(requests >= 3);
	assert_int_equal(verify_signatures(&rcv, ep->secret), (long)requests);
	assert_int_equal(verify_signatures(&rcv, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), -1);

	/* Once all have succeeded, /metrics counted each delivery once (this endpoint is the
	 * only one so far). */
	size_t all = wait_all_succeeded(account, ep->endpoint->id);
	assert_int_equal(count_received(&rcv, NULL, NULL), all);
	assert_int_equal(wait_metric(DELIVERIES, "succeeded", succeeded0 + (double)all) - succeeded0,
	                 all);
	receiver_stop(&rcv);
}

static void test_a_failing_receiver_gets_retries_then_the_delivery_succeeds(void **state)
{
	(void)state;
	receiver rcv;
	receiver_start(&rcv, "flaky", "500,503,500", NULL);
	double succeeded0 = notification_metric(DELIVERIES, "succeeded");
	double retried0 = notification_metric(DELIVERIES, "retried");
	double failed0 = notification_metric(DELIVERIES, "failed");
	char *account = new_account("Flaky Co");
	char url[128];
	url_of(&rcv, "127.0.0.1", url, sizeof(url));
	Usher__V1__CreateWebhookEndpointReply *ep = must_create_endpoint(account, url,
	                                                                 "invitation.created");
	char *invitation;
	invite(account, "flo@events.example", &invitation);
	wait_events(account, "invitation.created", invitation, 1);
	size_t n;
	Usher__V1__Event **ev = list_events(account, &n);
	const Usher__V1__Event *created = find_event(ev, n, "invitation.created", invitation);

	Usher__V1__WebhookDelivery *d = wait_delivery(account, ep->endpoint->id, created->id,
	                                              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);
	assert_int_equal(d->attempts, 4);
	assert_int_equal(d->n_attempt_log, 4);
	const uint32_t codes[] = {500, 503, 500, 200};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(d->attempt_log[i]->number, i + 1);
		assert_int_equal(d->attempt_log[i]->status_code, codes[i]);
	}
	/* The same event each time (the same webhook-id), signed each time. */
	assert_int_equal(count_received(&rcv, "invitation.created", created->id), 4);
	assert_int_equal(verify_signatures(&rcv, ep->secret), 4);
	/* /metrics: three retries, then one success, nothing given up. */
	assert_int_equal(notification_metric(DELIVERIES, "retried") - retried0, 3);
	assert_int_equal(wait_metric(DELIVERIES, "succeeded", succeeded0 + 1) - succeeded0, 1);
	assert_int_equal(notification_metric(DELIVERIES, "failed") - failed0, 0);
	/* Backoff: each wait at least the schedule's (base, then doubled); the attempts' end
	 * times are ms apart at least that much, whatever the machine's speed. */
	int64_t at[4];
	for (int i = 0; i < 4; i++) {
		int y, mo, day, h, mi, sec, ms;
		assert_int_equal(sscanf(d->attempt_log[i]->at, "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &day, &h,
		                        &mi, &sec, &ms),
		                 7);
		at[i] = ((((int64_t)day * 24 + h) * 60 + mi) * 60 + sec) * 1000 + ms;
	}
	for (int i = 1; i < 4; i++) {
		int64_t scheduled = (int64_t)RETRY_BASE_MS << (i - 1);
		if (at[i] - at[i - 1] < scheduled)
			fail_msg("retry %d came %lld ms after the attempt before, not after %lld", i,
			         (long long)(at[i] - at[i - 1]), (long long)scheduled);
	}
	receiver_stop(&rcv);
}

static void test_bad_urls_are_refused_at_registration(void **state)
{
	(void)state;
	char *account = new_account("Careful Co");
	const char *bad[] = {
		"ftp://hooks.example/in",
		"http://user:secret@hooks.example/in",
		"https://user@hooks.example/in",
		"javascript:alert(1)",
		"hooks.example/in",
		"http:///no-host",
		"http://hooks.example/a path",
		"file:///etc/passwd",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		us_err rc;
		us_status st;
		create_endpoint(account, bad[i], NULL, &rc, &st);
		if (rc != US_EINVAL)
			fail_msg("\"%s\" got %s, not INVALID_ARGUMENT", bad[i], us_err_name(rc));
		assert_true(st.n_violations >= 1);
		assert_string_equal(st.violations[0].field, "url");
		us_status_clear(&st);
	}
	/* Nothing was stored; a good URL is taken. */
	Usher__V1__ListWebhookEndpointsRequest req = USHER__V1__LIST_WEBHOOK_ENDPOINTS_REQUEST__INIT;
	req.account_id = account;
	ProtobufCMessage *out;
	us_status st;
	assert_int_equal(ut_call(&sys, UT_NOTIFICATION, EV "ListWebhookEndpoints", NULL, NULL,
	                         &req.base, &usher__v1__list_webhook_endpoints_reply__descriptor, A,
	                         &out, &st),
	                 US_OK);
	assert_int_equal(((Usher__V1__ListWebhookEndpointsReply *)out)->n_endpoints, 0);
	Usher__V1__CreateWebhookEndpointReply *ep =
	        must_create_endpoint(account, "https://hooks.example:8443/in?x=1", NULL);
	assert_int_equal(ut_call(&sys, UT_NOTIFICATION, EV "ListWebhookEndpoints", NULL, NULL,
	                         &req.base, &usher__v1__list_webhook_endpoints_reply__descriptor, A,
	                         &out, &st),
	                 US_OK);
	assert_int_equal(((Usher__V1__ListWebhookEndpointsReply *)out)->n_endpoints, 1);
	delete_endpoint(account, ep->endpoint->id); /* nobody is at hooks.example */
}

static void test_a_retried_registration_makes_one_endpoint_and_keeps_no_secret(void **state)
{
	(void)state;
	char *account = new_account("Retry Co");
	Usher__V1__CreateWebhookEndpointRequest req = USHER__V1__CREATE_WEBHOOK_ENDPOINT_REQUEST__INIT;
	req.account_id = account;
	req.url = "https://hooks.example/retry";
	char *key = ut_key(A);
	Usher__V1__CreateWebhookEndpointReply *r[2];
	for (int i = 0; i < 2; i++) {
		ProtobufCMessage *out;
		us_status st;
		us_err rc = ut_call(&sys, UT_NOTIFICATION, EV "CreateWebhookEndpoint", NULL, key,
		                    &req.base, &usher__v1__create_webhook_endpoint_reply__descriptor, A,
		                    &out, &st);
		if (rc != US_OK)
			fail_msg("CreateWebhookEndpoint: %s", st.message);
		us_status_clear(&st);
		r[i] = (Usher__V1__CreateWebhookEndpointReply *)out;
	}
	assert_string_equal(r[0]->endpoint->id, r[1]->endpoint->id);
	assert_string_equal(r[0]->secret, r[1]->secret);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                              "SELECT count(*) FROM notification.webhook_endpoints"
	                              " WHERE account_id = '%s'",
	                              account),
	                 1);
	/* Neither the stored reply nor the endpoint's row holds the secret in the clear. */
	const char *b64 = r[0]->secret + 6;
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                              "SELECT count(*) FROM notification.idempotency_keys"
	                              " WHERE position(convert_to('%s', 'UTF8') IN reply) > 0",
	                              b64),
	                 0);
	assert_int_equal(ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                              "SELECT count(*) FROM notification.webhook_endpoints"
	                              " WHERE strpos(sealed_secret, '%s') > 0",
	                              b64),
	                 0);
	delete_endpoint(account, r[0]->endpoint->id); /* nobody is at hooks.example */
}

static void test_a_redirect_to_another_host_is_not_followed(void **state)
{
	(void)state;
	receiver elsewhere, rcv;
	receiver_start(&elsewhere, "elsewhere", "", NULL);
	char target[128];
	url_of(&elsewhere, "localhost", target, sizeof(target));
	receiver_start(&rcv, "redirecting", "307", target);
	char *account = new_account("Redirect Co");
	char url[128];
	url_of(&rcv, "127.0.0.1", url, sizeof(url));
	Usher__V1__CreateWebhookEndpointReply *ep = must_create_endpoint(account, url,
	                                                                 "invitation.created");
	char *invitation;
	invite(account, "rita@events.example", &invitation);
	wait_events(account, "invitation.created", invitation, 1);
	size_t n;
	Usher__V1__Event **ev = list_events(account, &n);
	const Usher__V1__Event *created = find_event(ev, n, "invitation.created", invitation);
	/* The 307 is an attempt that failed; the retry reaches the endpoint itself. */
	Usher__V1__WebhookDelivery *d = wait_delivery(account, ep->endpoint->id, created->id,
	                                              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);
	assert_int_equal(d->attempts, 2);
	assert_int_equal(d->attempt_log[0]->status_code, 307);
	assert_non_null(strstr(d->attempt_log[0]->error, "not followed"));
	assert_int_equal(count_received(&rcv, NULL, NULL), 2);
	assert_int_equal(count_received(&elsewhere, NULL, NULL), 0);
	receiver_stop(&rcv);
	receiver_stop(&elsewhere);
}

/* Waits until nothing is on its way: no event waits in an owner's table, no email in the
 * outbox, no webhook delivery pending. A daemon armed to die then dies at the action of
 * the test, not at leftover work while it starts. */
static void settle(void)
{
	struct timespec until = us_monotonic_after(WAIT_MS);
	while (ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                    "SELECT (SELECT count(*) FROM invitation.events)"
	                    " + (SELECT count(*) FROM invitation.outbox)") +
	               ut_db_number(ut_system_db(&sys, UT_TENANCY),
	                            "SELECT count(*) FROM tenancy.events") +
	               ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                            "SELECT count(*) FROM notification.webhook_deliveries"
	                            " WHERE state = 'pending'") !=
	       0) {
		if (past(&until))
			fail_msg("work was still on its way");
		sleep_ms(50);
	}
}

/* With WEBHOOK_ALLOW_PRIVATE off, a post to a name that resolves to loopback is refused at
 * the connection: the attempt is recorded with why, and the receiver sees nothing. */
static void test_a_post_to_a_private_address_is_refused(void **state)
{
	(void)state;
	settle();
	assert_int_not_equal(ut_system_signal(&sys, UT_NOTIFICATION, SIGTERM, WAIT_MS, NULL), -1);
	sys.extra_env[RESTART_SLOT] = "WEBHOOK_ALLOW_PRIVATE=false";
	ut_system_start(&sys, UT_NOTIFICATION);
	receiver rcv;
	receiver_start(&rcv, "inward", "", NULL);
	char *account = new_account("Inward Co");
	char url[128];
	url_of(&rcv, "localhost", url, sizeof(url));
	Usher__V1__CreateWebhookEndpointReply *ep = must_create_endpoint(account, url,
	                                                                 "invitation.created");
	char *invitation;
	invite(account, "ines@events.example", &invitation);
	wait_events(account, "invitation.created", invitation, 1);
	struct timespec until = us_monotonic_after(WAIT_MS);
	const Usher__V1__WebhookDelivery *attempted = NULL;
	while (attempted == NULL) {
		size_t n;
		Usher__V1__WebhookDelivery **ds = deliveries(account, ep->endpoint->id, &n);
		for (size_t i = 0; i < n; i++) {
			if (ds[i]->n_attempt_log > 0)
				attempted = ds[i];
		}
		if (attempted == NULL && past(&until))
			fail_msg("no delivery was attempted");
		if (attempted == NULL)
			sleep_ms(50);
	}
	assert_int_not_equal(attempted->state,
	                     USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);
	const char *error = attempted->attempt_log[0]->error;
	if (strstr(error, "is not a public address") == NULL)
		fail_msg("the attempt failed otherwise: %s", error);
	assert_int_equal(attempted->attempt_log[0]->status_code, 0);
	assert_int_equal(count_received(&rcv, NULL, NULL), 0);
	delete_endpoint(account, ep->endpoint->id);
	receiver_stop(&rcv);
	assert_int_not_equal(ut_system_signal(&sys, UT_NOTIFICATION, SIGTERM, WAIT_MS, NULL), -1);
	sys.extra_env[RESTART_SLOT] = NULL;
	ut_system_start(&sys, UT_NOTIFICATION);
}

/* Restarts daemon `which` armed to die at fault, runs action (which makes events and may
 * need the daemon: it runs on a thread of its own), waits for the SIGKILL, starts the
 * daemon again without the fault and waits for the action to end. */
static void crash_at(int which, const char *fault, void *(*action)(void *), void *arg)
{
	static char setting[128];
	settle();
	assert_int_not_equal(ut_system_signal(&sys, which, SIGTERM, WAIT_MS, NULL), -1);
	snprintf(setting, sizeof(setting), "USHER_FAULT=%s", fault);
	sys.extra_env[RESTART_SLOT] = setting;
	ut_system_start(&sys, which);
	sys.extra_env[RESTART_SLOT] = NULL;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, action, arg), 0);
	int status = ut_system_wait(&sys, which, WAIT_MS);
	if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("%s did not die at %s", sys.daemons[which].name, fault);
	ut_system_start(&sys, which);
	pthread_join(t, NULL);
}

typedef struct crash_case {
	const char *account;
	const char *email;
	const char *user;      /* grant_through_crash: who is granted */
	char invitation[40];   /* invite_through_crash: the invitation made */
	bool failed;
	us_arena *arena; /* the thread's own */
} crash_case;

/* An invitation whose creation and email reach notificationd while it crashes. The call
 * itself may meet the crash: it is sent again with the same key until it answers. */
static void *invite_through_crash(void *arg)
{
	crash_case *c = arg;
	c->arena = us_arena_new();
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	char *emails[] = {(char *)c->email};
	req.account_id = (char *)c->account;
	req.scope = &org;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.emails = emails;
	req.n_emails = 1;
	char *key = ut_key(c->arena);
	struct timespec until = us_monotonic_after(WAIT_MS);
	for (;;) {
		ProtobufCMessage *out;
		us_status st;
		us_err rc = ut_call(&sys, UT_INVITATION, INV "CreateInvitations", owner, key, &req.base,
		                    &usher__v1__create_invitations_reply__descriptor, c->arena, &out,
		                    &st);
		us_status_clear(&st);
		if (rc == US_OK) {
			snprintf(c->invitation, sizeof(c->invitation), "%s",
			         ((Usher__V1__CreateInvitationsReply *)out)->results[0]->invitation_id);
			break;
		}
		if (past(&until)) {
			c->failed = true;
			break;
		}
		sleep_ms(200);
	}
	us_arena_free(c->arena);
	return NULL;
}

/* A membership whose event is relayed by tenancyd while it crashes. */
static void *grant_through_crash(void *arg)
{
	crash_case *c = arg;
	c->arena = us_arena_new();
	const char *user = c->user; /* made by the test's thread */
	Usher__V1__GrantMembershipRequest req = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	req.account_id = (char *)c->account;
	req.user_id = (char *)user;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.scope = &org;
	req.source = "admin";
	req.system_reason = "test";
	char *key = ut_key(c->arena);
	struct timespec until = us_monotonic_after(WAIT_MS);
	for (;;) {
		us_status st;
		us_err rc = ut_call(&sys, UT_TENANCY, "usher.v1.TenancyService/GrantMembership", NULL,
		                    key, &req.base, &usher__v1__grant_membership_reply__descriptor,
		                    c->arena, NULL, &st);
		us_status_clear(&st);
		if (rc == US_OK)
			break;
		if (past(&until)) {
			c->failed = true;
			break;
		}
		sleep_ms(200);
	}
	us_arena_free(c->arena);
	return NULL;
}

static void test_events_survive_a_kill_of_each_daemon(void **state)
{
	(void)state;
	receiver rcv;
	receiver_start(&rcv, "crashes", "", NULL);
	char *account = new_account("Crash Co");
	/* The owner's membership first, so every later event has a delivery. */
	wait_events(account, "membership.created", NULL, 1);
	char url[128];
	url_of(&rcv, "127.0.0.1", url, sizeof(url));
	Usher__V1__CreateWebhookEndpointReply *ep = must_create_endpoint(account, url, NULL);
	char *granted = ut_create_user(&sys, A, "crash.c@events.example", "Gus Granted", PASSWORD);

	/* invitationd dies after notificationd stored its events, before it forgot them:
	 * they are sent again, and stored once. */
	crash_case a = {.account = account, .email = "crash.a@events.example"};
	crash_at(UT_INVITATION, "events.after_send", invite_through_crash, &a);
	/* notificationd dies storing them, before the commit: they are sent again. */
	crash_case b = {.account = account, .email = "crash.b@events.example"};
	crash_at(UT_NOTIFICATION, "RecordEvents.before_commit", invite_through_crash, &b);
	/* tenancyd dies after handing a membership's event over. */
	crash_case c = {.account = account, .email = "crash.c@events.example", .user = granted};
	crash_at(UT_TENANCY, "events.after_send", grant_through_crash, &c);
	/* notificationd dies after posting a webhook, before recording it: posted again
	 * (at least once, the same webhook-id), recorded once. */
	crash_case d = {.account = account, .email = "crash.d@events.example"};
	crash_at(UT_NOTIFICATION, "webhook.after_post", invite_through_crash, &d);

	assert_false(a.failed || b.failed || c.failed || d.failed);
	const char *invitations[] = {a.invitation, b.invitation, d.invitation};
	for (int i = 0; i < 3; i++) {
		wait_events(account, "invitation.created", invitations[i], 1);
		wait_events(account, "invitation.sent", invitations[i], 1);
	}
	wait_events(account, "membership.created", NULL, 2);
	/* Nothing left behind in the owners' tables. */
	struct timespec until = us_monotonic_after(WAIT_MS);
	while (ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                    "SELECT count(*) FROM invitation.events") +
	               ut_db_number(ut_system_db(&sys, UT_TENANCY),
	                            "SELECT count(*) FROM tenancy.events") !=
	       0) {
		if (past(&until))
			fail_msg("events stayed in the owners' tables");
		sleep_ms(50);
	}

	size_t n;
	Usher__V1__Event **ev = list_events(account, &n);
	/* None doubled: each id once, each change once. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(ev[i]->id, ev[j]->id);
		/* In order: the cursor only grows. */
		if (i > 0)
			assert_true(strtoll(ev[i - 1]->sequence, NULL, 10) <
			            strtoll(ev[i]->sequence, NULL, 10));
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(count_events(ev, n, "invitation.created", invitations[i]), 1);
		assert_int_equal(count_events(ev, n, "invitation.sent", invitations[i]), 1);
		assert_true(strtoll(find_event(ev, n, "invitation.created", invitations[i])->sequence,
		                    NULL, 10) <
		            strtoll(find_event(ev, n, "invitation.sent", invitations[i])->sequence, NULL,
		                    10));
	}
	assert_int_equal(count_events(ev, n, "membership.created", NULL), 2);
	/* None lost, nothing more: the owner's membership, three invitations created and
	 * sent, one membership granted. */
	assert_int_equal(n, 1 + 3 * 2 + 1);

	/* Every event reached the receiver (once or, for the one posted at the crash, more),
	 * each delivery recorded once and succeeded. */
	for (size_t i = 1; i < n; i++) {
		wait_delivery(account, ep->endpoint->id, ev[i]->id,
		              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);
		assert_true(count_received(&rcv, NULL, ev[i]->id) >= 1);
	}
	size_t nd;
	deliveries(account, ep->endpoint->id, &nd);
	assert_int_equal(nd, n - 1);
	assert_int_equal(verify_signatures(&rcv, ep->secret), (long)count_received(&rcv, NULL, NULL));
	receiver_stop(&rcv);
}


/* --- usherctl and HTTP --- */

static json_t *usherctl_json(const char *const *args)
{
	char bin[512];
	ut_bin("usherctl", bin, sizeof(bin));
	char *argv[20] = {bin, "--json"};
	size_t n = 2;
	for (size_t i = 0; args[i] != NULL && n < 19; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	char *out = NULL;
	int status = ut_run(argv, NULL, false, &out);
	if (status != 0)
		fail_msg("usherctl %s %s: exit %d: %s", args[0], args[1], status, out);
	json_t *doc = json_loads(out, 0, NULL);
	if (doc == NULL)
		fail_msg("usherctl %s: not JSON: %s", args[0], out);
	free(out);
	return doc;
}

static long post_json(ut_browser *b, const char *path, json_t *body, json_t **out)
{
	char *text = json_dumps(body, JSON_COMPACT);
	ut_reply r;
	ut_http(b, "POST", path, text, strlen(text), NULL, &r);
	free(text);
	json_decref(body);
	long status = r.status;
	*out = r.json != NULL ? json_incref(r.json) : NULL;
	ut_reply_free(&r);
	return status;
}

static void test_a_service_uses_http_and_an_operator_usherctl(void **state)
{
	(void)state;
	ut_system_start(&sys, UT_GATEWAY);
	ut_system_export_urls(&sys);
	char *account = new_account("Service Co");
	char *other = new_account("Other Co");
	wait_events(account, "membership.created", NULL, 1);
	const char *create[] = {"principals", "create", "hooks", "--methods",
	                        "usher.v1.EventService/*", "--max-role", "member", "--accounts",
	                        account, NULL};
	json_t *p = usherctl_json(create);
	char *bearer = us_arena_printf(A, "Authorization: Bearer %s",
	                               json_string_value(json_object_get(p, "secret")));
	json_decref(p);
	ut_browser *svc = ut_browser_new(&sys);
	ut_browser_add_header(svc, bearer);

	/* The service reads its account's events over HTTP, and no other account's. */
	json_t *doc;
	assert_int_equal(post_json(svc, "/rpc/usher.v1.EventService/ListEvents",
	                           json_pack("{s:s}", "accountId", account), &doc),
	                 200);
	json_t *events = json_object_get(doc, "events");
	assert_true(json_array_size(events) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "type")),
	                    "membership.created");
	json_decref(doc);
	assert_int_equal(post_json(svc, "/rpc/usher.v1.EventService/ListEvents",
	                           json_pack("{s:s}", "accountId", other), &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(post_json(svc, "/rpc/usher.v1.EventService/ListEvents", json_object(), &doc),
	                 403);
	json_decref(doc);

	/* It registers an endpoint over HTTP; a bad URL is a 400 naming the field. */
	receiver rcv;
	receiver_start(&rcv, "service", "", NULL);
	char url[128];
	url_of(&rcv, "127.0.0.1", url, sizeof(url));
	assert_int_equal(post_json(svc, "/rpc/usher.v1.EventService/CreateWebhookEndpoint",
	                           json_pack("{s:s, s:s}", "accountId", account, "url",
	                                     "http://me:pw@127.0.0.1/x"),
	                           &doc),
	                 400);
	char *text = json_dumps(doc, 0);
	assert_non_null(strstr(text, "url"));
	free(text);
	json_decref(doc);
	assert_int_equal(post_json(svc, "/rpc/usher.v1.EventService/CreateWebhookEndpoint",
	                           json_pack("{s:s, s:s, s:[s]}", "accountId", account, "url", url,
	                                     "types", "invitation.created"),
	                           &doc),
	                 200);
	char *old_secret = us_arena_strdup(A, json_string_value(json_object_get(doc, "secret")));
	char *endpoint = us_arena_strdup(
	        A, json_string_value(json_object_get(json_object_get(doc, "endpoint"), "id")));
	json_decref(doc);

	char *first;
	invite(account, "sam@events.example", &first);
	wait_events(account, "invitation.created", first, 1);
	size_t n;
	Usher__V1__Event **ev = list_events(account, &n);
	const Usher__V1__Event *created = find_event(ev, n, "invitation.created", first);
	Usher__V1__WebhookDelivery *d = wait_delivery(account, endpoint, created->id,
	                                              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);

	/* The operator sees the log with usherctl, and redelivers: the same event again. */
	const char *list[] = {"events", "list", "--account", account, "--type", "invitation.created",
	                      NULL};
	doc = usherctl_json(list);
	assert_int_equal(json_array_size(json_object_get(doc, "events")), 1);
	json_decref(doc);
	const char *log[] = {"webhooks", "deliveries", endpoint, NULL};
	doc = usherctl_json(log);
	assert_int_equal(json_array_size(json_object_get(doc, "deliveries")), 1);
	json_decref(doc);
	const char *again[] = {"webhooks", "redeliver", d->id, NULL};
	json_decref(usherctl_json(again));
	struct timespec until = us_monotonic_after(WAIT_MS);
	while (count_received(&rcv, NULL, created->id) < 2) {
		if (past(&until))
			fail_msg("the redelivery did not come");
		sleep_ms(50);
	}

	/* Rotation with overlap: while it lasts, each request is signed with both secrets, so
	 * a receiver holding either verifies it. */
	size_t before = count_received(&rcv, NULL, NULL);
	assert_int_equal(verify_signatures(&rcv, old_secret), (long)before);
	const char *rotate[] = {"webhooks", "rotate-secret", endpoint, "--overlap-seconds", "3600",
	                        NULL};
	doc = usherctl_json(rotate);
	char *new_secret = us_arena_strdup(A, json_string_value(json_object_get(doc, "secret")));
	assert_string_not_equal(new_secret, old_secret);
	json_decref(doc);
	char *second;
	invite(account, "sue@events.example", &second);
	wait_events(account, "invitation.created", second, 1);
	ev = list_events(account, &n);
	wait_delivery(account, endpoint, find_event(ev, n, "invitation.created", second)->id,
	              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);
	json_t *all = received(&rcv);
	receiver after = {0};
	snprintf(after.log, sizeof(after.log), "%s/service-after.jsonl", sys.dir);
	FILE *f = fopen(after.log, "w");
	assert_non_null(f);
	for (size_t k = before; k < json_array_size(all); k++) {
		json_t *req = json_array_get(all, k);
		const char *sig = json_string_value(
		        json_object_get(json_object_get(req, "headers"), "webhook-signature"));
		assert_non_null(strchr(sig, ' ')); /* two signatures */
		char *line = json_dumps(req, JSON_COMPACT);
		fprintf(f, "%s\n", line);
		free(line);
	}
	fclose(f);
	long signed_after = (long)(json_array_size(all) - before);
	json_decref(all);
	assert_true(signed_after >= 1);
	assert_int_equal(verify_signatures(&after, old_secret), signed_after);
	assert_int_equal(verify_signatures(&after, new_secret), signed_after);
	receiver_stop(&rcv);

	/* The service deletes its endpoint. */
	assert_int_equal(post_json(svc, "/rpc/usher.v1.EventService/DeleteWebhookEndpoint",
	                           json_pack("{s:s, s:s}", "accountId", account, "id", endpoint),
	                           &doc),
	                 200);
	json_decref(doc);
	ut_browser_free(svc);
}

/* People manage their account's endpoints over HTTP only with webhooks.manage, which
 * notificationd asks tenancyd about: a member is refused and nothing is made; an admin
 * creates, lists and deletes for their account, and reaches no other account and no
 * global endpoint. */
static long as_person(ut_browser *b, const char *method, json_t *body, json_t **out)
{
	return post_json(b, us_arena_printf(A, "/rpc/usher.v1.EventService/%s", method), body, out);
}

static size_t endpoints_seen_by_system(const char *account)
{
	Usher__V1__ListWebhookEndpointsRequest req = USHER__V1__LIST_WEBHOOK_ENDPOINTS_REQUEST__INIT;
	req.account_id = (char *)account;
	ProtobufCMessage *out;
	us_status st;
	if (ut_call(&sys, UT_NOTIFICATION, EV "ListWebhookEndpoints", NULL, NULL, &req.base,
	            &usher__v1__list_webhook_endpoints_reply__descriptor, A, &out, &st) != US_OK)
		fail_msg("ListWebhookEndpoints: %s", st.message);
	us_status_clear(&st);
	return ((Usher__V1__ListWebhookEndpointsReply *)out)->n_endpoints;
}

static ut_browser *signed_in(const char *email, const char *account, Usher__V1__Role role)
{
	char *user = ut_create_user(&sys, A, email, "Webhook Person", PASSWORD);
	ut_grant(&sys, A, account, user, role, NULL);
	ut_browser *b = ut_browser_new(&sys);
	ut_browser_add_header(b, us_arena_printf(A, "Authorization: Bearer %s",
	                                         ut_login(&sys, A, email, PASSWORD)));
	return b;
}

static void test_people_manage_endpoints_only_with_the_permission(void **state)
{
	(void)state; /* the gateway runs since the test before */
	char *account = new_account("People Co");
	char *other = new_account("Elsewhere Co");
	ut_browser *member = signed_in("mo.member@events.example", account, USHER__V1__ROLE__ROLE_MEMBER);
	ut_browser *admin = signed_in("ada.admin@events.example", account, USHER__V1__ROLE__ROLE_ADMIN);
	const char *url = "https://hooks.example/people";
	json_t *doc;

	/* A member: refused, and nothing is made. */
	assert_int_equal(as_person(member, "CreateWebhookEndpoint",
	                           json_pack("{s:s, s:s}", "accountId", account, "url", url), &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(as_person(member, "ListWebhookEndpoints",
	                           json_pack("{s:s}", "accountId", account), &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(as_person(member, "ListEvents", json_pack("{s:s}", "accountId", account),
	                           &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(endpoints_seen_by_system(account), 0);

	/* An admin: creates, lists and deletes for their account... */
	assert_int_equal(as_person(admin, "CreateWebhookEndpoint",
	                           json_pack("{s:s, s:s, s:[s]}", "accountId", account, "url", url,
	                                     "types", "invitation.created"),
	                           &doc),
	                 200);
	assert_int_equal(strncmp(json_string_value(json_object_get(doc, "secret")), "whsec_", 6), 0);
	char *id = us_arena_strdup(
	        A, json_string_value(json_object_get(json_object_get(doc, "endpoint"), "id")));
	json_decref(doc);
	assert_int_equal(endpoints_seen_by_system(account), 1);
	assert_int_equal(as_person(admin, "ListWebhookEndpoints",
	                           json_pack("{s:s}", "accountId", account), &doc),
	                 200);
	json_t *listed = json_object_get(doc, "endpoints");
	assert_int_equal(json_array_size(listed), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(listed, 0), "id")), id);
	json_decref(doc);
	assert_int_equal(as_person(admin, "ListEvents", json_pack("{s:s}", "accountId", account),
	                           &doc),
	                 200);
	json_decref(doc);

	/* ...but not for another account, nor a global endpoint, nor another's endpoint by id. */
	assert_int_equal(as_person(admin, "CreateWebhookEndpoint",
	                           json_pack("{s:s, s:s}", "accountId", other, "url", url), &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(as_person(admin, "CreateWebhookEndpoint", json_pack("{s:s}", "url", url),
	                           &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(as_person(admin, "DeleteWebhookEndpoint",
	                           json_pack("{s:s, s:s}", "accountId", other, "id", id), &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(endpoints_seen_by_system(other), 0);
	assert_int_equal(as_person(member, "DeleteWebhookEndpoint",
	                           json_pack("{s:s, s:s}", "accountId", account, "id", id), &doc),
	                 403);
	json_decref(doc);
	assert_int_equal(endpoints_seen_by_system(account), 1);
	assert_int_equal(as_person(admin, "DeleteWebhookEndpoint",
	                           json_pack("{s:s, s:s}", "accountId", account, "id", id), &doc),
	                 200);
	json_decref(doc);
	assert_int_equal(endpoints_seen_by_system(account), 0);
	ut_browser_free(member);
	ut_browser_free(admin);
}

/* An endpoint failing for days (its failing_since moved back: the clock, controlled) is
 * disabled by its next failure, with a notice in the log; enabled again, a redelivery
 * reaches it. */
static void test_an_endpoint_failing_for_days_is_disabled_with_a_notice(void **state)
{
	(void)state;
	receiver rcv = {.port = ut_free_port()};
	char *account = new_account("Down Co");
	char url[128];
	url_of(&rcv, "127.0.0.1", url, sizeof(url));
	Usher__V1__CreateWebhookEndpointReply *ep = must_create_endpoint(account, url,
	                                                                 "invitation.created");
	/* Nobody listens: every attempt fails. */
	char *first;
	invite(account, "dora@events.example", &first);
	wait_events(account, "invitation.created", first, 1);
	size_t n;
	Usher__V1__Event **ev = list_events(account, &n);
	const char *event = find_event(ev, n, "invitation.created", first)->id;
	struct timespec until = us_monotonic_after(WAIT_MS);
	while (ut_db_number(ut_system_db(&sys, UT_NOTIFICATION),
	                    "SELECT count(*) FROM notification.webhook_endpoints"
	                    " WHERE id = '%s' AND failing_since IS NOT NULL",
	                    ep->endpoint->id) != 1) {
		if (past(&until))
			fail_msg("the endpoint was not marked failing");
		sleep_ms(50);
	}
	/* Retried, still pending: the gauges show it (refreshed every few seconds). */
	until = us_monotonic_after(WAIT_MS);
	while (notification_metric("usher_webhook_backlog", NULL) < 1 ||
	       notification_metric("usher_webhook_oldest_age_seconds", NULL) <= 0) {
		if (past(&until))
			fail_msg("usher_webhook_backlog or usher_webhook_oldest_age_seconds stayed at 0");
		sleep_ms(200);
	}
	double failed0 = notification_metric(DELIVERIES, "failed");
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "UPDATE notification.webhook_endpoints SET failing_since = now() - interval '6 days'"
	         " WHERE id = '%s'",
	         ep->endpoint->id);
	ut_db_admin_exec(ut_system_db(&sys, UT_NOTIFICATION), sql);
	/* The next failure disables it, and its delivery ends. */
	Usher__V1__WebhookDelivery *d = wait_delivery(account, ep->endpoint->id, event,
	                                              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_FAILED);
	assert_true(d->attempts >= 2);
	wait_metric(DELIVERIES, "failed", failed0 + 1); /* others may fail meanwhile */
	assert_int_not_equal(ut_log_wait(&sys.daemons[UT_NOTIFICATION], "webhook endpoint disabled",
	                                 0, WAIT_MS),
	                     0);
	const char *show[] = {"webhooks", "list", "--account", account, NULL};
	json_t *doc = usherctl_json(show);
	json_t *e = json_array_get(json_object_get(doc, "endpoints"), 0);
	assert_false(json_is_true(json_object_get(e, "enabled")));
	assert_non_null(strstr(json_string_value(json_object_get(e, "disabledReason")),
	                       "failing since"));
	json_decref(doc);
	/* A disabled endpoint gets no new deliveries. */
	char *second;
	invite(account, "dan@events.example", &second);
	wait_events(account, "invitation.created", second, 1);
	size_t nd;
	deliveries(account, ep->endpoint->id, &nd);
	assert_int_equal(nd, 1);

	/* The receiver is back; enabled again, a redelivery reaches it. */
	receiver_start_on(&rcv, "down", "", NULL);
	const char *enable[] = {"webhooks", "enable", ep->endpoint->id, NULL};
	json_decref(usherctl_json(enable));
	const char *again[] = {"webhooks", "redeliver", d->id, NULL};
	json_decref(usherctl_json(again));
	wait_delivery(account, ep->endpoint->id, event,
	              USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED);
	assert_int_equal(count_received(&rcv, NULL, event), 1);
	receiver_stop(&rcv);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "events");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s", spool);
	sys.extra_env[0] = spool_setting;
	/* A quick retry schedule: the test waits on conditions, not on the clock. */
	sys.extra_env[1] = "WEBHOOK_RETRY_BASE_MS=" US_LIMIT_TEXT(RETRY_BASE_MS);
	sys.extra_env[2] = "WEBHOOK_RETRY_MAX_MS=2000";
	sys.extra_env[3] = "WEBHOOK_POLL_MS=50";
	sys.extra_env[4] = "RECOVERY_INTERVAL_MS=200";
	for (int d = 0; d < UT_GATEWAY; d++)
		ut_system_start(&sys, d);
	owner = ut_create_user(&sys, A, owner_email, "Olivia Owner", PASSWORD);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_accept_makes_one_event_and_one_signed_delivery),
		cmocka_unit_test(test_a_failing_receiver_gets_retries_then_the_delivery_succeeds),
		cmocka_unit_test(test_bad_urls_are_refused_at_registration),
		cmocka_unit_test(test_a_retried_registration_makes_one_endpoint_and_keeps_no_secret),
		cmocka_unit_test(test_a_redirect_to_another_host_is_not_followed),
		cmocka_unit_test(test_a_post_to_a_private_address_is_refused),
		cmocka_unit_test(test_events_survive_a_kill_of_each_daemon),
		cmocka_unit_test(test_a_service_uses_http_and_an_operator_usherctl),
		cmocka_unit_test(test_people_manage_endpoints_only_with_the_permission),
		cmocka_unit_test(test_an_endpoint_failing_for_days_is_disabled_with_a_notice),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
