#include "args.h"

#include <stdarg.h>
#include <string.h>

/* The command groups, in --help order. */
const ctl_group *const ctl_groups[] = {
	&ctl_users_group,    &ctl_accounts_group,    &ctl_subaccounts_group, &ctl_invitations_group,
	&ctl_links_group,    &ctl_members_group,     &ctl_deliveries_group,  &ctl_events_group,
	&ctl_webhooks_group, &ctl_migrate_group,     &ctl_health_group,      &ctl_principals_group,
	&ctl_keys_group,     &ctl_audit_group,
};
const size_t ctl_n_groups = CTL_COUNT(ctl_groups);

/* --- errors --- */

static void vsay(const char *fmt, va_list ap)
{
	fputs("usherctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return CTL_USAGE;
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return CTL_FAILED;
}

int ctl_exit_code(us_err code)
{
	switch (code) {
	case US_OK: return CTL_OK;
	case US_EDENIED:
	case US_EUNAUTHENTICATED: return CTL_DENIED;
	case US_EUNAVAILABLE:
	case US_EDEADLINE: return CTL_UNAVAILABLE;
	default: return CTL_FAILED;
	}
}

/* --- running --- */

int ctl_run(ctl_ctx *ctx, const ctl_group *group, const ctl_command *cmd, int argc, char **argv)
{
	ctx->cmd = cmd;
	const char *name = ctl_help_command_name(ctx, group, cmd);
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			ctl_help_command(ctx, stdout, group, cmd);
			return CTL_OK;
		}
	}
	void *params = us_arena_alloc(ctx->arena, cmd->params_size ? cmd->params_size : 1);
	ctl_args_spec specs[2] = {
		{cmd->args, cmd->n_args, params, ctl_args_seen(ctx, cmd->n_args)},
		{ctl_args_global, ctl_args_n_global, &ctx->opts, ctl_args_seen(ctx, ctl_args_n_global)},
	};
	if (params == NULL || specs[0].seen == NULL || specs[1].seen == NULL)
		return ctl_fail("out of memory");
	int rc = ctl_args_parse(ctx, specs, 2, argc, argv, name);
	if (rc != CTL_PROCEED)
		return rc;
	for (size_t k = 0; k < cmd->n_args; k++) {
		const ctl_arg *a = &cmd->args[k];
		if (specs[0].seen[k])
			continue;
		if (!ctl_args_is_option(a) && !(a->flags & CTL_OPTIONAL))
			return ctl_usage_error("%s: missing %s; see usherctl %s --help", name, a->name, name);
		if (ctl_args_is_option(a) && (a->flags & CTL_REQUIRED))
			return ctl_usage_error("%s needs %s %s", name, a->name, ctl_args_metavar(a));
	}
	if ((cmd->flags & CTL_NEEDS_ACTOR) && ctx->opts.as == NULL)
		return ctl_usage_error("%s needs --as USER: the user on whose behalf it acts", name);
	if ((cmd->flags & CTL_NO_ACTOR) && ctx->opts.as != NULL)
		return ctl_usage_error("%s takes no --as", name);
	if (ctx->opts.as != NULL && (rc = ctl_resolve_user(ctx, ctx->opts.as, &ctx->actor_id)) != CTL_OK)
		return rc;
	return cmd->run(ctx, params);
}

void ctl_finish(ctl_ctx *ctx)
{
	for (size_t i = 0; i < CTL_MAX_TARGETS; i++)
		us_rpc_client_close(ctx->clients[i]);
	us_arena_free(ctx->arena);
}

