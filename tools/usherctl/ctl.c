#include "ctl.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/idempotency.h"
#include "common/pbjson.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"
#include "common/validate.h"

#ifndef USHER_VERSION
#define USHER_VERSION "0.0.0"
#endif

#define DEFAULT_TIMEOUT_MS 2000
#define TEXT_MAX 1000
#define NAME_MAX_BYTES 200   /* names of accounts and subaccounts (tenancy.proto) */
#define PRODUCT_MAX_BYTES 40 /* [a-z0-9_.-]{1,40} (tenancy.proto) */
#define PAGE_MAX 500         /* the largest page_size every list method takes */
#define SHOWN_MAX 60         /* bytes of a bad value quoted back in an error */
#define WRAP_COLUMN 92

static const ctl_arg global_args[] = {
	{.name = "--json", .kind = CTL_FLAG, .offset = offsetof(ctl_opts, json),
	 .help = "machine output on stdout: one JSON document, as the HTTP API returns it"},
	{.name = "--timeout", .kind = CTL_UINT, .offset = offsetof(ctl_opts, timeout_ms),
	 .metavar = "MS", .min = 1, .max = 600000,
	 .help = "deadline of each call in milliseconds (default 2000; 60000 for invitations "
	         "create and import)"},
	{.name = "--as", .kind = CTL_USER, .offset = offsetof(ctl_opts, as),
	 .help = "the actor, whose rights the daemons check: a user id or an email address"},
	{.name = "--idempotency-key", .kind = CTL_TEXT, .offset = offsetof(ctl_opts, idempotency_key),
	 .metavar = "KEY", .max = US_IDEMPOTENCY_KEY_MAX,
	 .help = "the key of the command's change (default: a fresh random one, shown by "
	         "--verbose); the same key repeats the change at most once"},
	{.name = "--verbose", .kind = CTL_FLAG, .offset = offsetof(ctl_opts, verbose),
	 .help = "print each call, its request id and the idempotency key on stderr"},
};

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

/* --- arguments --- */

/* The arguments of one table and where their values go. */
typedef struct spec {
	const ctl_arg *args;
	size_t n;
	void *base;
	bool *seen; /* per arg, to refuse an option given twice */
} spec;

static bool is_option(const ctl_arg *a) { return a->name[0] == '-'; }

static void *slot(const spec *s, const ctl_arg *a) { return (char *)s->base + a->offset; }

static const char *metavar(const ctl_arg *a)
{
	if (a->metavar != NULL)
		return a->metavar;
	switch (a->kind) {
	case CTL_UUID: return "ID";
	case CTL_USER: return "USER";
	case CTL_EMAIL: return "EMAIL";
	case CTL_UINT: return "N";
	case CTL_PRODUCTS: return "a,b";
	case CTL_DOMAINS: return "d1,d2";
	case CTL_DAEMON: return "DAEMON";
	default: return "TEXT";
	}
}

/* The separator before item i of n in a list for people, or with bars. */
static const char *separator(size_t i, size_t n, bool bars)
{
	return i == 0 ? "" : bars ? "|" : i + 1 == n ? " or " : ", ";
}

/* "member, moderator, admin or owner", or with bars "member|moderator|admin|owner": the
 * choices of an enum argument (all but the unspecified 0). */
static const char *choice_list(ctl_ctx *ctx, const ProtobufCEnumDescriptor *e, bool bars)
{
	char *out = "";
	size_t n = 0;
	for (unsigned i = 0; i < e->n_values; i++) {
		int v = e->values[i].value;
		if (v != 0)
			out = us_arena_printf(ctx->arena, "%s%s%s", out, separator(n++, e->n_values - 1, bars),
			                      ctl_enum_label(ctx, e, v));
	}
	return out;
}

/* "identity, tenancy, ... or gateway", or with bars "identity|tenancy|...". */
static const char *daemon_list(ctl_ctx *ctx, bool bars)
{
	char *out = "";
	for (size_t i = 0; i < ctl_n_targets; i++) {
		/* the short name: "usher-identityd" less "usher-" and "d" */
		out = us_arena_printf(ctx->arena, "%s%s%.*s", out, separator(i, ctl_n_targets, bars),
		                      (int)(strlen(ctl_targets[i].daemon) - 7), ctl_targets[i].daemon + 6);
	}
	return out;
}

