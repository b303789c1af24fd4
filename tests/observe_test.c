/* What an operator sees of the five daemons, started for real against Postgres:
 *
 * - every daemon's admin HTTP answers /livez, /readyz and /metrics; the metrics parse with
 *   the Prometheus client's own parser (tests/support/prom_parse.py) and their counters
 *   move as calls are made;
 * - /readyz turns 503 when a required peer stops and on SIGTERM (before the RPC socket
 *   closes: the daemon still answers over RPC meanwhile), and 200 again after; the times
 *   are printed, not judged (the checks run every 500 ms by design);
 * - a request id sent to the gateway comes back on the response (errors too) and is on
 *   the log lines of every daemon the request reaches (the audit route's two daemons
 *   too), with the traceparent's trace id;
 *   a malformed one is replaced; every log line of every daemon is one JSON object;
 * - the gateway serves IPv6 and IPv4 on HTTP_ADDRESS "::".
 *
 * Postgres going away is in pg_outage_test (it stops the cluster every test shares). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"
#include "usher/v1/health.pb-c.h"

#define PASSWORD "correct horse battery"
#define OWNER_EMAIL "owner@observe.example"
/* Generous: a slow, shared machine under sanitizers must not fail a test that only
 * asks whether something happens. */
#define WAIT_MS 30000
#define DRAIN_DELAY "DRAIN_DELAY_MS=1500"

static ut_system sys;
static us_arena *A;
static char *owner, *account;
static ut_browser *admin;

/* --- metrics --- */

/* The samples of a daemon's /metrics, as prom_parse.py prints them. */
typedef struct samples {
	json_t *list; /* array of {"name", "labels", "value"} */
} samples;

static samples scrape(int which)
{
	char *body = NULL;
	long status = ut_admin_get(&sys.daemons[which], "/metrics", &body);
	if (status != 200)
		fail_msg("/metrics of %s answered %ld", sys.daemons[which].name, status);
	char path[256], script[512], command[1024];
	snprintf(path, sizeof(path), "%s/metrics-%s.txt", sys.dir, sys.daemons[which].name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	free(body);
	snprintf(script, sizeof(script), "%s/tests/support/prom_parse.py", getenv("USHER_SOURCE_DIR"));
	snprintf(command, sizeof(command), "/usr/bin/python3 '%s' < '%s'", script, path);
	char *const argv[] = {"/bin/sh", "-c", command, NULL};
	char *out = NULL;
	int rc = ut_run(argv, NULL, true, &out);
	if (rc != 0)
		fail_msg("the Prometheus parser refused the /metrics of %s: %s", sys.daemons[which].name,
		         out);
	samples s = {json_array()};
	for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		json_t *doc = json_loads(line, 0, NULL);
		if (doc == NULL)
			fail_msg("prom_parse.py printed \"%s\"", line);
		json_array_append_new(s.list, doc);
	}
	free(out);
	return s;
}

/* The value of the sample name whose labels include the given pairs (label, value, ...,
 * NULL); -1 when there is none. */
static double sample(const samples *s, const char *name, ...)
{
	size_t i;
	json_t *doc;
	json_array_foreach(s->list, i, doc)
	{
		if (strcmp(json_string_value(json_object_get(doc, "name")), name) != 0)
			continue;
		json_t *labels = json_object_get(doc, "labels");
		bool all = true;
		va_list ap;
		va_start(ap, name);
		for (const char *k; all && (k = va_arg(ap, const char *)) != NULL;) {
			const char *v = va_arg(ap, const char *);
			const char *have = json_string_value(json_object_get(labels, k));
			all = have != NULL && strcmp(have, v) == 0;
		}
		va_end(ap);
		if (all)
			return json_number_value(json_object_get(doc, "value"));
	}
	return -1;
}

static void samples_free(samples *s)
{
	json_decref(s->list);
}

/* --- HTTP through the gateway --- */

