#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/idempotency.h"
#include "common/limits.h"
#include "common/validate.h"

#ifndef USHER_VERSION
#define USHER_VERSION "0.0.0"
#endif

#define TEXT_MAX 1000
#define SHOWN_MAX 60 /* bytes of a bad value quoted back in an error */

const ctl_arg ctl_args_global[] = {
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

const size_t ctl_args_n_global = sizeof(ctl_args_global) / sizeof(ctl_args_global[0]);

bool ctl_args_is_option(const ctl_arg *a) { return a->name[0] == '-'; }

static void *slot(const ctl_args_spec *s, const ctl_arg *a) { return (char *)s->base + a->offset; }

const char *ctl_args_metavar(const ctl_arg *a)
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
const char *ctl_args_choice_list(ctl_ctx *ctx, const ProtobufCEnumDescriptor *e, bool bars)
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
const char *ctl_args_daemon_list(ctl_ctx *ctx, bool bars)
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

void ctl_args_lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
}

static const char *product_check(const char *p)
{
	size_t len = strlen(p);
	if (len == 0 || len > US_PRODUCT_NAME_MAX_BYTES || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
		return "must be a product name of 1 to " US_LIMIT_TEXT(US_PRODUCT_NAME_MAX_BYTES)
		       " characters from a-z, 0-9, '_', '.' and '-'";
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
static int take_list(ctl_ctx *ctx, const ctl_arg *a, char *value, ctl_list *out)
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
			ctl_args_lowercase(item);
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
static int take_value(ctl_ctx *ctx, const ctl_args_spec *s, const ctl_arg *a, char *value, int argc)
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
		ctl_args_spec single = {.args = NULL, .n = 0, .base = &one, .seen = NULL};
		ctl_arg as_one = *a;
		as_one.flags &= ~CTL_MANY;
		as_one.offset = 0;
		as_one.max = 0;
		int rc = take_value(ctx, &single, &as_one, value, argc);
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
		why = us_name_check(value, US_NAME_MAX_BYTES);
		break;
	case CTL_UUID:
		ctl_args_lowercase(value);
		why = us_uuid_check(value);
		break;
	case CTL_USER:
	case CTL_EMAIL:
		if (a->kind == CTL_USER && strchr(value, '@') == NULL) {
			ctl_args_lowercase(value);
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
		why = us_arena_printf(ctx->arena, "must be %s", ctl_args_choice_list(ctx, a->choices, false));
		break;
	case CTL_PRODUCTS:
	case CTL_DOMAINS:
		return take_list(ctx, a, value, to);
	case CTL_DAEMON:
		if (ctl_target_find(value) == NULL)
			why = us_arena_printf(ctx->arena, "must be %s", ctl_args_daemon_list(ctx, false));
		break;
	}
	if (why != NULL)
		return bad_value(a, value, why);
	*(char **)to = value;
	return CTL_PROCEED;
}

/* The option called name (up to len bytes) in specs, and its table. */
static const ctl_arg *find_option(const ctl_args_spec *specs, size_t n_specs, const char *name, size_t len,
                                  const ctl_args_spec **in, size_t *index)
{
	for (size_t s = 0; s < n_specs; s++) {
		for (size_t i = 0; i < specs[s].n; i++) {
			const ctl_arg *a = &specs[s].args[i];
			if (ctl_args_is_option(a) && strlen(a->name) == len && strncmp(a->name, name, len) == 0) {
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
static int parse_option(ctl_ctx *ctx, const ctl_args_spec *specs, size_t n_specs, int argc, char **argv,
                        int *i, const char *command)
{
	char *word = argv[*i];
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);
	const ctl_args_spec *in;
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
		return ctl_usage_error("%s needs a value (%s %s)", a->name, a->name, ctl_args_metavar(a));
	}
	return take_value(ctx, in, a, value, argc);
}

/* Parses argv: options of any of specs, positionals into specs[0] ("--" ends the
 * options). */
int ctl_args_parse(ctl_ctx *ctx, const ctl_args_spec *specs, size_t n_specs, int argc, char **argv,
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
				if (!ctl_args_is_option(&specs[0].args[k])) {
					a = &specs[0].args[k];
					next_positional = k + ((a->flags & CTL_MANY) ? 0 : 1);
				}
			}
			if (a == NULL)
				return ctl_usage_error("unexpected argument \"%.*s\"; see usherctl %s --help",
				                       SHOWN_MAX, word, command);
			specs[0].seen[a - specs[0].args] = true;
			int rc = take_value(ctx, &specs[0], a, word, argc);
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

bool *ctl_args_seen(ctl_ctx *ctx, size_t n)
{
	return US_ARENA_ARRAY(ctx->arena, bool, n ? n : 1);
}

int ctl_parse_global(ctl_ctx *ctx, int argc, char **argv, int *i)
{
	ctl_args_spec global = {ctl_args_global, ctl_args_n_global, &ctx->opts,
	               ctl_args_seen(ctx, ctl_args_n_global)};
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