static int bad_value(const ctl_arg *a, const char *value, const char *why)
{
	return ctl_usage_error("invalid %s \"%.*s%s\": %s", a->name, SHOWN_MAX, value,
	                       strlen(value) > SHOWN_MAX ? "..." : "", why);
}

static void lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
}

static const char *product_check(const char *p)
{
	size_t len = strlen(p);
	if (len == 0 || len > PRODUCT_MAX_BYTES || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
		return "must be a product name of 1 to 40 characters from a-z, 0-9, '_', '.' and '-'";
	return NULL;
}

static const char *domain_check(ctl_ctx *ctx, const char *d)
{
	/* A domain is valid when an address at it is: the daemons judge it the same way. */
	if (d[0] == '\0' || strlen(d) > 253 || us_email_check(us_arena_printf(ctx->arena, "x@%s", d)))
		return "must be an email domain like example.com";
	return NULL;
}

/* Splits a comma-separated list in place into out, checking each item. */
static int store_list(ctl_ctx *ctx, const ctl_arg *a, char *value, ctl_list *out)
{
	size_t max = a->max ? a->max : 100;
	size_t n = 1;
	for (const char *p = value; *p; p++)
		n += *p == ',';
	if (n > max)
		return bad_value(a, value, us_arena_printf(ctx->arena, "must list at most %zu", max));
	out->items = US_ARENA_ARRAY(ctx->arena, char *, n);
	if (out->items == NULL)
		return ctl_fail("out of memory");
	out->n = 0;
	char *item = value;
	for (;;) {
		char *comma = strchr(item, ',');
		if (comma != NULL)
			*comma = '\0';
		const char *why;
		if (a->kind == CTL_DOMAINS) {
			lowercase(item);
			why = domain_check(ctx, item);
		} else {
			why = product_check(item);
		}
		if (why != NULL)
			return bad_value(a, item, why);
		out->items[out->n++] = item;
		if (comma == NULL)
			break;
		item = comma + 1;
	}
	return CTL_PROCEED;
}

/* Checks one value of a and stores it where a says. Returns CTL_PROCEED or CTL_USAGE. */
static int store(ctl_ctx *ctx, const spec *s, const ctl_arg *a, char *value, int argc)
{
	void *to = slot(s, a);
	if ((a->flags & CTL_MANY) != 0) {
		/* Each value of a repeated positional is checked as a single one would be. */
		ctl_list *list = to;
		if (list->items == NULL && (list->items = US_ARENA_ARRAY(ctx->arena, char *, (size_t)argc)) == NULL)
			return ctl_fail("out of memory");
		if (a->max != 0 && list->n == a->max)
			return ctl_usage_error("too many %s: at most %u", a->name, a->max);
		char *one = NULL;
		spec single = {.args = NULL, .n = 0, .base = &one, .seen = NULL};
		ctl_arg as_one = *a;
		as_one.flags &= ~CTL_MANY;
		as_one.offset = 0;
		as_one.max = 0;
		int rc = store(ctx, &single, &as_one, value, argc);
		if (rc == CTL_PROCEED)
			list->items[list->n++] = one;
		return rc;
	}
	const char *why = NULL;
	switch (a->kind) {
	case CTL_FLAG:
		*(bool *)to = true;
		return CTL_PROCEED;
	case CTL_TEXT: {
		size_t len = strlen(value), max = a->max ? a->max : TEXT_MAX;
		if (len == 0)
			why = "must not be empty";
		else if (len > max)
			why = us_arena_printf(ctx->arena, "must be at most %zu bytes", max);
		break;
	}
	case CTL_NAME:
		why = us_name_check(value, NAME_MAX_BYTES);
		break;
	case CTL_UUID:
		lowercase(value);
		why = us_uuid_check(value);
		break;
	case CTL_USER:
	case CTL_EMAIL:
		if (a->kind == CTL_USER && strchr(value, '@') == NULL) {
			lowercase(value);
			if (us_uuid_check(value) != NULL)
				why = "must be a user id (a UUID) or an email address";
		} else if (us_email_normalize(value, value, strlen(value) + 1) != 0) {
			why = "must be an email address";
		} else {
			why = us_email_check(value);
		}
		break;
	case CTL_UINT: {
		char *end;
		errno = 0;
		unsigned long n = strtoul(value, &end, 10);
		if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || n < a->min ||
		    n > a->max) {
			why = us_arena_printf(ctx->arena, "must be a whole number from %u to %u", a->min,
			                      a->max);
			break;
		}
		*(uint32_t *)to = (uint32_t)n;
		return CTL_PROCEED;
	}
	case CTL_ENUM:
		for (unsigned i = 0; i < a->choices->n_values; i++) {
			int v = a->choices->values[i].value;
			if (v != 0 && strcasecmp(value, ctl_enum_label(ctx, a->choices, v)) == 0) {
				*(int *)to = v;
				return CTL_PROCEED;
			}
		}
		why = us_arena_printf(ctx->arena, "must be %s", choice_list(ctx, a->choices, false));
		break;
	case CTL_PRODUCTS:
	case CTL_DOMAINS:
		return store_list(ctx, a, value, to);
	case CTL_DAEMON:
		if (ctl_target_find(value) == NULL)
			why = us_arena_printf(ctx->arena, "must be %s", daemon_list(ctx, false));
		break;
	}
	if (why != NULL)
		return bad_value(a, value, why);
	*(char **)to = value;
	return CTL_PROCEED;
}

