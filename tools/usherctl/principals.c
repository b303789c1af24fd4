/* usherctl principals: service principals (usher.v1.PrincipalService at usher-identityd),
 * the platform's internal services calling Usher as themselves within a scope; and
 * usherctl keys, which makes Ed25519 key pairs for daemons and operators. A key pair is
 * made here and only its public half is sent: the secret is shown once and kept nowhere. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/caller_key.h"
#include "ctl.h"
#include "usher/v1/principal.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define PRINCIPALS (&usher__v1__principal_service__descriptor)
#define LIST_MAX 100
#define DEFAULT_OVERLAP_HOURS 24

/* "a,b,c" as a list in the run's arena; empty items are refused. */
static int split_list(ctl_ctx *ctx, const char *what, const char *text, char ***items, size_t *n)
{
	char *copy = us_arena_strdup(ctx->arena, text);
	*items = US_ARENA_ARRAY(ctx->arena, char *, LIST_MAX);
	*n = 0;
	if (copy == NULL || *items == NULL)
		return ctl_fail("out of memory");
	for (char *item = copy, *next; item != NULL; item = next) {
		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		if (item[0] == '\0' || *n == LIST_MAX)
			return ctl_usage_error("%s: give 1 to %d comma-separated values", what, LIST_MAX);
		(*items)[(*n)++] = item;
	}
	return CTL_PROCEED;
}

/* Shows the new secret once, after the principal. */
static int show_with_secret(ctl_ctx *ctx, const Usher__V1__Principal *p, const char *secret)
{
	if (ctx->opts.json) {
		json_t *doc = json_pack("{s:s, s:s, s:s}", "principal", p->name, "id", p->id, "secret",
		                        secret);
		ctl_print_json(doc);
	} else {
		ctl_print_record(ctx, &p->base);
		printf("\nsecret  %s\n", secret);
		fprintf(stderr, "usherctl: the secret is shown only now; Usher keeps only its public "
		                "half. Give it to the service (RPC: USHER_CALLER_KEY; HTTP: "
		                "\"Authorization: Bearer <secret>\").\n");
	}
	return CTL_OK;
}

/* Did the reply keep our new public key? A repeat of an idempotency key replays an
 * earlier run's reply, whose key this run's secret does not match. */
static bool holds_key(const Usher__V1__Principal *p, const char *public_hex)
{
	for (size_t i = 0; i < p->n_keys; i++) {
		if (strcmp(p->keys[i]->public_key, public_hex) == 0)
			return true;
	}
	return false;
}

static void new_key(us_caller_key *key, char secret[US_CALLER_SECRET_TEXT_LEN + 1],
                    char public_hex[US_PUBLIC_KEY_HEX_LEN + 1])
{
	us_caller_key_generate(key, secret);
	us_public_key_hex(key->public_key, public_hex);
	us_caller_key_wipe(key);
}

typedef struct create_params {
	char *name;
	char *accounts;
	bool all_accounts;
	char *methods;
	int max_role;
} create_params;

static int run_create(ctl_ctx *ctx, void *params)
{
	const create_params *p = params;
	Usher__V1__CreatePrincipalRequest req = USHER__V1__CREATE_PRINCIPAL_REQUEST__INIT;
	req.name = p->name;
	req.all_accounts = p->all_accounts;
	req.max_role = (Usher__V1__Role)p->max_role;
	if ((p->accounts != NULL) == p->all_accounts)
		return ctl_usage_error("give --accounts ID,... or --all-accounts");
	int rc = CTL_PROCEED;
	if (p->accounts != NULL)
		rc = split_list(ctx, "--accounts", p->accounts, &req.account_ids, &req.n_account_ids);
	if (rc == CTL_PROCEED)
		rc = split_list(ctx, "--methods", p->methods, &req.methods, &req.n_methods);
	if (rc != CTL_PROCEED)
		return rc;
	us_caller_key key;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1], public_hex[US_PUBLIC_KEY_HEX_LEN + 1];
	new_key(&key, secret, public_hex);
	req.public_key = public_hex;
	ProtobufCMessage *reply;
	rc = ctl_call(ctx, PRINCIPALS, "CreatePrincipal", CTL_KEYED, &req.base, &reply);
	const Usher__V1__Principal *pr = rc == CTL_OK ? ((Usher__V1__PrincipalReply *)reply)->principal
	                                              : NULL;
	if (pr != NULL && !holds_key(pr, public_hex))
		rc = ctl_fail("principal \"%s\" was created by an earlier run with this idempotency "
		              "key, whose secret was shown then; to get a new one: usherctl principals "
		              "rotate %s", pr->name, pr->name);
	else if (pr != NULL)
		rc = show_with_secret(ctx, pr, secret);
	sodium_memzero(secret, sizeof(secret));
	return rc;
}

