/* What usherctl's commands share: exit codes, the declarative description of a command's
 * arguments (parsed, validated and turned into --help by ctl.c), calls to the daemons with
 * the actor and the idempotency key, and output as tables, records or JSON.
 *
 * A command is a ctl_command: a table of ctl_arg saying where each argument lands in the
 * command's own params struct, and a run function that gets that struct filled and
 * checked. Nothing is sent to a daemon before every argument has passed its check.
 *
 * The modules: ctl.c runs a command (and words errors), args.c parses and checks
 * arguments, help.c prints --help, call.c calls the daemons, output.c prints tables,
 * records and JSON. */
#ifndef USHERCTL_CTL_H
#define USHERCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "common/arena.h"
#include "common/rpc_client.h"
#include "common/status.h"
#include "targets.h"

/* Exit codes, documented in --help and docs/usherctl.md. */
enum {
	CTL_OK = 0,
	CTL_FAILED = 1,
	CTL_USAGE = 2,       /* nothing was changed: a bad argument, input file or setting */
	CTL_PARTIAL = 3,     /* a batch where some addresses were not (or would not be) created */
	CTL_DENIED = 4,      /* PERMISSION_DENIED or UNAUTHENTICATED */
	CTL_UNAVAILABLE = 5, /* UNAVAILABLE or DEADLINE_EXCEEDED */
};

/* Returned by the argument parsing (ctl_parse_global) when the run should go on; every
 * other value is an exit code. */
#define CTL_PROCEED (-1)

/* The global options, accepted before or after the command words. */
typedef struct ctl_opts {
	bool json;
	bool verbose;
	uint32_t timeout_ms;   /* 0: the command's default */
	char *as;              /* --as: a user id or an email, as given */
	char *idempotency_key; /* NULL: a fresh random key */
} ctl_opts;

/* What an argument's value must be, and where it goes (the type in the params struct). */
typedef enum ctl_kind {
	CTL_FLAG,     /* bool; an option without a value */
	CTL_TEXT,     /* char *: 1 to max bytes (0: 1,000) */
	CTL_NAME,     /* char *: a name for people, 1 to 200 bytes of UTF-8 */
	CTL_UUID,     /* char *: a UUID, lowercased */
	CTL_USER,     /* char *: a user id (UUID) or an email address, normalised */
	CTL_EMAIL,    /* char *: an email address, normalised */
	CTL_UINT,     /* uint32_t: min to max; 0 means not given */
	CTL_ENUM,     /* int: a value of choices, named as ctl_enum_label() names it */
	CTL_PRODUCTS, /* ctl_list: comma-separated product names, at most max */
	CTL_DOMAINS,  /* ctl_list: comma-separated email domains, lowercased, at most max */
	CTL_DAEMON,   /* char *: a daemon, "identity" or "usher-identityd" */
} ctl_kind;

typedef struct ctl_list {
	char **items;
	size_t n;
} ctl_list;

/* ctl_arg.flags */
#define CTL_REQUIRED 0x1u /* an option that must be given ("--owner") */
#define CTL_OPTIONAL 0x2u /* a positional that may be left out */
#define CTL_MANY 0x4u     /* the last positional, repeated; its value is a ctl_list */

typedef struct ctl_arg {
	const char *name;    /* "--role" for an option, "ACCOUNT" for a positional */
	ctl_kind kind;
	size_t offset;       /* of the value in the command's params struct */
	const char *help;
	unsigned flags;
	const char *metavar; /* an option's value in usage lines; NULL: from the kind */
	uint32_t min, max;   /* CTL_UINT range; CTL_TEXT bytes; lists and CTL_MANY items */
	const ProtobufCEnumDescriptor *choices; /* CTL_ENUM */
} ctl_arg;

typedef struct ctl_ctx ctl_ctx;

/* ctl_command.flags */
#define CTL_NEEDS_ACTOR 0x1u /* --as is required: the daemon checks the actor's rights */
#define CTL_NO_ACTOR 0x2u    /* --as makes no sense here and is refused */

typedef struct ctl_command {
	const char *name;     /* "create"; "" when the group is the command ("health") */
	const char *summary;  /* one line */
	const char *detail;   /* more for COMMAND --help, or NULL */
	const ctl_arg *args;
	size_t n_args;
	size_t params_size;   /* the struct the args are parsed into, zeroed first */
	unsigned flags;
	uint32_t timeout_ms;  /* the per-call deadline when --timeout is not given; 0: 2 s */
	int (*run)(ctl_ctx *ctx, void *params);
	/* For a run function shared by commands that differ only in the method they call
	 * ("Deactivate", "Reactivate"): the method and its ctl_call flags. */
	const char *method;
	unsigned call_flags;
} ctl_command;

typedef struct ctl_group {
	const char *name;     /* "invitations" */
	const char *summary;
	const ctl_command *commands;
	size_t n_commands;
} ctl_group;

#define CTL_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The command groups, in --help order. */
extern const ctl_group ctl_users_group, ctl_accounts_group, ctl_subaccounts_group, ctl_invitations_group,
        ctl_links_group, ctl_members_group, ctl_deliveries_group, ctl_events_group,
        ctl_webhooks_group, ctl_migrate_group,
        ctl_health_group, ctl_principals_group, ctl_keys_group, ctl_audit_group;
extern const ctl_group *const ctl_groups[];
extern const size_t ctl_n_groups;

struct ctl_ctx {
	ctl_opts opts;
	us_arena *arena;               /* everything of this run; freed at exit */
	const ctl_command *cmd;        /* the command being run */
	char *actor_id;                /* the user the calls act for, or NULL */
	char *key;                     /* the idempotency key, made at the first keyed call */
	us_rpc_client *clients[CTL_MAX_TARGETS];
};