/* The option called name (up to len bytes) in specs, and its table. */
static const ctl_arg *find_option(const spec *specs, size_t n_specs, const char *name, size_t len,
                                  const spec **in, size_t *index)
{
	for (size_t s = 0; s < n_specs; s++) {
		for (size_t i = 0; i < specs[s].n; i++) {
			const ctl_arg *a = &specs[s].args[i];
			if (is_option(a) && strlen(a->name) == len && strncmp(a->name, name, len) == 0) {
				*in = &specs[s];
				*index = i;
				return a;
			}
		}
	}
	return NULL;
}

/* Parses the option at argv[*i] ("--role admin" or "--role=admin"), leaving *i at the
 * last word it took. */
static int parse_option(ctl_ctx *ctx, const spec *specs, size_t n_specs, int argc, char **argv,
                        int *i, const char *command)
{
	char *word = argv[*i];
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);
	const spec *in;
	size_t index;
	const ctl_arg *a = find_option(specs, n_specs, word, len, &in, &index);
	if (a == NULL)
		return ctl_usage_error("unknown option \"%.*s\"; see usherctl %s%s--help", (int)len, word,
		                       command, command[0] ? " " : "");
	if (in->seen[index] && a->kind != CTL_FLAG)
		return ctl_usage_error("%s given twice", a->name);
	in->seen[index] = true;
	char *value;
	if (a->kind == CTL_FLAG) {
		if (eq != NULL)
			return ctl_usage_error("%s takes no value", a->name);
		value = "";
	} else if (eq != NULL) {
		value = (char *)eq + 1;
	} else if (*i + 1 < argc) {
		value = argv[++(*i)];
	} else {
		return ctl_usage_error("%s needs a value (%s %s)", a->name, a->name, metavar(a));
	}
	return store(ctx, in, a, value, argc);
}

/* Parses argv: options of any of specs, positionals into specs[0] ("--" ends the
 * options). */
static int parse_args(ctl_ctx *ctx, const spec *specs, size_t n_specs, int argc, char **argv,
                      const char *command)
{
	size_t next_positional = 0;
	bool only_positionals = false;
	for (int i = 0; i < argc; i++) {
		char *word = argv[i];
		if (!only_positionals && strcmp(word, "--") == 0) {
			only_positionals = true;
			continue;
		}
		if (only_positionals || word[0] != '-' || word[1] == '\0') {
			const ctl_arg *a = NULL;
			for (size_t k = next_positional; k < specs[0].n && a == NULL; k++) {
				if (!is_option(&specs[0].args[k])) {
					a = &specs[0].args[k];
					next_positional = k + ((a->flags & CTL_MANY) ? 0 : 1);
				}
			}
			if (a == NULL)
				return ctl_usage_error("unexpected argument \"%.*s\"; see usherctl %s --help",
				                       SHOWN_MAX, word, command);
			specs[0].seen[a - specs[0].args] = true;
			int rc = store(ctx, &specs[0], a, word, argc);
			if (rc != CTL_PROCEED)
				return rc;
			continue;
		}
		int rc = parse_option(ctx, specs, n_specs, argc, argv, &i, command);
		if (rc != CTL_PROCEED)
			return rc;
	}
	return CTL_PROCEED;
}

