/* usherctl accounts: create, list and show accounts (usher.v1.TenancyService). */
#include <stddef.h>
#include <stdio.h>

#include "common/limits.h"
#include "ctl.h"
#include "usher/v1/tenancy.pb-c.h"

#define TENANCY (&usher__v1__tenancy_service__descriptor)

typedef struct create_params {
	char *name;
	char *owner;
	ctl_list products;
	uint32_t expiry_hours;
	ctl_list domains;
} create_params;

static int run_create(ctl_ctx *ctx, void *params)
{
	const create_params *p = params;
	/* The owner is who creates the account: CreateAccount makes its actor the owner. */
	int rc = ctl_resolve_user(ctx, p->owner, &ctx->actor_id);
	if (rc != CTL_OK)
		return rc;
	Usher__V1__CreateAccountRequest req = USHER__V1__CREATE_ACCOUNT_REQUEST__INIT;
	req.name = p->name;
	req.products = p->products.items;
	req.n_products = p->products.n;
	req.invitation_expiry_hours = p->expiry_hours;
	req.allowed_email_domains = p->domains.items;
	req.n_allowed_email_domains = p->domains.n;
	ProtobufCMessage *reply;
	rc = ctl_call(ctx, TENANCY, "CreateAccount", CTL_KEYED, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__CreateAccountReply *r = (const Usher__V1__CreateAccountReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
	} else {
		ctl_print_record(ctx, &r->account->base);
		printf("\nowner membership %s\n", r->owner ? r->owner->id : "-");
	}
	return CTL_OK;
}

static const ctl_arg create_args[] = {
	{.name = "NAME", .kind = CTL_NAME, .offset = offsetof(create_params, name),
	 .help = "the account's name, 1 to " US_LIMIT_TEXT(US_NAME_MAX_BYTES) " bytes"},
	{.name = "--owner", .kind = CTL_USER, .offset = offsetof(create_params, owner),
	 .flags = CTL_REQUIRED, .help = "its primary owner: a user id or an email address"},
	{.name = "--products", .kind = CTL_PRODUCTS, .offset = offsetof(create_params, products),
	 .max = US_PRODUCTS_MAX,
	 .help = "the products it has, comma-separated (at most " US_LIMIT_TEXT(US_PRODUCTS_MAX) ")"},
	{.name = "--expiry-hours", .kind = CTL_UINT, .offset = offsetof(create_params, expiry_hours),
	 .min = 1, .max = 720, .help = "how long its invitations last (default 168)"},
	{.name = "--domains", .kind = CTL_DOMAINS, .offset = offsetof(create_params, domains),
	 .max = 100, .help = "the only email domains it may invite, comma-separated (default: any)"},
};

typedef struct list_params {
	char *name_contains;
	uint32_t limit;
} list_params;

static int run_list(ctl_ctx *ctx, void *params)
{
	const list_params *p = params;
	Usher__V1__ListAccountsRequest req = USHER__V1__LIST_ACCOUNTS_REQUEST__INIT;
	req.name_contains = p->name_contains ? p->name_contains : "";
	uint32_t limit = p->limit ? p->limit : 100;
	ProtobufCMessage *reply;
	int rc = ctl_call_pages(ctx, TENANCY, "ListAccounts", &req.base, limit, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListAccountsReply *r = (const Usher__V1__ListAccountsReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	static const char *const headers[] = {"ID", "NAME", "STATUS", "OWNER", "PRODUCTS", "CREATED"};
	static const char *const fields[] = {"id",       "name",     "status",
	                                     "primary_owner_id", "products", "created_at"};
	ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
	                   (ProtobufCMessage *const *)r->accounts, r->n_accounts);
	ctl_note_more(reply, "accounts", limit);
	return CTL_OK;
}

static const ctl_arg list_args[] = {
	{.name = "--name-contains", .kind = CTL_TEXT, .offset = offsetof(list_params, name_contains),
	 .metavar = "S", .max = 200, .help = "only accounts whose name contains S (any case)"},
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(list_params, limit), .min = 1,
	 .max = 50000, .help = "show at most N, oldest first (default 100)"},
};

typedef struct show_params {
	char *account;
} show_params;

static int run_show(ctl_ctx *ctx, void *params)
{
	const show_params *p = params;
	Usher__V1__GetAccountRequest req = USHER__V1__GET_ACCOUNT_REQUEST__INIT;
	req.account_id = p->account;
	return ctl_call_show(ctx, TENANCY, "GetAccount", 0, &req.base, "account");
}

static const ctl_arg show_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(show_params, account),
	 .help = "the account's id"},
};

static const ctl_command commands[] = {
	{.name = "create", .summary = "create an account with USER as its primary owner",
	 .detail = "The owner becomes an organization-level owner with every product; the\n"
	           "owner, not --as, is the actor of this command.",
	 .args = create_args, .n_args = CTL_COUNT(create_args), .params_size = sizeof(create_params),
	 .flags = CTL_NO_ACTOR, .run = run_create},
	{.name = "list", .summary = "list every account, oldest first",
	 .detail = "An operator's view across tenants: it acts for no one, so it takes no --as.",
	 .args = list_args, .n_args = CTL_COUNT(list_args), .params_size = sizeof(list_params),
	 .flags = CTL_NO_ACTOR, .run = run_list},
	{.name = "show", .summary = "show an account's settings",
	 .detail = "Without --as it reads as Usher itself (the operator key's system right); with --as\n"
	           "that user must be a member.",
	 .args = show_args, .n_args = CTL_COUNT(show_args), .params_size = sizeof(show_params),
	 .run = run_show},
};

const ctl_group ctl_accounts_group = {"accounts", "manage accounts", commands, CTL_COUNT(commands)};