/* --- running a command --- */

/* The global options before the command words: parses argv from *i on and leaves *i at
 * the first word that is not an option. Returns CTL_PROCEED or an exit code (--help and
 * --version print and give CTL_OK). */
int ctl_parse_global(ctl_ctx *ctx, int argc, char **argv, int *i);

/* Runs cmd of group with its arguments (options may include the global ones): parses and
 * checks them, resolves --as, runs the command. Returns the exit code. */
int ctl_run(ctl_ctx *ctx, const ctl_group *group, const ctl_command *cmd, int argc, char **argv);

/* Prints what usherctl does, every command's usage, the options, the settings and the
 * exit codes. */
void ctl_usage(FILE *out);

/* Prints the group's commands and what they do. */
void ctl_group_usage(FILE *out, const ctl_group *group);

/* Closes the clients and frees the arena. */
void ctl_finish(ctl_ctx *ctx);

/* --- errors --- */

/* Prints "usherctl: <message>" on stderr and returns CTL_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "usherctl: <message>" on stderr and returns CTL_FAILED. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit code for an RPC status code. */
int ctl_exit_code(us_err code);

/* --- calls --- */

/* The deadline of each call: --timeout, else the command's default. */
uint32_t ctl_timeout_ms(const ctl_ctx *ctx);

/* ctl_call flags */
#define CTL_KEYED 0x1u /* a mutating method: send the run's idempotency key */

/* Calls svc's method (its short name, "CreateInvitations") on the daemon that serves svc,
 * as the actor (if any), and unpacks the reply into the run's arena. On failure prints
 * the error (on stderr, and as the HTTP API's error document with --json) and returns
 * the exit code. Each command makes at most one keyed call, so one key per run lets an
 * operator retry the whole command safely. */
int ctl_call(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
             unsigned flags, const ProtobufCMessage *req, ProtobufCMessage **reply);

/* The same on a given daemon (Admin/MigrationStatus is served by several), returning
 * the status code and filling st (us_status_clear() it) without printing anything. */
US_MUST_USE us_err ctl_try_call(ctl_ctx *ctx, const ctl_target *target,
                                const ProtobufCServiceDescriptor *svc, const char *method,
                                unsigned flags, const ProtobufCMessage *req,
                                ProtobufCMessage **reply, us_status *st);

/* The client of target, opened at first use (the run keeps it); fills st on failure. */
US_MUST_USE us_err ctl_client(ctl_ctx *ctx, const ctl_target *target, us_rpc_client **out,
                              us_status *st);

/* Prints a failed call's status (stderr, and the API's error document with --json) and
 * returns the exit code. */
int ctl_report(ctl_ctx *ctx, us_err code, const us_status *st);

/* A list method that pages (page_size, page_token → a repeated message field and
 * next_page_token): calls it until limit items (0: all) or the last page, and returns
 * one reply holding every item, with the next_page_token of the last page read. */
int ctl_call_pages(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
                   ProtobufCMessage *req, uint32_t limit, ProtobufCMessage **reply);

/* ctl_call, then prints the reply: as JSON with --json, else the record of its message
 * field called field ("invitation" of a GetInvitationReply). */
int ctl_call_show(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
                  unsigned flags, const ProtobufCMessage *req, const char *field);

/* After a paged list cut at limit: says on stderr when more items (what: "invitations")
 * than limit match, so a table never silently hides rows. */
void ctl_note_more(const ProtobufCMessage *reply, const char *what, uint32_t limit);

/* A user given as an id or an email (CTL_USER) as a user id, looked up with
 * IdentityService/LookupEmails when it is an email. Returns an exit code. */
int ctl_resolve_user(ctl_ctx *ctx, const char *user, char **id);

/* --- output --- */

/* The field called name of d; the protos guarantee it is there. */
const ProtobufCFieldDescriptor *ctl_field_of(const ProtobufCMessageDescriptor *d,
                                             const char *name);
/* A field's value in msg, as type; a repeated field's count. */
#define CTL_MEMBER(msg, f, type) ((type *)((char *)(msg) + (f)->offset))
#define CTL_REPEATED_N(msg, f) ((size_t *)((char *)(msg) + (f)->quantifier_offset))

/* Prints doc (stolen) as one JSON document on stdout. */
void ctl_print_json(json_t *doc);

/* Prints msg in the proto3 JSON mapping, as the HTTP API returns it. */
void ctl_print_message_json(const ProtobufCMessage *msg);

/* "pending" for INVITATION_PENDING, "member" for ROLE_MEMBER: the value's name without
 * its prefix, lowercased; "-" for the unspecified 0. */
const char *ctl_enum_label(ctl_ctx *ctx, const ProtobufCEnumDescriptor *e, int value);

/* A field of msg as table text: enums by label, repeated values joined by commas, a
 * Scope as "organization" or its subaccounts, "-" when empty. */
const char *ctl_field_text(ctl_ctx *ctx, const ProtobufCMessage *msg, const char *field);

/* Prints every field of msg, one "name  value" line each. */
void ctl_print_record(ctl_ctx *ctx, const ProtobufCMessage *msg);

/* An aligned table for people. Cells are borrowed and must outlive the print. */
typedef struct ctl_table ctl_table;

ctl_table *ctl_table_new(ctl_ctx *ctx, size_t n_cols, const char *const *headers);
void ctl_table_add(ctl_table *t, const char *const *cells);
void ctl_table_print(const ctl_table *t);

/* A table of messages, one column per field: headers[i] shows fields[i]. */
void ctl_print_messages(ctl_ctx *ctx, size_t n_cols, const char *const *headers,
                        const char *const *fields, ProtobufCMessage *const *msgs, size_t n);

#endif
