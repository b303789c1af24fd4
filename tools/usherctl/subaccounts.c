/* usherctl subaccounts: create and list an account's subaccounts (usher.v1.TenancyService). */
#include <stddef.h>

#include "common/limits.h"
#include "ctl.h"
#include "usher/v1/tenancy.pb-c.h"

#define TENANCY (&usher__v1__tenancy_service__descriptor)

typedef struct create_params {
	char *account;
	char *name;
} create_params;

static int run_create(ctl_ctx *ctx, void *params)
{
	const create_params *p = params;
	Usher__V1__CreateSubaccountRequest req = USHER__V1__CREATE_SUBACCOUNT_REQUEST__INIT;
	req.account_id = p->account;
	req.name = p->name;
	return ctl_call_show(ctx, TENANCY, "CreateSubaccount", CTL_KEYED, &req.base, "subaccount");
}

static const ctl_arg create_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(create_params, account),
	 .help = "the account's id"},
	{.name = "NAME", .kind = CTL_NAME, .offset = offsetof(create_params, name),
	 .help = "the subaccount's name, 1 to " US_LIMIT_TEXT(US_NAME_MAX_BYTES) " bytes"},
};

typedef struct list_params {
	char *account;
} list_params;

static int run_list(ctl_ctx *ctx, void *params)
{
	const list_params *p = params;
	Usher__V1__ListSubaccountsRequest req = USHER__V1__LIST_SUBACCOUNTS_REQUEST__INIT;
	req.account_id = p->account;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, TENANCY, "ListSubaccounts", 0, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListSubaccountsReply *r = (const Usher__V1__ListSubaccountsReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
	} else {
		static const char *const headers[] = {"ID", "NAME", "CREATED"};
		static const char *const fields[] = {"id", "name", "created_at"};
		ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
		                   (ProtobufCMessage *const *)r->subaccounts, r->n_subaccounts);
	}
	return CTL_OK;
}

static const ctl_arg list_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(list_params, account),
	 .help = "the account's id"},
};

static const ctl_command commands[] = {
	{.name = "create", .summary = "create a subaccount in an account",
	 .args = create_args, .n_args = CTL_COUNT(create_args), .params_size = sizeof(create_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_create},
	{.name = "list", .summary = "list an account's subaccounts",
	 .detail = "Without --as it reads as Usher itself (the operator key's system right); with --as\n"
	           "that user must be a member.",
	 .args = list_args, .n_args = CTL_COUNT(list_args), .params_size = sizeof(list_params),
	 .run = run_list},
};

const ctl_group ctl_subaccounts_group = {"subaccounts", "manage an account's subaccounts",
                                         commands, CTL_COUNT(commands)};