static void post_json(ut_browser *b, const char *path, json_t *body, ut_reply *out)
{
	char *text = json_dumps(body, JSON_COMPACT);
	ut_http(b, "POST", path, text, strlen(text), NULL, out);
	free(text);
	json_decref(body);
}

/* The value of a response header (case-insensitive name), in arena, or NULL. */
static char *header(const ut_reply *r, const char *name)
{
	size_t n = strlen(name);
	for (const char *line = r->headers; line != NULL && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			v += strspn(v, " ");
			size_t len = strcspn(v, "\r\n");
			return us_arena_printf(A, "%.*s", (int)len, v);
		}
	}
	return NULL;
}

static void invite(const char *request_id, const char *traceparent, const char *email)
{
	char line[256];
	ut_browser_clear_headers(admin);
	snprintf(line, sizeof(line), "X-Request-Id: %s", request_id);
	ut_browser_add_header(admin, line);
	if (traceparent != NULL) {
		snprintf(line, sizeof(line), "traceparent: %s", traceparent);
		ut_browser_add_header(admin, line);
	}
	ut_reply r;
	post_json(admin, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          json_pack("{s:s, s:{s:b}, s:s, s:[s]}", "accountId", account, "scope",
	                    "organization", 1, "role", "ROLE_MEMBER", "emails", email),
	          &r);
	if (r.status != 200)
		fail_msg("CreateInvitations answered %ld: %s", r.status, r.body);
	assert_string_equal(header(&r, "X-Request-Id"), request_id);
	ut_reply_free(&r);
	ut_browser_clear_headers(admin);
}

/* --- the tests --- */

static void test_every_daemon_is_live_and_ready(void **state)
{
	(void)state;
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		const ut_daemon *d = &sys.daemons[i];
		char *body = NULL;
		assert_int_equal(ut_admin_get(d, "/livez", NULL), 200);
		int64_t took = ut_admin_wait_ready(d, true, WAIT_MS);
		if (took < 0)
			fail_msg("%s never became ready", d->name);
		assert_int_equal(ut_admin_get(d, "/readyz", &body), 200);
		assert_string_equal(body, "ready\n");
		free(body);
		assert_int_equal(ut_admin_get(d, "/nowhere", NULL), 404);
	}
	/* The gateway's public /readyz says the same. */
	ut_reply r;
	ut_http(admin, "GET", "/readyz", NULL, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	ut_reply_free(&r);
}

