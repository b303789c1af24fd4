/* usherctl links: an account's (or subaccount's) permanent invitation link, and who
 * joined through it (usher.v1.InvitationService). */
#include <stddef.h>

#include "common/limits.h"
#include "ctl.h"
#include "usher/v1/invitation.pb-c.h"

#define INVITATION (&usher__v1__invitation_service__descriptor)

typedef struct enable_params {
	char *account;
	char *subaccount;
	uint32_t expires_in_hours;
	uint32_t max_uses;
	ctl_list domains;
} enable_params;

static int run_enable(ctl_ctx *ctx, void *params)
{
	const enable_params *p = params;
	Usher__V1__EnableLinkRequest req = USHER__V1__ENABLE_LINK_REQUEST__INIT;
	req.account_id = p->account;
	req.subaccount_id = p->subaccount ? p->subaccount : "";
	req.expires_in_hours = p->expires_in_hours;
	req.max_uses = p->max_uses;
	req.allowed_email_domains = p->domains.items;
	req.n_allowed_email_domains = p->domains.n;
	return ctl_call_show(ctx, INVITATION, "EnableLink", CTL_KEYED, &req.base, "link");
}

#define ACCOUNT_ARGS(type)                                                                      \
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(type, account),                    \
	 .help = "the account's id"},                                                              \
	{.name = "--subaccount", .kind = CTL_UUID, .offset = offsetof(type, subaccount),           \
	 .help = "the subaccount's link rather than the organization's"}

static const ctl_arg enable_args[] = {
	ACCOUNT_ARGS(enable_params),
	{.name = "--expires-in-hours", .kind = CTL_UINT,
	 .offset = offsetof(enable_params, expires_in_hours), .min = 1, .max = 8760,
	 .help = "the link stops working after N hours (default: never)"},
	{.name = "--max-uses", .kind = CTL_UINT, .offset = offsetof(enable_params, max_uses),
	 .min = 1, .max = 1000000, .help = "the link stops working after N joins (default: no limit)"},
	{.name = "--domains", .kind = CTL_DOMAINS, .offset = offsetof(enable_params, domains),
	 .max = 50, .help = "only addresses at these domains may join, comma-separated"},
};

typedef struct ref_params {
	char *account;
	char *subaccount;
} ref_params;

/* show and delete: the same reference, a different method. */
static int run_ref(ctl_ctx *ctx, void *params)
{
	const ref_params *p = params;
	Usher__V1__LinkRef req = USHER__V1__LINK_REF__INIT;
	req.account_id = p->account;
	req.subaccount_id = p->subaccount ? p->subaccount : "";
	return ctl_call_show(ctx, INVITATION, ctx->cmd->method, ctx->cmd->call_flags, &req.base,
	                     "link");
}

static const ctl_arg ref_args[] = {
	ACCOUNT_ARGS(ref_params),
};

typedef struct joins_params {
	char *account;
	uint32_t limit;
} joins_params;

static int run_joins(ctl_ctx *ctx, void *params)
{
	const joins_params *p = params;
	Usher__V1__ListLinkJoinsRequest req = USHER__V1__LIST_LINK_JOINS_REQUEST__INIT;
	req.account_id = p->account;
	req.limit = p->limit;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, INVITATION, "ListLinkJoins", 0, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListLinkJoinsReply *r = (const Usher__V1__ListLinkJoinsReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
	} else {
		static const char *const headers[] = {"JOINED", "EMAIL", "USER", "SUBACCOUNT", "LINK"};
		static const char *const fields[] = {"joined_at", "email", "user_id", "subaccount_id",
		                                     "link_id"};
		ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
		                   (ProtobufCMessage *const *)r->joins, r->n_joins);
	}
	return CTL_OK;
}

static const ctl_arg joins_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(joins_params, account),
	 .help = "the account's id"},
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(joins_params, limit), .min = 1,
	 .max = US_PAGE_SIZE_MAX, .help = "show at most N (default 100)"},
};

static const ctl_command commands[] = {
	{.name = "enable", .summary = "make a new permanent invitation link",
	 .detail = "A link only ever grants the member role. Enabling again replaces the active\n"
	           "link: the old URL stops working at once.",
	 .args = enable_args, .n_args = CTL_COUNT(enable_args), .params_size = sizeof(enable_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_enable},
	{.name = "show", .summary = "show the active link",
	 .args = ref_args, .n_args = CTL_COUNT(ref_args), .params_size = sizeof(ref_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_ref, .method = "GetLink"},
	{.name = "delete", .summary = "delete the active link; its URL stops working at once",
	 .args = ref_args, .n_args = CTL_COUNT(ref_args), .params_size = sizeof(ref_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_ref, .method = "DeleteLink", .call_flags = CTL_KEYED},
	{.name = "joins", .summary = "list who joined through the account's links, newest first",
	 .args = joins_args, .n_args = CTL_COUNT(joins_args), .params_size = sizeof(joins_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_joins},
};

const ctl_group ctl_links_group = {"links", "manage permanent invitation links", commands,
                                   CTL_COUNT(commands)};
