/* usherctl health: asks every daemon's Health/Check. */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/arena.h"
#include "common/clock.h"
#include "ctl.h"
#include "common/rpc_client.h"
#include "targets.h"
#include "usher/v1/health.pb-c.h"

typedef struct result {
	const ctl_target *target;
	const char *url;
	const char *status; /* SERVING, NOT_SERVING, UNREACHABLE */
	char message[256];
} result;

/* One daemon's check, bounded by timeout_ms from opening to reply: a paused or wedged
 * daemon costs the deadline, not NNG's handshake timeout. */
static void check(const ctl_target *t, uint32_t timeout_ms, result *r)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	r->target = t;
	r->url = ctl_target_url(t);
	r->message[0] = '\0';
	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts copts = {.url = r->url, .caller = "usherctl", .connect_timeout_ms = timeout_ms};
	if (us_rpc_client_open(&copts, &c, err, sizeof(err)) != US_OK) {
		r->status = "UNREACHABLE";
		snprintf(r->message, sizeof(r->message), "%s", err);
		return;
	}
	us_arena *arena = us_arena_new();
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	int64_t left = deadline - us_monotonic_ms();
	us_rpc_call_opts call = {.timeout_ms = left > 0 ? (uint32_t)left : 1};
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = arena ? us_rpc_call(c, "usher.v1.Health/Check", &call, &req.base,
	                                &usher__v1__health_check_response__descriptor, arena,
	                                &reply, &st)
	                  : US_EEXHAUSTED;
	if (rc == US_OK) {
		const Usher__V1__HealthCheckResponse *res = (const Usher__V1__HealthCheckResponse *)reply;
		r->status = res->status == USHER__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
		                    ? "SERVING"
		                    : "NOT_SERVING";
	} else {
		r->status = "UNREACHABLE";
		snprintf(r->message, sizeof(r->message), "%s", arena ? st.message : "out of memory");
	}
	if (arena)
		us_status_clear(&st);
	us_arena_free(arena);
	us_rpc_client_close(c);
}

typedef struct check_job {
	const ctl_target *target;
	uint32_t timeout_ms;
	result *out;
	pthread_t thread;
	bool started;
} check_job;

static void *check_main(void *arg)
{
	check_job *j = arg;
	check(j->target, j->timeout_ms, j->out);
	return NULL;
}

static void print_json(const result *results, size_t n, int code)
{
	json_t *daemons = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(daemons, json_pack("{s:s, s:s, s:s, s:s}", "daemon",
		                                         results[i].target->daemon, "url", results[i].url,
		                                         "status", results[i].status, "message",
		                                         results[i].message));
	}
	json_t *doc = json_pack("{s:b, s:o}", "healthy", code == CTL_OK, "daemons", daemons);
	char *text = json_dumps(doc, JSON_INDENT(2));
	if (text != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(doc);
}

static void print_table(const result *results, size_t n)
{
	printf("%-20s %-12s %s\n", "DAEMON", "STATUS", "ADDRESS");
	for (size_t i = 0; i < n; i++) {
		printf("%-20s %-12s %s", results[i].target->daemon, results[i].status, results[i].url);
		if (results[i].message[0] != '\0')
			printf("  (%s)", results[i].message);
		printf("\n");
	}
}

typedef struct health_params {
	ctl_list daemons;
} health_params;

static int run_health(ctl_ctx *ctx, void *params)
{
	const health_params *p = params;
	const ctl_target *chosen[CTL_MAX_TARGETS];
	size_t n = 0;
	for (size_t i = 0; i < ctl_n_targets && p->daemons.n == 0; i++)
		chosen[n++] = &ctl_targets[i];
	for (size_t i = 0; i < p->daemons.n && n < CTL_MAX_TARGETS; i++)
		chosen[n++] = ctl_target_find(p->daemons.items[i]);
	for (size_t i = 0; i < n; i++) {
		if (ctl_target_url(chosen[i]) == NULL)
			return ctl_usage_error("%s is not set (the address of %s)", chosen[i]->env,
			                       chosen[i]->daemon);
	}
	result results[CTL_MAX_TARGETS];
	int code = CTL_OK;
	/* All at once: the command takes one deadline however many daemons do not answer. */
	check_job jobs[CTL_MAX_TARGETS];
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (check_job){.target = chosen[i], .timeout_ms = ctl_timeout_ms(ctx),
		                      .out = &results[i]};
		jobs[i].started = pthread_create(&jobs[i].thread, NULL, check_main, &jobs[i]) == 0;
		if (!jobs[i].started)
			check(chosen[i], jobs[i].timeout_ms, &results[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(results[i].status, "UNREACHABLE") == 0)
			code = CTL_UNAVAILABLE;
		else if (strcmp(results[i].status, "NOT_SERVING") == 0 && code == CTL_OK)
			code = CTL_FAILED;
	}
	if (ctx->opts.json)
		print_json(results, n, code);
	else
		print_table(results, n);
	return code;
}

static const ctl_arg health_args[] = {
	{.name = "DAEMON", .kind = CTL_DAEMON, .offset = offsetof(health_params, daemons),
	 .flags = CTL_OPTIONAL | CTL_MANY, .max = CTL_MAX_TARGETS,
	 .help = "a daemon to check, by its short or full name (default: all five)"},
};

static const ctl_command health_commands[] = {
	{.name = "", .summary = "check that every daemon (or the named ones) is serving",
	 .detail = "Asks each daemon's usher.v1.Health/Check, all at once, each within --timeout\n"
	           "(from connecting to the answer). Exit status 0 when all are serving,\n"
	           "1 when one answers that it is not, 5 when one cannot be reached.",
	 .args = health_args, .n_args = CTL_COUNT(health_args), .params_size = sizeof(health_params),
	 .flags = CTL_NO_ACTOR, .run = run_health},
};

const ctl_group ctl_health_group = {"health", "check the daemons' health", health_commands,
                                    CTL_COUNT(health_commands)};
