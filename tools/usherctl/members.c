/* usherctl members: list an account's members and change, deactivate, reactivate or
 * remove a membership (usher.v1.TenancyService). */
#include <stddef.h>
#include <string.h>

#include "ctl.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define TENANCY (&usher__v1__tenancy_service__descriptor)
#define GET_USERS_MAX 1000 /* ids per IdentityService/GetUsers */

typedef struct list_params {
	char *account;
	int role;
	int status;
	char *subaccount;
} list_params;

/* The users behind n members, for the table's EMAIL and NAME columns. */
static int fetch_users(ctl_ctx *ctx, Usher__V1__Membership *const *members, size_t n,
                       Usher__V1__GetUsersReply **out)
{
	Usher__V1__GetUsersRequest req = USHER__V1__GET_USERS_REQUEST__INIT;
	req.user_ids = US_ARENA_ARRAY(ctx->arena, char *, n ? n : 1);
	if (req.user_ids == NULL)
		return ctl_fail("out of memory");
	for (size_t i = 0; i < n; i++)
		req.user_ids[req.n_user_ids++] = members[i]->user_id;
	return ctl_call(ctx, &usher__v1__identity_service__descriptor, "GetUsers", 0, &req.base,
	                (ProtobufCMessage **)out);
}

static int run_list(ctl_ctx *ctx, void *params)
{
	const list_params *p = params;
	Usher__V1__ListMembersRequest req = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	req.account_id = p->account;
	req.role = (Usher__V1__Role)p->role;
	req.status = (Usher__V1__MembershipStatus)p->status;
	req.subaccount_id = p->subaccount ? p->subaccount : "";
	ProtobufCMessage *reply;
	int rc = ctl_call_pages(ctx, TENANCY, "ListMembers", &req.base, 0, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListMembersReply *r = (const Usher__V1__ListMembersReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	static const char *const headers[] = {"USER", "EMAIL", "NAME", "ROLE", "STATUS", "SCOPE",
	                                      "SOURCE", "SINCE"};
	ctl_table *t = ctl_table_new(ctx, CTL_COUNT(headers), headers);
	for (size_t from = 0; from < r->n_members; from += GET_USERS_MAX) {
		size_t n = r->n_members - from < GET_USERS_MAX ? r->n_members - from : GET_USERS_MAX;
		Usher__V1__GetUsersReply *users;
		if ((rc = fetch_users(ctx, r->members + from, n, &users)) != CTL_OK)
			return rc;
		for (size_t i = from; i < from + n; i++) {
			const ProtobufCMessage *m = &r->members[i]->base;
			/* GetUsers leaves out unknown ids, so match by id rather than position. */
			const Usher__V1__User *u = NULL;
			for (size_t k = 0; k < users->n_users && u == NULL; k++) {
				if (strcmp(users->users[k]->id, r->members[i]->user_id) == 0)
					u = users->users[k];
			}
			const char *cells[] = {
				r->members[i]->user_id,
				u ? u->email : "-",
				u ? u->name : "-",
				ctl_field_text(ctx, m, "role"),
				ctl_field_text(ctx, m, "status"),
				ctl_field_text(ctx, m, "scope"),
				ctl_field_text(ctx, m, "source"),
				ctl_field_text(ctx, m, "created_at"),
			};
			ctl_table_add(t, cells);
		}
	}
	ctl_table_print(t);
	return CTL_OK;
}

static const ctl_arg list_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(list_params, account),
	 .help = "the account's id"},
	{.name = "--role", .kind = CTL_ENUM, .offset = offsetof(list_params, role),
	 .metavar = "ROLE", .choices = &usher__v1__role__descriptor, .help = "only members with this role"},
	{.name = "--status", .kind = CTL_ENUM, .offset = offsetof(list_params, status),
	 .metavar = "STATUS", .choices = &usher__v1__membership_status__descriptor,
	 .help = "only memberships in this status"},
	{.name = "--subaccount", .kind = CTL_UUID, .offset = offsetof(list_params, subaccount),
	 .help = "only members whose scope covers this subaccount"},
};

typedef struct role_params {
	char *account;
	char *user;
	int role;
} role_params;

static int run_role(ctl_ctx *ctx, void *params)
{
	const role_params *p = params;
	Usher__V1__ChangeRoleRequest req = USHER__V1__CHANGE_ROLE_REQUEST__INIT;
	req.account_id = p->account;
	req.role = (Usher__V1__Role)p->role;
	int rc = ctl_resolve_user(ctx, p->user, &req.user_id);
	if (rc != CTL_OK)
		return rc;
	return ctl_call_show(ctx, TENANCY, "ChangeRole", CTL_KEYED, &req.base, "membership");
}

#define MEMBER_ARGS(type)                                                                       \
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(type, account),                    \
	 .help = "the account's id"},                                                              \
	{.name = "USER", .kind = CTL_USER, .offset = offsetof(type, user),                         \
	 .help = "the member: a user id or an email address"}

static const ctl_arg role_args[] = {
	MEMBER_ARGS(role_params),
	{.name = "ROLE", .kind = CTL_ENUM, .offset = offsetof(role_params, role),
	 .choices = &usher__v1__role__descriptor, .help = "the new role"},
};

typedef struct member_params {
	char *account;
	char *user;
} member_params;

/* deactivate, reactivate and remove: the same request, a different method, and each
 * answers with the membership (remove: as it was just before). */
static int run_member(ctl_ctx *ctx, void *params)
{
	const member_params *p = params;
	Usher__V1__MemberRequest req = USHER__V1__MEMBER_REQUEST__INIT;
	req.account_id = p->account;
	int rc = ctl_resolve_user(ctx, p->user, &req.user_id);
	if (rc != CTL_OK)
		return rc;
	return ctl_call_show(ctx, TENANCY, ctx->cmd->method, CTL_KEYED, &req.base, "membership");
}

static const ctl_arg member_args[] = {
	MEMBER_ARGS(member_params),
};

static const ctl_command commands[] = {
	{.name = "list", .summary = "list an account's members",
	 .detail = "Without --as it reads as Usher itself (the operator key's system right); with --as\n"
	           "that user must be a member.",
	 .args = list_args, .n_args = CTL_COUNT(list_args), .params_size = sizeof(list_params),
	 .run = run_list},
	{.name = "role", .summary = "change a member's role",
	 .args = role_args, .n_args = CTL_COUNT(role_args), .params_size = sizeof(role_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_role},
	{.name = "deactivate", .summary = "deactivate a membership, keeping it for later",
	 .args = member_args, .n_args = CTL_COUNT(member_args), .params_size = sizeof(member_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_member, .method = "Deactivate"},
	{.name = "reactivate", .summary = "reactivate a deactivated membership",
	 .args = member_args, .n_args = CTL_COUNT(member_args), .params_size = sizeof(member_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_member, .method = "Reactivate"},
	{.name = "remove", .summary = "remove a member from an account",
	 .args = member_args, .n_args = CTL_COUNT(member_args), .params_size = sizeof(member_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_member, .method = "Remove"},
};

const ctl_group ctl_members_group = {"members", "manage an account's members", commands,
                                     CTL_COUNT(commands)};