static void test_metrics_parse_and_counters_move(void **state)
{
	(void)state;
	samples gw0 = scrape(UT_GATEWAY), inv0 = scrape(UT_INVITATION);
	samples not0 = scrape(UT_NOTIFICATION);
	const char *create = "usher.v1.InvitationService/CreateInvitations";
	double calls0 = sample(&inv0, "usher_rpc_requests_total", "service", "usher-invitationd",
	                       "method", create, "code", "OK", NULL);
	double timed0 = sample(&inv0, "usher_rpc_request_duration_seconds_count", "service",
	                       "usher-invitationd", "method", create, NULL);
	double trips0 = sample(&inv0, "usher_db_round_trips_total", "service", "usher-invitationd", NULL);
	double http0 = sample(&gw0, "usher_http_requests_total", "route", "/rpc/{method}", "status",
	                      "200", NULL);
	double sent0 = sample(&not0, "usher_email_delivered_total", NULL);

	invite("metrics-1", NULL, "metrics@observe.example");

	samples gw1 = scrape(UT_GATEWAY), inv1 = scrape(UT_INVITATION);
	/* A series that did not exist before counts from 0. */
	assert_true(sample(&inv1, "usher_rpc_requests_total", "service", "usher-invitationd",
	                   "method", create, "code", "OK", NULL) == (calls0 < 0 ? 0 : calls0) + 1);
	assert_true(sample(&inv1, "usher_rpc_request_duration_seconds_count", "service",
	                   "usher-invitationd", "method", create, NULL) == (timed0 < 0 ? 0 : timed0) + 1);
	assert_true(sample(&inv1, "usher_rpc_request_duration_seconds_bucket", "service",
	                   "usher-invitationd", "method", create, "le", "+Inf", NULL) >= 1);
	assert_true(sample(&inv1, "usher_db_round_trips_total", "service", "usher-invitationd",
	                   NULL) > trips0);
	assert_true(sample(&gw1, "usher_http_requests_total", "route", "/rpc/{method}", "status",
	                   "200", NULL) == (http0 < 0 ? 0 : http0) + 1);
	assert_true(sample(&gw1, "usher_http_request_duration_seconds_count", "route",
	                   "/rpc/{method}", NULL) >= 1);
	/* What every daemon exposes. */
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		samples s = scrape(i);
		char service[64];
		snprintf(service, sizeof(service), "usher-%sd", sys.daemons[i].name);
		assert_true(sample(&s, "usher_build_info", "service", service, NULL) == 1);
		assert_true(sample(&s, "usher_ready", "service", service, NULL) == 1);
		assert_true(sample(&s, "usher_rpc_workers", "service", service, NULL) == 4);
		/* Present (a missing sample is -1). */
		assert_true(sample(&s, "usher_rpc_workers_busy", "service", service, NULL) >= 0);
		assert_true(sample(&s, "usher_rpc_in_flight", "service", service, NULL) >= 0);
		if (i != UT_GATEWAY)
			assert_true(sample(&s, "usher_db_errors_total", "service", service, NULL) >= 0);
		samples_free(&s);
		/* The upkeep's first round runs at start-up. */
		int64_t until = us_monotonic_ms() + WAIT_MS;
		double runs = i == UT_GATEWAY ? 1 : -1;
		while (runs < 1 && us_monotonic_ms() < until) {
			samples u = scrape(i);
			runs = sample(&u, "usher_upkeep_runs_total", "service", service, "job",
			              "idempotency_keys", NULL);
			samples_free(&u);
			if (runs < 1)
				usleep(100 * 1000);
		}
		if (runs < 1)
			fail_msg("%s counted no upkeep run", service);
	}

	/* The invitation's email is delivered (to the spool): the counter moves, and the
	 * gauges the readiness thread refreshes appear. */
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	double sent = -1, depth = -1, backlog = -1;
	while (us_monotonic_ms() < deadline) {
		samples n = scrape(UT_NOTIFICATION), v = scrape(UT_INVITATION);
		sent = sample(&n, "usher_email_delivered_total", NULL);
		depth = sample(&n, "usher_email_queue_depth", NULL);
		backlog = sample(&v, "usher_outbox_backlog", "service", "usher-invitationd", NULL);
		bool claims = sample(&v, "usher_accept_claims_in_progress", NULL) >= 0;
		samples_free(&n);
		samples_free(&v);
		if (sent >= (sent0 < 0 ? 0 : sent0) + 1 && depth >= 0 && backlog >= 0 && claims)
			break;
		usleep(100 * 1000);
	}
	if (!(sent >= (sent0 < 0 ? 0 : sent0) + 1))
		fail_msg("usher_email_delivered_total did not move (%g before, %g now)", sent0, sent);
	assert_true(depth >= 0);
	assert_true(backlog >= 0);
	print_message("metrics: CreateInvitations counted by invitationd and the gateway; "
	              "delivered emails %g -> %g\n", sent0, sent);
	samples_free(&gw0);
	samples_free(&inv0);
	samples_free(&not0);
	samples_free(&gw1);
	samples_free(&inv1);
}

/* The line number of the first line in d's log holding both needles, or 0. */
static long log_line_with(const ut_daemon *d, const char *a, const char *b)
{
	FILE *f = fopen(d->log_path, "r");
	if (f == NULL)
		return 0;
	char line[8192];
	long n = 0, found = 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
		n++;
		if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
			found = n;
	}
	fclose(f);
	return found;
}