static int run_list(ctl_ctx *ctx, void *params)
{
	(void)params;
	Usher__V1__ListPrincipalsRequest req = USHER__V1__LIST_PRINCIPALS_REQUEST__INIT;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, PRINCIPALS, "ListPrincipals", 0, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	const Usher__V1__ListPrincipalsReply *r = (const Usher__V1__ListPrincipalsReply *)reply;
	static const char *const headers[] = {"NAME", "ID", "ACCOUNTS", "METHODS", "MAX ROLE",
	                                      "KEY", "EXPIRES", "LAST USED", "REVOKED"};
	ctl_table *t = ctl_table_new(ctx, CTL_COUNT(headers), headers);
	for (size_t i = 0; i < r->n_principals; i++) {
		const Usher__V1__Principal *p = r->principals[i];
		const char *accounts = p->all_accounts ? "all" : ctl_field_text(ctx, &p->base, "account_ids");
		/* One row per key, the principal's columns on its first. */
		for (size_t k = 0; k < (p->n_keys ? p->n_keys : 1); k++) {
			const Usher__V1__PrincipalKey *key = p->n_keys ? p->keys[k] : NULL;
			const char *key_text = key ? us_arena_printf(ctx->arena, "%.16s…", key->public_key) : "-";
			const char *cells[] = {
				k == 0 ? p->name : "",
				k == 0 ? p->id : "",
				k == 0 ? accounts : "",
				k == 0 ? ctl_field_text(ctx, &p->base, "methods") : "",
				k == 0 ? ctl_enum_label(ctx, &usher__v1__role__descriptor, (int)p->max_role) : "",
				key_text,
				key && key->expires_at[0] ? key->expires_at : "-",
				key && key->last_used_at[0] ? key->last_used_at : "-",
				k == 0 && p->revoked_at[0] ? p->revoked_at : (k == 0 ? "-" : ""),
			};
			ctl_table_add(t, cells);
		}
	}
	ctl_table_print(t);
	return CTL_OK;
}

typedef struct rotate_params {
	char *principal;
	uint32_t overlap_hours;
	bool now;
} rotate_params;

static int run_rotate(ctl_ctx *ctx, void *params)
{
	const rotate_params *p = params;
	if (p->now && p->overlap_hours != 0)
		return ctl_usage_error("give --overlap-hours or --now, not both");
	Usher__V1__RotatePrincipalKeyRequest req = USHER__V1__ROTATE_PRINCIPAL_KEY_REQUEST__INIT;
	req.principal = p->principal;
	req.overlap_seconds = p->now ? 0 : (p->overlap_hours ? p->overlap_hours : DEFAULT_OVERLAP_HOURS) * 3600;
	us_caller_key key;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1], public_hex[US_PUBLIC_KEY_HEX_LEN + 1];
	new_key(&key, secret, public_hex);
	req.public_key = public_hex;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, PRINCIPALS, "RotatePrincipalKey", CTL_KEYED, &req.base, &reply);
	const Usher__V1__Principal *pr = rc == CTL_OK ? ((Usher__V1__PrincipalReply *)reply)->principal
	                                              : NULL;
	if (pr != NULL && !holds_key(pr, public_hex))
		rc = ctl_fail("this idempotency key already rotated \"%s\" in an earlier run, whose "
		              "secret was shown then; rotate again without it for a new one", pr->name);
	else if (pr != NULL)
		rc = show_with_secret(ctx, pr, secret);
	sodium_memzero(secret, sizeof(secret));
	return rc;
}

typedef struct ref_params {
	char *principal;
} ref_params;

static int run_ref(ctl_ctx *ctx, void *params)
{
	const ref_params *p = params;
	Usher__V1__PrincipalRef req = USHER__V1__PRINCIPAL_REF__INIT;
	req.principal = p->principal;
	return ctl_call_show(ctx, PRINCIPALS, ctx->cmd->method, CTL_KEYED, &req.base, "principal");
}

static const ctl_arg create_args[] = {
	{.name = "NAME", .kind = CTL_TEXT, .offset = offsetof(create_params, name), .max = 63,
	 .help = "the service's name: a-z, 0-9, _ . - (e.g. billing-sync)"},
	{.name = "--accounts", .kind = CTL_TEXT, .offset = offsetof(create_params, accounts),
	 .metavar = "ID,...", .max = 4000, .help = "the accounts it may act in"},
	{.name = "--all-accounts", .kind = CTL_FLAG, .offset = offsetof(create_params, all_accounts),
	 .help = "it may act in every account"},
	{.name = "--methods", .kind = CTL_TEXT, .offset = offsetof(create_params, methods),
	 .metavar = "M,...", .max = 4000, .flags = CTL_REQUIRED,
	 .help = "what it may call: usher.v1.TenancyService/Check, usher.v1.InvitationService/*"},
	{.name = "--max-role", .kind = CTL_ENUM, .offset = offsetof(create_params, max_role),
	 .metavar = "ROLE", .choices = &usher__v1__role__descriptor,
	 .help = "the highest role it may invite at (default: it invites nobody)"},
};