static bool *seen_flags(ctl_ctx *ctx, size_t n)
{
	return US_ARENA_ARRAY(ctx->arena, bool, n ? n : 1);
}

/* --- help --- */

/* "accounts create", or "health". */
static const char *command_name(ctl_ctx *ctx, const ctl_group *g, const ctl_command *c)
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
	if (!is_option(a))
		return (a->flags & CTL_OPTIONAL) ? us_arena_printf(ctx->arena, "[%s%s]", a->name,
		                                                   (a->flags & CTL_MANY) ? "..." : "")
		                                 : us_arena_printf(ctx->arena, "%s%s", a->name,
		                                                   (a->flags & CTL_MANY) ? "..." : "");
	const char *body = a->kind == CTL_FLAG ? a->name
	                                       : us_arena_printf(ctx->arena, "%s %s", a->name, metavar(a));
	return (a->flags & CTL_REQUIRED) ? body : us_arena_printf(ctx->arena, "[%s]", body);
}

/* "invitations create ACCOUNT EMAIL... [--role ROLE] ...", every option shown when full,
 * else the optional ones folded into "[OPTIONS]". */
static void print_synopsis(ctl_ctx *ctx, wrapper *w, const ctl_group *g, const ctl_command *c,
                           bool full)
{
	wrap_word(w, command_name(ctx, g, c));
	bool folded = false;
	for (size_t i = 0; i < c->n_args; i++) {
		const ctl_arg *a = &c->args[i];
		if (!full && is_option(a) && !(a->flags & CTL_REQUIRED)) {
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
	const char *name = is_option(a) && a->kind != CTL_FLAG
	                           ? us_arena_printf(ctx->arena, "%s %s", a->name, metavar(a))
	                           : (a->flags & CTL_MANY) ? us_arena_printf(ctx->arena, "%s...", a->name)
	                                                   : a->name;
	const char *text = a->help;
	if (a->kind == CTL_ENUM)
		text = us_arena_printf(ctx->arena, "%s [%s]", a->help, choice_list(ctx, a->choices, true));
	else if (a->kind == CTL_UINT)
		text = us_arena_printf(ctx->arena, "%s [%u-%u]", a->help, a->min, a->max);
	else if (a->kind == CTL_DAEMON)
		text = us_arena_printf(ctx->arena, "%s [%s]", a->help, daemon_list(ctx, true));
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

static void command_help(ctl_ctx *ctx, FILE *out, const ctl_group *g, const ctl_command *c)
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
	for (size_t i = 0; i < CTL_COUNT(global_args); i++)
		print_arg_help(&scratch, out, &global_args[i]);
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

/* --- running --- */

int ctl_parse_global(ctl_ctx *ctx, int argc, char **argv, int *i)
{
	spec global = {global_args, CTL_COUNT(global_args), &ctx->opts,
	               seen_flags(ctx, CTL_COUNT(global_args))};
	if (global.seen == NULL)
		return ctl_fail("out of memory");
	for (; *i < argc && argv[*i][0] == '-'; (*i)++) {
		if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0) {
			ctl_usage(stdout);
			return CTL_OK;
		}
		if (strcmp(argv[*i], "--version") == 0) {
			printf("usherctl %s\n", USHER_VERSION);
			return CTL_OK;
		}
		int rc = parse_option(ctx, &global, 1, argc, argv, i, "");
		if (rc != CTL_PROCEED)
			return rc;
	}
	return CTL_PROCEED;
}

int ctl_run(ctl_ctx *ctx, const ctl_group *group, const ctl_command *cmd, int argc, char **argv)
{
	ctx->cmd = cmd;
	const char *name = command_name(ctx, group, cmd);
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			command_help(ctx, stdout, group, cmd);
			return CTL_OK;
		}
	}
	void *params = us_arena_alloc(ctx->arena, cmd->params_size ? cmd->params_size : 1);
	spec specs[2] = {
		{cmd->args, cmd->n_args, params, seen_flags(ctx, cmd->n_args)},
		{global_args, CTL_COUNT(global_args), &ctx->opts, seen_flags(ctx, CTL_COUNT(global_args))},
	};
	if (params == NULL || specs[0].seen == NULL || specs[1].seen == NULL)
		return ctl_fail("out of memory");
	int rc = parse_args(ctx, specs, 2, argc, argv, name);
	if (rc != CTL_PROCEED)
		return rc;
	for (size_t k = 0; k < cmd->n_args; k++) {
		const ctl_arg *a = &cmd->args[k];
		if (specs[0].seen[k])
			continue;
		if (!is_option(a) && !(a->flags & CTL_OPTIONAL))
			return ctl_usage_error("%s: missing %s; see usherctl %s --help", name, a->name, name);
		if (is_option(a) && (a->flags & CTL_REQUIRED))
			return ctl_usage_error("%s needs %s %s", name, a->name, metavar(a));
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

/* --- calls --- */

uint32_t ctl_timeout_ms(const ctl_ctx *ctx)
{
	if (ctx->opts.timeout_ms != 0)
		return ctx->opts.timeout_ms;
	return ctx->cmd != NULL && ctx->cmd->timeout_ms != 0 ? ctx->cmd->timeout_ms : DEFAULT_TIMEOUT_MS;
}

static char *random_hex(ctl_ctx *ctx, const char *prefix)
{
	unsigned char raw[16];
	char hex[2 * sizeof(raw) + 1];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	return us_arena_printf(ctx->arena, "%s%s", prefix, hex);
}

us_err ctl_try_call(ctl_ctx *ctx, const ctl_target *target, const ProtobufCServiceDescriptor *svc,
                    const char *method, unsigned flags, const ProtobufCMessage *req,
                    ProtobufCMessage **reply, us_status *st)
{
	us_status_init(st);
	const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(svc, method);
	assert(md != NULL && md->input == req->descriptor);
	size_t t = (size_t)(target - ctl_targets);
	const char *url = ctl_target_url(target);
	if (url == NULL)
		return us_status_set(st, US_EUNAVAILABLE, "%s is not set (the address of %s)",
		                     target->env, target->daemon);
	/* The deadline covers connecting too. */
	int64_t deadline = us_monotonic_ms() + ctl_timeout_ms(ctx);
	if (ctx->clients[t] == NULL) {
		char err[256];
		us_rpc_client_opts copts = {.url = url, .caller = "usherctl",
		                            .connect_timeout_ms = ctl_timeout_ms(ctx)};
		us_err rc = us_rpc_client_open(&copts, &ctx->clients[t], err, sizeof(err));
		if (rc != US_OK)
			return us_status_set(st, rc, "%s", err);
	}
	if (!us_rpc_client_signs(ctx->clients[t]))
		return us_status_set(st, US_EUNAUTHENTICATED, "no caller key: set USHER_CALLER_KEY_FILE "
		                                              "to an operator's key");
	int64_t left = deadline - us_monotonic_ms();
	us_rpc_call_opts call = {
		.timeout_ms = left > 0 ? (uint32_t)left : 1,
		.request_id = random_hex(ctx, ""),
		.actor_user_id = ctx->actor_id,
	};
	if (flags & CTL_KEYED) {
		if (ctx->key == NULL)
			ctx->key = ctx->opts.idempotency_key ? ctx->opts.idempotency_key
			                                     : random_hex(ctx, "usherctl-");
		call.idempotency_key = ctx->key;
	}
	const char *full = us_arena_printf(ctx->arena, "%s/%s", svc->name, method);
	if (ctx->opts.verbose)
		fprintf(stderr, "usherctl: calling %s at %s (request id %s%s%s%s%s)\n", full, url,
		        call.request_id, ctx->actor_id ? ", as " : "", ctx->actor_id ? ctx->actor_id : "",
		        call.idempotency_key ? ", idempotency key " : "",
		        call.idempotency_key ? call.idempotency_key : "");
	return us_rpc_call(ctx->clients[t], full, &call, req, md->output, ctx->arena, reply, st);
}

/* Prints a failed call's status (stderr, and the API's error document with --json) and
 * returns the exit code. */
static int report(ctl_ctx *ctx, us_err code, const us_status *st)
{
	/* The daemon's words, and the code for whoever greps for it. */
	fprintf(stderr, "usherctl: %s (%s)\n", st->message[0] ? st->message : us_strerror(code),
	        us_err_name(code));
	for (size_t i = 0; i < st->n_violations; i++)
		fprintf(stderr, "  %s: %s\n", st->violations[i].field, st->violations[i].description);
	if (ctx->opts.json) {
		/* The HTTP API's error document, so scripts read one shape from both. */
		json_t *violations = json_array();
		for (size_t i = 0; i < st->n_violations; i++)
			json_array_append_new(violations,
			                      json_pack("{s:s, s:s}", "field", st->violations[i].field,
			                                "description", st->violations[i].description));
		ctl_print_json(json_pack("{s:s, s:s, s:o}", "code", us_err_name(code), "message",
		                         st->message, "violations", violations));
	}
	return ctl_exit_code(code);
}

int ctl_call(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
             unsigned flags, const ProtobufCMessage *req, ProtobufCMessage **reply)
{
	const ctl_target *target = ctl_target_serving(svc->name);
	assert(target != NULL);
	if (ctl_target_url(target) == NULL)
		return ctl_usage_error("%s is not set (the address of %s)", target->env, target->daemon);
	us_status st;
	us_err rc = ctl_try_call(ctx, target, svc, method, flags, req, reply, &st);
	int code = rc == US_OK ? CTL_OK : report(ctx, rc, &st);
	us_status_clear(&st);
	return code;
}

/* The field called name of d; the protos guarantee it is there. */
static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *d, const char *name)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
	assert(f != NULL);
	return f;
}

