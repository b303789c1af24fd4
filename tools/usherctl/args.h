/* What usherctl's argument parsing (args.c) shares with running a command (ctl.c) and
 * with --help (help.c): the global options and how an argument is named. */
#ifndef USHERCTL_ARGS_H
#define USHERCTL_ARGS_H

#include "ctl.h"

/* The arguments of one table and where their values go. */
typedef struct ctl_args_spec {
	const ctl_arg *args;
	size_t n;
	void *base;
	bool *seen; /* per arg, to refuse an option given twice */
} ctl_args_spec;

/* The global options (--json, --timeout, --as, ...), parsed into a ctl_opts. */
extern const ctl_arg ctl_args_global[];
extern const size_t ctl_args_n_global;

/* Parses argv: options of any of specs, positionals into specs[0] ("--" ends the
 * options); command names the command in errors. Returns CTL_PROCEED or an exit code. */
int ctl_args_parse(ctl_ctx *ctx, const ctl_args_spec *specs, size_t n_specs, int argc,
                   char **argv, const char *command);

/* A "seen" array for a table of n arguments, in the run's arena (NULL: out of memory). */
bool *ctl_args_seen(ctl_ctx *ctx, size_t n);

bool ctl_args_is_option(const ctl_arg *a);
/* An option's value in usage lines: "ID", "EMAIL", or the argument's own metavar. */
const char *ctl_args_metavar(const ctl_arg *a);
/* The choices of an enum argument, "member, moderator, admin or owner" (bars:
 * "member|moderator|admin|owner"). */
const char *ctl_args_choice_list(ctl_ctx *ctx, const ProtobufCEnumDescriptor *e, bool bars);
/* The daemons by short name, "identity, tenancy, ... or gateway" (bars: with '|'). */
const char *ctl_args_daemon_list(ctl_ctx *ctx, bool bars);
/* Lowercases ASCII letters in place. */
void ctl_args_lowercase(char *s);

/* "accounts create", or "health" (help.c). */
const char *ctl_help_command_name(ctl_ctx *ctx, const ctl_group *g, const ctl_command *c);
/* Prints COMMAND --help (help.c). */
void ctl_help_command(ctl_ctx *ctx, FILE *out, const ctl_group *g, const ctl_command *c);

#endif