static void test_request_id_reaches_every_daemon(void **state)
{
	(void)state;
	uint8_t raw[8];
	char suffix[17], invite_id[64], reset_id[64];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(suffix, sizeof(suffix), raw, sizeof(raw));
	snprintf(invite_id, sizeof(invite_id), "obs-invite-%s", suffix);
	snprintf(reset_id, sizeof(reset_id), "obs-reset-%s", suffix);
	const char *trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
	char traceparent[80];
	snprintf(traceparent, sizeof(traceparent), "00-%s-00f067aa0ba902b7-01", trace_id);

	/* An invitation: the gateway, invitationd, tenancyd (may the actor invite?), and
	 * notificationd, which the outbox relay hands the email to under the request's id. */
	invite(invite_id, traceparent, "traced@observe.example");
	const int invite_flow[] = {UT_GATEWAY, UT_INVITATION, UT_TENANCY, UT_NOTIFICATION};
	for (size_t i = 0; i < sizeof(invite_flow) / sizeof(invite_flow[0]); i++) {
		const ut_daemon *d = &sys.daemons[invite_flow[i]];
		char needle[96];
		snprintf(needle, sizeof(needle), "\"request_id\":\"%s\"", invite_id);
		if (ut_log_wait(d, needle, 0, WAIT_MS) == 0)
			fail_msg("no line of %s names request %s", d->name, invite_id);
		/* The trace continues through every hop the request makes itself (the outbox's
		 * later one keeps only the id). */
		if (invite_flow[i] != UT_NOTIFICATION && log_line_with(d, needle, trace_id) == 0)
			fail_msg("the lines of %s about %s lack trace %s", d->name, invite_id, trace_id);
	}
	/* The gateway's access log line: at info, with the route, never the path. */
	char access[96];
	snprintf(access, sizeof(access), "\"request_id\":\"%s\"", invite_id);
	assert_true(log_line_with(&sys.daemons[UT_GATEWAY], access, "\"msg\":\"http request\"") > 0);

	/* A password reset: the gateway, identityd, and notificationd (the email). */
	ut_browser *anon = ut_browser_new(&sys);
	char line[128];
	snprintf(line, sizeof(line), "X-Request-Id: %s", reset_id);
	ut_browser_add_header(anon, line);
	ut_reply r;
	post_json(anon, "/password-reset", json_pack("{s:s}", "email", OWNER_EMAIL), &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "X-Request-Id"), reset_id);
	ut_reply_free(&r);
	const int reset_flow[] = {UT_GATEWAY, UT_IDENTITY, UT_NOTIFICATION};
	for (size_t i = 0; i < sizeof(reset_flow) / sizeof(reset_flow[0]); i++) {
		const ut_daemon *d = &sys.daemons[reset_flow[i]];
		char needle[96];
		snprintf(needle, sizeof(needle), "\"request_id\":\"%s\"", reset_id);
		if (ut_log_wait(d, needle, 0, WAIT_MS) == 0)
			fail_msg("no line of %s names request %s", d->name, reset_id);
	}

	/* The audit route, whose page merges tenancyd's and invitationd's: both see its id. */
	char audit_id[64], path[128];
	snprintf(audit_id, sizeof(audit_id), "obs-audit-%s", suffix);
	snprintf(line, sizeof(line), "X-Request-Id: %s", audit_id);
	ut_browser_clear_headers(admin);
	ut_browser_add_header(admin, line);
	snprintf(path, sizeof(path), "/accounts/%s/audit", account);
	ut_http(admin, "GET", path, NULL, 0, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s answered %ld: %s", path, r.status, r.body);
	assert_string_equal(header(&r, "X-Request-Id"), audit_id);
	ut_reply_free(&r);
	ut_browser_clear_headers(admin);
	const int audit_flow[] = {UT_TENANCY, UT_INVITATION};
	for (size_t i = 0; i < sizeof(audit_flow) / sizeof(audit_flow[0]); i++) {
		const ut_daemon *d = &sys.daemons[audit_flow[i]];
		char needle[96];
		snprintf(needle, sizeof(needle), "\"request_id\":\"%s\"", audit_id);
		if (ut_log_wait(d, needle, 0, WAIT_MS) == 0)
			fail_msg("no line of %s names request %s", d->name, audit_id);
	}

	/* Errors carry it too; a malformed one is replaced by a fresh one. */
	ut_browser_clear_headers(anon);
	ut_browser_add_header(anon, "X-Request-Id: error-case-1");
	ut_http(anon, "GET", "/no/such/page", NULL, 0, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(header(&r, "X-Request-Id"), "error-case-1");
	ut_reply_free(&r);
	ut_browser_clear_headers(anon);
	ut_browser_add_header(anon, "X-Request-Id: no spaces {or} \"quotes\"");
	ut_http(anon, "GET", "/livez", NULL, 0, NULL, &r);
	const char *fresh = header(&r, "X-Request-Id");
	assert_non_null(fresh);
	assert_int_equal(strlen(fresh), 32);
	assert_int_equal(strspn(fresh, "0123456789abcdef"), 32);
	ut_reply_free(&r);
	ut_browser_free(anon);

	/* Every line every daemon wrote is one JSON object. */
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		FILE *f = fopen(sys.daemons[i].log_path, "r");
		assert_non_null(f);
		char buf[16384];
		long n = 0;
		while (fgets(buf, sizeof(buf), f) != NULL) {
			n++;
			if (buf[0] != '{')
				continue; /* a sanitizer's or libmicrohttpd's own line */
			json_t *doc = json_loads(buf, 0, NULL);
			if (doc == NULL)
				fail_msg("line %ld of %s is not JSON: %s", n, sys.daemons[i].name, buf);
			json_decref(doc);
		}
		fclose(f);
	}
}