#define MEMBER(msg, f, type) ((type *)((char *)(msg) + (f)->offset))
#define COUNT(msg, f) ((size_t *)((char *)(msg) + (f)->quantifier_offset))

int ctl_call_pages(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
                   ProtobufCMessage *req, uint32_t limit, ProtobufCMessage **reply)
{
	const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(svc, method);
	assert(md != NULL);
	const ProtobufCFieldDescriptor *size_f = field_of(req->descriptor, "page_size");
	const ProtobufCFieldDescriptor *token_f = field_of(req->descriptor, "page_token");
	const ProtobufCFieldDescriptor *next_f = field_of(md->output, "next_page_token");
	const ProtobufCFieldDescriptor *items_f = NULL;
	for (unsigned i = 0; i < md->output->n_fields && items_f == NULL; i++) {
		const ProtobufCFieldDescriptor *f = &md->output->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE)
			items_f = f;
	}
	assert(items_f != NULL);

	ProtobufCMessage **all = NULL;
	size_t n = 0, cap = 0;
	ProtobufCMessage *page;
	for (;;) {
		uint32_t want = PAGE_MAX;
		if (limit != 0 && limit - n < want)
			want = limit - (uint32_t)n;
		*MEMBER(req, size_f, uint32_t) = want;
		int rc = ctl_call(ctx, svc, method, 0, req, &page);
		if (rc != CTL_OK)
			return rc;
		size_t got = *COUNT(page, items_f);
		ProtobufCMessage **items = *MEMBER(page, items_f, ProtobufCMessage **);
		if (n + got > cap) {
			cap = (n + got) * 2;
			ProtobufCMessage **grown = US_ARENA_ARRAY(ctx->arena, ProtobufCMessage *, cap);
			if (grown == NULL)
				return ctl_fail("out of memory");
			if (n > 0)
				memcpy(grown, all, n * sizeof(*all));
			all = grown;
		}
		if (got > 0)
			memcpy(all + n, items, got * sizeof(*items));
		n += got;
		char *next = *MEMBER(page, next_f, char *);
		*MEMBER(req, token_f, char *) = next;
		/* An empty page ends it too, whatever its token says, so a server bug cannot
		 * keep usherctl asking for ever. */
		if (next == NULL || next[0] == '\0' || got == 0 || (limit != 0 && n >= limit))
			break;
	}
	*MEMBER(page, items_f, ProtobufCMessage **) = all;
	*COUNT(page, items_f) = n;
	*reply = page;
	return CTL_OK;
}

