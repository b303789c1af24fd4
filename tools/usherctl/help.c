#include "args.h"

#include <stdlib.h>
#include <string.h>

#ifndef USHER_VERSION
#define USHER_VERSION "0.0.0"
#endif

#define WRAP_COLUMN 92

/* "accounts create", or "health". */
const char *ctl_help_command_name(ctl_ctx *ctx, const ctl_group *g, const ctl_command *c)
{
	return c->name[0] ? us_arena_printf(ctx->arena, "%s %s", g->name, c->name) : g->name;
}

/* Prints words as one usage line wrapped at WRAP_COLUMN, continuation lines indented. */
typedef struct wrapper {
	FILE *out;
	size_t column, indent;
} wrapper;

static void wrap_word(wrapper *w, const char *word)
{
	size_t len = strlen(word);
	if (w->column > w->indent && w->column + 1 + len > WRAP_COLUMN) {
		fprintf(w->out, "\n%*s", (int)w->indent, "");
		w->column = w->indent;
	} else if (w->column > w->indent) {
		fputc(' ', w->out);
		w->column++;
	}
	fputs(word, w->out);
	w->column += len;
}

static const char *arg_usage(ctl_ctx *ctx, const ctl_arg *a)
{
	if (!ctl_args_is_option(a))
		return (a->flags & CTL_OPTIONAL) ? us_arena_printf(ctx->arena, "[%s%s]", a->name,
		                                                   (a->flags & CTL_MANY) ? "..." : "")
		                                 : us_arena_printf(ctx->arena, "%s%s", a->name,
		                                                   (a->flags & CTL_MANY) ? "..." : "");
	const char *body = a->kind == CTL_FLAG ? a->name
	                                       : us_arena_printf(ctx->arena, "%s %s", a->name, ctl_args_metavar(a));
	return (a->flags & CTL_REQUIRED) ? body : us_arena_printf(ctx->arena, "[%s]", body);
}

/* "invitations create ACCOUNT EMAIL... [--role ROLE] ...", every option shown when full,
 * else the optional ones folded into "[OPTIONS]". */
static void print_synopsis(ctl_ctx *ctx, wrapper *w, const ctl_group *g, const ctl_command *c,
                           bool full)
{
	wrap_word(w, ctl_help_command_name(ctx, g, c));
	bool folded = false;
	for (size_t i = 0; i < c->n_args; i++) {
		const ctl_arg *a = &c->args[i];
		if (!full && ctl_args_is_option(a) && !(a->flags & CTL_REQUIRED)) {
			folded = true;
			continue;
		}
		wrap_word(w, arg_usage(ctx, a));
	}
	if (folded)
		wrap_word(w, "[OPTIONS]");
}

/* Prints text from column start, wrapped at WRAP_COLUMN and indented to start. */
static void print_wrapped(FILE *out, const char *text, size_t start)
{
	wrapper w = {out, start, start};
	char *copy = strdup(text);
	if (copy == NULL)
		return;
	for (char *save, *word = strtok_r(copy, " ", &save); word; word = strtok_r(NULL, " ", &save))
		wrap_word(&w, word);
	fputc('\n', out);
	free(copy);
}

#define HELP_COLUMN 27

static void print_arg_help(ctl_ctx *ctx, FILE *out, const ctl_arg *a)
{
	const char *name = ctl_args_is_option(a) && a->kind != CTL_FLAG
	                           ? us_arena_printf(ctx->arena, "%s %s", a->name, ctl_args_metavar(a))
	                           : (a->flags & CTL_MANY) ? us_arena_printf(ctx->arena, "%s...", a->name)
	                                                   : a->name;
	const char *text = a->help;
	if (a->kind == CTL_ENUM)
		text = us_arena_printf(ctx->arena, "%s [%s]", a->help, ctl_args_choice_list(ctx, a->choices, true));
	else if (a->kind == CTL_UINT)
		text = us_arena_printf(ctx->arena, "%s [%u-%u]", a->help, a->min, a->max);
	else if (a->kind == CTL_DAEMON)
		text = us_arena_printf(ctx->arena, "%s [%s]", a->help, ctl_args_daemon_list(ctx, true));
	fprintf(out, "  %s", name);
	if (strlen(name) + 2 >= HELP_COLUMN - 1)
		fprintf(out, "\n%*s", HELP_COLUMN, "");
	else
		fprintf(out, "%*s", (int)(HELP_COLUMN - 2 - strlen(name)), "");
	print_wrapped(out, text, HELP_COLUMN);
}