static void test_readyz_follows_a_required_peer(void **state)
{
	(void)state;
	for (int i = 0; i < UT_N_DAEMONS; i++)
		assert_true(ut_admin_wait_ready(&sys.daemons[i], true, WAIT_MS) >= 0);
	/* tenancyd stops: the gateway and invitationd cannot serve without it. */
	assert_int_equal(ut_system_signal(&sys, UT_TENANCY, SIGTERM, 60000, NULL), 0);
	int64_t gw = ut_admin_wait_ready(&sys.daemons[UT_GATEWAY], false, WAIT_MS);
	int64_t inv = ut_admin_wait_ready(&sys.daemons[UT_INVITATION], false, WAIT_MS);
	if (gw < 0 || inv < 0)
		fail_msg("/readyz stayed 200 with tenancyd stopped (gateway %lld, invitationd %lld)",
		         (long long)gw, (long long)inv);
	char *body = NULL;
	assert_int_equal(ut_admin_get(&sys.daemons[UT_GATEWAY], "/readyz", &body), 503);
	assert_non_null(strstr(body, "usher-tenancyd"));
	free(body);
	ut_reply r;
	ut_http(admin, "GET", "/readyz", NULL, 0, NULL, &r);
	assert_int_equal(r.status, 503);
	ut_reply_free(&r);
	/* identityd does not need it. */
	assert_int_equal(ut_admin_get(&sys.daemons[UT_IDENTITY], "/readyz", NULL), 200);

	int64_t started = us_monotonic_ms();
	ut_system_start(&sys, UT_TENANCY);
	int64_t gw_back = ut_admin_wait_ready(&sys.daemons[UT_GATEWAY], true, WAIT_MS);
	int64_t inv_back = ut_admin_wait_ready(&sys.daemons[UT_INVITATION], true, WAIT_MS);
	assert_true(gw_back >= 0 && inv_back >= 0);
	print_message("tenancyd stopped: gateway unready after %lld ms, invitationd after %lld ms; "
	              "started again: both ready %lld ms after its start began\n",
	              (long long)gw, (long long)inv, (long long)(us_monotonic_ms() - started));
}