void ctl_note_more(const ProtobufCMessage *reply, const char *what, uint32_t limit)
{
	const char *next = *MEMBER(reply, field_of(reply->descriptor, "next_page_token"), char *);
	if (next != NULL && next[0] != '\0')
		fprintf(stderr, "usherctl: more than %u %s match; raise --limit to see them\n", limit,
		        what);
}

int ctl_call_show(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
                  unsigned flags, const ProtobufCMessage *req, const char *field)
{
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, svc, method, flags, req, &reply);
	if (rc != CTL_OK)
		return rc;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	const ProtobufCMessage *m = *MEMBER(reply, field_of(reply->descriptor, field), ProtobufCMessage *);
	if (m != NULL)
		ctl_print_record(ctx, m);
	return CTL_OK;
}

int ctl_resolve_user(ctl_ctx *ctx, const char *user, char **id)
{
	if (strchr(user, '@') == NULL) {
		*id = (char *)user;
		return CTL_OK;
	}
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = (char **)&user;
	req.n_emails = 1;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, &usher__v1__identity_service__descriptor, "LookupEmails", 0, &req.base,
	                  &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__LookupEmailsReply *r = (const Usher__V1__LookupEmailsReply *)reply;
	if (r->n_matches == 0) {
		us_status st;
		us_status_init(&st);
		us_status_set(&st, US_ENOTFOUND, "no user has the email \"%s\"", user);
		rc = report(ctx, US_ENOTFOUND, &st);
		us_status_clear(&st);
		return rc;
	}
	*id = r->matches[0]->user_id;
	return CTL_OK;
}