/* A one-line summary as a sentence: "Show an invitation." */
static void print_sentence(FILE *out, const char *summary)
{
	fprintf(out, "%c%s.\n", summary[0] >= 'a' && summary[0] <= 'z' ? summary[0] - 32 : summary[0],
	        summary + 1);
}

void ctl_help_command(ctl_ctx *ctx, FILE *out, const ctl_group *g, const ctl_command *c)
{
	fputs("usage: usherctl ", out);
	wrapper w = {out, 16, 16};
	print_synopsis(ctx, &w, g, c, true);
	fputs("\n\n", out);
	print_sentence(out, c->summary);
	if (c->detail != NULL)
		fprintf(out, "\n%s\n", c->detail);
	if (c->n_args > 0) {
		fputs("\nArguments:\n", out);
		for (size_t i = 0; i < c->n_args; i++)
			print_arg_help(ctx, out, &c->args[i]);
	}
	if (c->flags & CTL_NEEDS_ACTOR)
		fputs("\nNeeds --as USER: the daemons check that user's rights.\n", out);
	fputs("\nGlobal options (usherctl --help): --json, --timeout MS, --as USER,\n"
	      "--idempotency-key KEY, --verbose.\n", out);
}

void ctl_group_usage(FILE *out, const ctl_group *g)
{
	ctl_ctx scratch = {.arena = us_arena_new()};
	if (scratch.arena == NULL)
		return;
	fprintf(out, "usage: usherctl %s COMMAND [ARGS]\n\n", g->name);
	print_sentence(out, g->summary);
	fputs("\nCommands:\n", out);
	for (size_t i = 0; i < g->n_commands; i++) {
		fputs("  ", out);
		wrapper w = {out, 2, 4};
		print_synopsis(&scratch, &w, g, &g->commands[i], false);
		fprintf(out, "\n      %s\n", g->commands[i].summary);
	}
	fprintf(out, "\nusherctl %s COMMAND --help shows a command's options.\n", g->name);
	us_arena_free(scratch.arena);
}

void ctl_usage(FILE *out)
{
	ctl_ctx scratch = {.arena = us_arena_new()};
	if (scratch.arena == NULL)
		return;
	fprintf(out, "usherctl %s: operate Usher, talking NNG to its daemons\n\n"
	             "usage: usherctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n",
	        USHER_VERSION);
	for (size_t g = 0; g < ctl_n_groups; g++) {
		for (size_t i = 0; i < ctl_groups[g]->n_commands; i++) {
			const ctl_command *c = &ctl_groups[g]->commands[i];
			fputs("  ", out);
			wrapper w = {out, 2, 4};
			print_synopsis(&scratch, &w, ctl_groups[g], c, false);
			fprintf(out, "\n      %s\n", c->summary);
		}
	}
	fputs("\nusherctl COMMAND --help shows a command's arguments and options.\n\nOptions:\n", out);
	for (size_t i = 0; i < ctl_args_n_global; i++)
		print_arg_help(&scratch, out, &ctl_args_global[i]);
	fputs("  --help                   this text; after a command, that command's help\n"
	      "  --version                usherctl's version\n"
	      "\nThe daemons' addresses come from the environment:\n",
	      out);
	for (size_t i = 0; i < ctl_n_targets; i++)
		fprintf(out, "  %-22s %s\n", ctl_targets[i].env, ctl_targets[i].daemon);
	fputs("and the key every call is signed with (an operator's, listed in the daemons'\n"
	      "RPC_CALLERS_FILE; ./usher ctl uses var/operator.key):\n"
	      "  USHER_CALLER_KEY       the secret itself\n"
	      "  USHER_CALLER_KEY_FILE  a file holding it\n",
	      out);
	fputs("\nExit status:\n"
	      "  0  ok (health: every daemon is serving)\n"
	      "  1  failed (health: a daemon answered that it is not serving)\n"
	      "  2  usage: a bad argument, input file or missing setting; nothing was changed\n"
	      "  3  partial success: some addresses of a batch were not (or, on a dry run, would\n"
	      "     not be) created; the report says why\n"
	      "  4  denied: PERMISSION_DENIED or UNAUTHENTICATED\n"
	      "  5  unavailable: UNAVAILABLE or DEADLINE_EXCEEDED (health: a daemon could not be\n"
	      "     reached)\n",
	      out);
	us_arena_free(scratch.arena);
}