static const ctl_arg rotate_args[] = {
	{.name = "PRINCIPAL", .kind = CTL_TEXT, .offset = offsetof(rotate_params, principal),
	 .max = 100, .help = "its name or id"},
	{.name = "--overlap-hours", .kind = CTL_UINT, .offset = offsetof(rotate_params, overlap_hours),
	 .min = 1, .max = 720, .help = "how long the older keys keep working (default 24)"},
	{.name = "--now", .kind = CTL_FLAG, .offset = offsetof(rotate_params, now),
	 .help = "the older keys stop working at once (a leaked key)"},
};

static const ctl_arg ref_args[] = {
	{.name = "PRINCIPAL", .kind = CTL_TEXT, .offset = offsetof(ref_params, principal),
	 .max = 100, .help = "its name or id"},
};

static const ctl_command commands[] = {
	{.name = "create", .summary = "create a service principal and show its secret once",
	 .detail = "Example:\n"
	           "  usherctl principals create billing-sync --accounts ACCOUNT_ID \\\n"
	           "      --methods usher.v1.InvitationService/CreateInvitations,"
	           "usher.v1.TenancyService/Check \\\n"
	           "      --max-role member",
	 .args = create_args, .n_args = CTL_COUNT(create_args), .params_size = sizeof(create_params),
	 .flags = CTL_NO_ACTOR, .run = run_create},
	{.name = "list", .summary = "list service principals with their keys and last use",
	 .flags = CTL_NO_ACTOR, .run = run_list},
	{.name = "rotate", .summary = "add a new key; older keys keep working for the overlap",
	 .args = rotate_args, .n_args = CTL_COUNT(rotate_args), .params_size = sizeof(rotate_params),
	 .flags = CTL_NO_ACTOR, .run = run_rotate},
	{.name = "finish-rotation", .summary = "stop every key but the newest now",
	 .args = ref_args, .n_args = CTL_COUNT(ref_args), .params_size = sizeof(ref_params),
	 .flags = CTL_NO_ACTOR, .run = run_ref, .method = "FinishKeyRotation"},
	{.name = "revoke", .summary = "revoke a service principal: its keys stop working",
	 .args = ref_args, .n_args = CTL_COUNT(ref_args), .params_size = sizeof(ref_params),
	 .flags = CTL_NO_ACTOR, .run = run_ref, .method = "RevokePrincipal"},
};

const ctl_group ctl_principals_group = {"principals", "service principals: keys for internal services",
                                        commands, CTL_COUNT(commands)};

/* --- keys --- */

static int run_generate(ctl_ctx *ctx, void *params)
{
	(void)params;
	us_caller_key key;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1], public_hex[US_PUBLIC_KEY_HEX_LEN + 1];
	new_key(&key, secret, public_hex);
	if (ctx->opts.json)
		ctl_print_json(json_pack("{s:s, s:s}", "secret", secret, "public_key", public_hex));
	else
		printf("secret      %s\npublic_key  %s\n", secret, public_hex);
	sodium_memzero(secret, sizeof(secret));
	return CTL_OK;
}

static int run_public(ctl_ctx *ctx, void *params)
{
	(void)params;
	char line[256];
	if (fgets(line, sizeof(line), stdin) == NULL)
		return ctl_usage_error("no secret on standard input");
	line[strcspn(line, "\r\n")] = '\0';
	us_caller_key key;
	int bad = us_caller_key_parse(line, &key);
	sodium_memzero(line, sizeof(line));
	if (bad)
		return ctl_usage_error("standard input: must be a secret: 64 hex digits, optionally "
		                       "after \"usk_\"");
	char public_hex[US_PUBLIC_KEY_HEX_LEN + 1];
	us_public_key_hex(key.public_key, public_hex);
	us_caller_key_wipe(&key);
	if (ctx->opts.json)
		ctl_print_json(json_pack("{s:s}", "public_key", public_hex));
	else
		printf("%s\n", public_hex);
	return CTL_OK;
}

static const ctl_command key_commands[] = {
	{.name = "generate", .summary = "make a caller key pair (a daemon's RPC_SIGNING_KEY, an operator's)",
	 .flags = CTL_NO_ACTOR, .run = run_generate},
	{.name = "public", .summary = "the public key of the secret on standard input",
	 .detail = "For RPC_CALLERS_FILE: NAME PUBLIC_KEY RIGHTS. Example:\n"
	           "  usherctl keys public < /etc/usher/gateway.key",
	 .flags = CTL_NO_ACTOR, .run = run_public},
};

const ctl_group ctl_keys_group = {"keys", "make caller keys and read their public halves",
                                  key_commands, CTL_COUNT(key_commands)};