/* --- output --- */

void ctl_print_json(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	if (text == NULL)
		fputs("usherctl: out of memory\n", stderr);
	else
		printf("%s\n", text);
	free(text);
	json_decref(doc);
}

void ctl_print_message_json(const ProtobufCMessage *msg)
{
	ctl_print_json(us_pbjson_encode(msg));
}

const char *ctl_enum_label(ctl_ctx *ctx, const ProtobufCEnumDescriptor *e, int value)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
	if (v == NULL || value == 0)
		return "-";
	/* Our enums prefix every value with their kind: ROLE_MEMBER, INVITATION_PENDING. */
	const char *underscore = strchr(v->name, '_');
	char *label = us_arena_strdup(ctx->arena, underscore ? underscore + 1 : v->name);
	if (label == NULL)
		return "-";
	lowercase(label);
	return label;
}

static const char *scope_text(ctl_ctx *ctx, const Usher__V1__Scope *s)
{
	if (s == NULL)
		return "-";
	if (s->organization)
		return "organization";
	if (s->n_subaccount_ids == 0)
		return "-";
	char *out = "subaccounts";
	for (size_t i = 0; i < s->n_subaccount_ids; i++)
		out = us_arena_printf(ctx->arena, "%s%s%s", out, i ? "," : " ", s->subaccount_ids[i]);
	return out;
}

