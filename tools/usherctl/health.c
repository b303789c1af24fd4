/* usherctl health: asks every daemon's Health/Check. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "ctl.h"
#include "rpc_client.h"
#include "targets.h"
#include "usher/v1/health.pb-c.h"

typedef struct result {
	const ctl_target *target;
	const char *url;
	const char *status; /* SERVING, NOT_SERVING, UNREACHABLE */
	char message[256];
} result;

static void check(const ctl_target *t, uint32_t timeout_ms, result *r)
{
	r->target = t;
	r->url = ctl_target_url(t);
	r->message[0] = '\0';
	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts copts = {.url = r->url, .caller = "usherctl"};
	if (us_rpc_client_open(&copts, &c, err, sizeof(err)) != US_OK) {
		r->status = "UNREACHABLE";
		snprintf(r->message, sizeof(r->message), "%s", err);
		return;
	}
	us_arena *arena = us_arena_new();
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	us_rpc_call_opts call = {.timeout_ms = timeout_ms};
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

/* Picks the daemons named on the command line ("identity", "usher-tenancyd"), or all. */
static int select_targets(int argc, char **argv, const ctl_target **chosen, size_t *n)
{
	*n = 0;
	if (argc == 0) {
		for (size_t i = 0; i < ctl_n_targets; i++)
			chosen[(*n)++] = &ctl_targets[i];
		return 0;
	}
	for (int a = 0; a < argc; a++) {
		const ctl_target *found = NULL;
		for (size_t i = 0; i < ctl_n_targets && found == NULL; i++) {
			const char *full = ctl_targets[i].daemon;
			size_t len = strlen(argv[a]);
			/* "usher-identityd" or its short form "identity" */
			if (strcmp(full, argv[a]) == 0 ||
			    (strncmp(full + 6, argv[a], len) == 0 && strcmp(full + 6 + len, "d") == 0))
				found = &ctl_targets[i];
		}
		if (found == NULL) {
			fprintf(stderr, "usherctl health: unknown daemon \"%s\"\n", argv[a]);
			return -1;
		}
		if (*n < ctl_n_targets)
			chosen[(*n)++] = found;
	}
	return 0;
}

int ctl_health(const ctl_opts *opts, int argc, char **argv)
{
	const ctl_target *chosen[8];
	size_t n;
	if (select_targets(argc, argv, chosen, &n) != 0)
		return CTL_USAGE;
	for (size_t i = 0; i < n; i++) {
		if (ctl_target_url(chosen[i]) == NULL) {
			fprintf(stderr, "usherctl: %s is not set (the address of %s)\n", chosen[i]->env,
			        chosen[i]->daemon);
			return CTL_USAGE;
		}
	}
	result results[8];
	int code = CTL_OK;
	for (size_t i = 0; i < n; i++) {
		check(chosen[i], opts->timeout_ms, &results[i]);
		if (strcmp(results[i].status, "UNREACHABLE") == 0)
			code = CTL_UNAVAILABLE;
		else if (strcmp(results[i].status, "NOT_SERVING") == 0 && code == CTL_OK)
			code = CTL_FAILED;
	}
	if (opts->json)
		print_json(results, n, code);
	else
		print_table(results, n);
	return code;
}
