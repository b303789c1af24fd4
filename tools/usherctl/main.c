/* usherctl: the operator's CLI. It talks NNG to the daemons directly, as the gateway and
 * the daemons themselves do. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"

static int dispatch(ctl_ctx *ctx, int argc, char **argv)
{
	int i = 1;
	int rc = ctl_parse_global(ctx, argc, argv, &i);
	if (rc != CTL_PROCEED)
		return rc;
	if (i >= argc) {
		ctl_usage(stderr);
		return CTL_USAGE;
	}
	const ctl_group *group = NULL;
	for (size_t g = 0; g < ctl_n_groups && group == NULL; g++) {
		if (strcmp(ctl_groups[g]->name, argv[i]) == 0)
			group = ctl_groups[g];
	}
	if (group == NULL)
		return ctl_usage_error("unknown command \"%s\"; see usherctl --help", argv[i]);
	i++;
	/* A group that is itself the command ("health") takes its arguments at once. */
	if (group->n_commands == 1 && group->commands[0].name[0] == '\0')
		return ctl_run(ctx, group, &group->commands[0], argc - i, argv + i);
	if (i >= argc || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
		ctl_group_usage(i >= argc ? stderr : stdout, group);
		return i >= argc ? CTL_USAGE : CTL_OK;
	}
	for (size_t c = 0; c < group->n_commands; c++) {
		if (strcmp(group->commands[c].name, argv[i]) == 0)
			return ctl_run(ctx, group, &group->commands[c], argc - i - 1, argv + i + 1);
	}
	return ctl_usage_error("unknown command \"%s %s\"; see usherctl %s --help", group->name,
	                       argv[i], group->name);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "usherctl: could not initialise libsodium\n");
		return CTL_FAILED;
	}
	ctl_ctx ctx = {.arena = us_arena_new()};
	if (ctx.arena == NULL) {
		fprintf(stderr, "usherctl: out of memory\n");
		return CTL_FAILED;
	}
	int rc = dispatch(&ctx, argc, argv);
	ctl_finish(&ctx);
	return rc;
}