/* The text of one value of f stored at p. */
static const char *value_text(ctl_ctx *ctx, const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return s != NULL && s[0] != '\0' ? s : "-";
	}
	case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p ? "yes" : "no";
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return us_arena_printf(ctx->arena, "%u", *(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return us_arena_printf(ctx->arena, "%d", *(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return us_arena_printf(ctx->arena, "%llu", (unsigned long long)*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return us_arena_printf(ctx->arena, "%lld", (long long)*(const int64_t *)p);
	case PROTOBUF_C_TYPE_ENUM: return ctl_enum_label(ctx, f->descriptor, *(const int *)p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		if (m == NULL)
			return "-";
		if (m->descriptor == &usher__v1__scope__descriptor)
			return scope_text(ctx, (const Usher__V1__Scope *)m);
		json_t *doc = us_pbjson_encode(m);
		char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		const char *out = text ? us_arena_strdup(ctx->arena, text) : "-";
		free(text);
		json_decref(doc);
		return out;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return us_arena_printf(ctx->arena, "(%zu bytes)", ((const ProtobufCBinaryData *)p)->len);
	default: return "?";
	}
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64: return 8;
	case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
	default: return 4;
	}
}

static const char *field_text(ctl_ctx *ctx, const ProtobufCMessage *msg,
                              const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return value_text(ctx, f, (const char *)msg + f->offset);
	size_t n = *COUNT(msg, f);
	const char *items = *(char *const *)((const char *)msg + f->offset);
	if (n == 0)
		return "-";
	char *out = "";
	for (size_t i = 0; i < n; i++)
		out = us_arena_printf(ctx->arena, "%s%s%s", out, i ? "," : "",
		                      value_text(ctx, f, items + i * value_size(f)));
	return out;
}

const char *ctl_field_text(ctl_ctx *ctx, const ProtobufCMessage *msg, const char *field)
{
	return field_text(ctx, msg, field_of(msg->descriptor, field));
}

void ctl_print_record(ctl_ctx *ctx, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	int width = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		int len = (int)strlen(d->fields[i].name);
		width = len > width ? len : width;
	}
	for (unsigned i = 0; i < d->n_fields; i++)
		printf("%-*s  %s\n", width, d->fields[i].name, field_text(ctx, msg, &d->fields[i]));
}

struct ctl_table {
	ctl_ctx *ctx;
	size_t n_cols;
	const char *const *headers;
	const char ***rows;
	size_t n_rows, cap;
	bool failed;
};

ctl_table *ctl_table_new(ctl_ctx *ctx, size_t n_cols, const char *const *headers)
{
	ctl_table *t = US_ARENA_NEW(ctx->arena, ctl_table);
	if (t == NULL)
		return NULL;
	t->ctx = ctx;
	t->n_cols = n_cols;
	t->headers = headers;
	return t;
}

void ctl_table_add(ctl_table *t, const char *const *cells)
{
	if (t == NULL)
		return;
	if (t->n_rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		const char ***rows = US_ARENA_ARRAY(t->ctx->arena, const char **, cap);
		if (rows == NULL) {
			t->failed = true;
			return;
		}
		if (t->n_rows > 0)
			memcpy(rows, t->rows, t->n_rows * sizeof(*rows));
		t->rows = rows;
		t->cap = cap;
	}
	const char **row = US_ARENA_ARRAY(t->ctx->arena, const char *, t->n_cols);
	if (row == NULL) {
		t->failed = true;
		return;
	}
	memcpy(row, cells, t->n_cols * sizeof(*row));
	t->rows[t->n_rows++] = row;
}

/* Columns a cell takes on a terminal: UTF-8 characters, not bytes. */
static size_t columns(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* An empty cell shows as "-", so columns stay readable. */
static const char *cell_text(const char *cell)
{
	return cell != NULL && cell[0] != '\0' ? cell : "-";
}

static void print_row(const ctl_table *t, const char *const *cells, const size_t *widths)
{
	for (size_t c = 0; c < t->n_cols; c++) {
		const char *cell = cell_text(cells[c]);
		fputs(cell, stdout);
		if (c + 1 < t->n_cols)
			printf("%*s", (int)(widths[c] - columns(cell) + 2), "");
	}
	putchar('\n');
}

void ctl_table_print(const ctl_table *t)
{
	if (t == NULL || t->failed) {
		fputs("usherctl: out of memory\n", stderr);
		return;
	}
	size_t *widths = US_ARENA_ARRAY(t->ctx->arena, size_t, t->n_cols);
	if (widths == NULL)
		return;
	for (size_t c = 0; c < t->n_cols; c++) {
		widths[c] = columns(t->headers[c]);
		for (size_t r = 0; r < t->n_rows; r++) {
			size_t w = columns(cell_text(t->rows[r][c]));
			widths[c] = w > widths[c] ? w : widths[c];
		}
	}
	print_row(t, t->headers, widths);
	for (size_t r = 0; r < t->n_rows; r++)
		print_row(t, t->rows[r], widths);
}

void ctl_print_messages(ctl_ctx *ctx, size_t n_cols, const char *const *headers,
                        const char *const *fields, ProtobufCMessage *const *msgs, size_t n)
{
	ctl_table *t = ctl_table_new(ctx, n_cols, headers);
	const char **cells = US_ARENA_ARRAY(ctx->arena, const char *, n_cols);
	for (size_t r = 0; t != NULL && cells != NULL && r < n; r++) {
		for (size_t c = 0; c < n_cols; c++)
			cells[c] = ctl_field_text(ctx, msgs[r], fields[c]);
		ctl_table_add(t, cells);
	}
	ctl_table_print(t);
}
