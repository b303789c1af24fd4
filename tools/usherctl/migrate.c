/* usherctl migrate status: which schema migrations each daemon's database has applied
 * (usher.v1.Admin/MigrationStatus, served by every daemon with a database). */
#include <stddef.h>
#include <stdio.h>

#include "ctl.h"
#include "common/pbjson.h"
#include "usher/v1/admin.pb-c.h"

typedef struct status_params {
	ctl_list daemons;
} status_params;

/* One daemon's answer, or why there is none. */
typedef struct answer {
	const ctl_target *target;
	us_err code;
	us_status status;
	const Usher__V1__MigrationStatusReply *reply;
} answer;

static const char *state_of(const Usher__V1__MigrationState *m)
{
	if (!m->known)
		return "applied, unknown to this binary";
	return m->applied ? "applied" : "pending";
}

static void print_table(ctl_ctx *ctx, const answer *answers, size_t n)
{
	static const char *const headers[] = {"DAEMON", "SCHEMA", "MIGRATION", "STATE", "APPLIED AT"};
	ctl_table *t = ctl_table_new(ctx, CTL_COUNT(headers), headers);
	for (size_t i = 0; i < n; i++) {
		const answer *a = &answers[i];
		if (a->code != US_OK) {
			const char *cells[] = {a->target->daemon, "-", "-",
			                       us_arena_printf(ctx->arena, "error: %s", a->status.message), "-"};
			ctl_table_add(t, cells);
			continue;
		}
		for (size_t k = 0; k < a->reply->n_migrations; k++) {
			const Usher__V1__MigrationState *m = a->reply->migrations[k];
			const char *cells[] = {a->target->daemon, a->reply->schema, m->name, state_of(m),
			                       m->applied_at[0] ? m->applied_at : "-"};
			ctl_table_add(t, cells);
		}
	}
	ctl_table_print(t);
}

/* {"daemons": [{"daemon": ..., "schema": ..., "migrations": [...]} or
 * {"daemon": ..., "error": {code, message}}]}: the replies as the HTTP API would show them,
 * each named after its daemon. */
static void print_json(const answer *answers, size_t n)
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		const answer *a = &answers[i];
		json_t *item = a->code == US_OK ? us_pbjson_encode(&a->reply->base) : json_object();
		if (item == NULL)
			continue;
		json_object_set_new(item, "daemon", json_string(a->target->daemon));
		if (a->code != US_OK)
			json_object_set_new(item, "error",
			                    json_pack("{s:s, s:s}", "code", us_err_name(a->code), "message",
			                              a->status.message));
		json_array_append_new(list, item);
	}
	ctl_print_json(json_pack("{s:o}", "daemons", list));
}

static int run_status(ctl_ctx *ctx, void *params)
{
	const status_params *p = params;
	const ctl_target *chosen[CTL_MAX_TARGETS];
	size_t n = 0;
	for (size_t i = 0; i < ctl_n_targets && p->daemons.n == 0; i++) {
		if (ctl_targets[i].has_database)
			chosen[n++] = &ctl_targets[i];
	}
	for (size_t i = 0; i < p->daemons.n && n < CTL_MAX_TARGETS; i++) {
		const ctl_target *t = ctl_target_find(p->daemons.items[i]);
		if (!t->has_database)
			return ctl_usage_error("%s has no database", t->daemon);
		chosen[n++] = t;
	}
	for (size_t i = 0; i < n; i++) {
		if (ctl_target_url(chosen[i]) == NULL)
			return ctl_usage_error("%s is not set (the address of %s)", chosen[i]->env,
			                       chosen[i]->daemon);
	}
	answer answers[CTL_MAX_TARGETS];
	int code = CTL_OK;
	for (size_t i = 0; i < n; i++) {
		Usher__V1__MigrationStatusRequest req = USHER__V1__MIGRATION_STATUS_REQUEST__INIT;
		ProtobufCMessage *reply = NULL;
		answers[i].target = chosen[i];
		answers[i].code = ctl_try_call(ctx, chosen[i], &usher__v1__admin__descriptor,
		                               "MigrationStatus", 0, &req.base, &reply, &answers[i].status);
		answers[i].reply = (const Usher__V1__MigrationStatusReply *)reply;
		if (answers[i].code != US_OK) {
			int c = ctl_exit_code(answers[i].code);
			/* The worst wins: unavailable over denied over failed. */
			code = c > code ? c : code;
			fprintf(stderr, "usherctl: %s: %s (%s)\n", chosen[i]->daemon,
			        answers[i].status.message, us_err_name(answers[i].code));
		}
	}
	if (ctx->opts.json)
		print_json(answers, n);
	else
		print_table(ctx, answers, n);
	for (size_t i = 0; i < n; i++)
		us_status_clear(&answers[i].status);
	return code;
}

static const ctl_arg status_args[] = {
	{.name = "DAEMON", .kind = CTL_DAEMON, .offset = offsetof(status_params, daemons),
	 .flags = CTL_OPTIONAL | CTL_MANY, .max = CTL_MAX_TARGETS,
	 .help = "a daemon with a database (default: all four)"},
};

static const ctl_command commands[] = {
	{.name = "status", .summary = "show each database's schema migrations",
	 .detail = "Daemons apply their migrations when they start; \"pending\" means the running\n"
	           "binary has one its database has not applied, \"unknown to this binary\" that\n"
	           "the database is ahead of the binary (a rollback). Exit status 5 when a\n"
	           "daemon cannot be reached.",
	 .args = status_args, .n_args = CTL_COUNT(status_args), .params_size = sizeof(status_params),
	 .flags = CTL_NO_ACTOR, .run = run_status},
};

const ctl_group ctl_migrate_group = {"migrate", "inspect schema migrations", commands,
                                     CTL_COUNT(commands)};