static void test_readyz_turns_false_first_on_sigterm(void **state)
{
	(void)state;
	ut_daemon *d = &sys.daemons[UT_NOTIFICATION];
	assert_true(ut_admin_wait_ready(d, true, WAIT_MS) >= 0);
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	int64_t took = ut_admin_wait_ready(d, false, WAIT_MS);
	if (took < 0)
		fail_msg("/readyz of %s stayed 200 after SIGTERM", d->name);
	char *body = NULL;
	long status = ut_admin_get(d, "/readyz", &body);
	/* Its RPC socket still answers: readiness went first (DRAIN_DELAY_MS). */
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_status_init(&st);
	us_err rc = ut_call(&sys, UT_NOTIFICATION, "usher.v1.Health/Check", NULL, NULL, &req.base,
	                    &usher__v1__health_check_response__descriptor, A, &reply, &st);
	us_status_clear(&st);
	assert_int_equal(status, 503);
	assert_non_null(strstr(body, "draining"));
	free(body);
	assert_int_equal(rc, US_OK);
	print_message("SIGTERM: /readyz 503 after %lld ms while RPC still answered\n", (long long)took);
	assert_int_equal(ut_system_signal(&sys, UT_NOTIFICATION, SIGTERM, 60000, NULL), 0);
	ut_system_start(&sys, UT_NOTIFICATION);
	assert_true(ut_admin_wait_ready(d, true, WAIT_MS) >= 0);
}

static void test_gateway_serves_ipv6_and_ipv4(void **state)
{
	(void)state;
	int port = ut_gateway_port(&sys);
	char url[96];
	snprintf(url, sizeof(url), "http://[::1]:%d/livez", port);
	assert_int_equal(ut_url_get(url, NULL), 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/livez", port);
	assert_int_equal(ut_url_get(url, NULL), 200);
}

/* SIGHUP reloads what --help says and nothing more is promised: the caller policy in
 * every daemon (ut_system_trust() waits for each to log it), and tenancyd's two files too
 * (services/tenancy/tests/matrix_test.c). */
static void test_help_promises_only_the_reload_there_is(void **state)
{
	(void)state;
	for (int i = 0; i < UT_N_DAEMONS; i++) {
		char bin[512], name[64];
		snprintf(name, sizeof(name), "usher-%sd", sys.daemons[i].name);
		ut_bin(name, bin, sizeof(bin));
		char *const argv[] = {bin, "--help", NULL};
		char *out = NULL;
		assert_int_equal(ut_run(argv, NULL, false, &out), 0);
		const char *promise = i == UT_TENANCY
		                              ? "SIGHUP: reread RPC_CALLERS_FILE, PERMISSION_MATRIX_FILE "
		                                "and PRODUCT_CATALOGUE_FILE.\n"
		                              : "SIGHUP: reread RPC_CALLERS_FILE.\n";
		if (strstr(out, promise) == NULL)
			fail_msg("%s --help does not say \"%s\":\n%s", name, promise, out);
		assert_non_null(strstr(out, "ADMIN_LISTEN"));
		free(out);
	}
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "observe");
	sys.extra_env[0] = "HTTP_ADDRESS=::";
	sys.extra_env[1] = DRAIN_DELAY;
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, OWNER_EMAIL, "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Observe Team", "texting");
	admin = ut_browser_new(&sys);
	ut_reply r;
	post_json(admin, "/login", json_pack("{s:s, s:s}", "email", OWNER_EMAIL, "password", PASSWORD),
	          &r);
	assert_int_equal(r.status, 200);
	ut_browser_set_csrf(admin, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_browser_free(admin);
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_promises_only_the_reload_there_is),
		cmocka_unit_test(test_every_daemon_is_live_and_ready),
		cmocka_unit_test(test_metrics_parse_and_counters_move),
		cmocka_unit_test(test_request_id_reaches_every_daemon),
		cmocka_unit_test(test_gateway_serves_ipv6_and_ipv4),
		cmocka_unit_test(test_readyz_follows_a_required_peer),
		cmocka_unit_test(test_readyz_turns_false_first_on_sigterm),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
