#include "queries.h"

#include <stdio.h>
#include <string.h>

#include "context.h"
#include "guard.h"
#include "usher/v1/identity.pb-c.h"
#include "input.h"
#include "common/page_token.h"
#include "store.h"
#include "common/validate.h"

static void list_members_input(us_call *call, const Usher__V1__ListMembersRequest *req,
                               us_page_cursor *after, bool *has_after)
{
	tenancy_input_uuid(call, "account_id", req->account_id);
	if (req->role != USHER__V1__ROLE__ROLE_UNSPECIFIED)
		tenancy_input_role(call, "role", (int)req->role);
	if (req->status != USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_STATUS_UNSPECIFIED &&
	    req->status != USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE &&
	    req->status != USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED)
		us_call_violation(call, "status", "must be active or deactivated");
	tenancy_input_optional_uuid(call, "subaccount_id", req->subaccount_id);
	if (req->page_size > US_PAGE_SIZE_MAX)
		us_call_violation(call, "page_size", "must be from 1 to %d (0: %d)",
		                  US_PAGE_SIZE_MAX, US_PAGE_SIZE_DEFAULT);
	*has_after = req->page_token[0] != '\0';
	if (*has_after && !us_page_token_decode(req->page_token, after))
		us_call_violation(call, "page_token", "is not a token from a previous page");
}

/* Names and addresses of the listed members (with_users), from usher-identityd: a members
 * table shows who people are. When identityd cannot answer in time, the list goes out
 * without them rather than failing. */
static void fill_users(us_call *call, Usher__V1__Membership **members, size_t n)
{
	tenancy_ctx *ctx = us_call_service_ctx(call);
	if (n == 0 || ctx->identity == NULL)
		return;
	Usher__V1__GetUsersRequest in = USHER__V1__GET_USERS_REQUEST__INIT;
	in.user_ids = US_ARENA_ARRAY(us_call_arena(call), char *, n);
	if (in.user_ids == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		in.user_ids[i] = members[i]->user_id;
	in.n_user_ids = n;
	int64_t left = us_call_remaining_ms(call);
	us_rpc_call_opts opts = {.timeout_ms = (uint32_t)(left < 5000 ? (left > 0 ? left : 1) : 5000)};
	ProtobufCMessage *out;
	us_status st;
	if (us_rpc_call(ctx->identity, "usher.v1.IdentityService/GetUsers", &opts, &in.base,
	                &usher__v1__get_users_reply__descriptor, us_call_arena(call), &out,
	                &st) == US_OK) {
		const Usher__V1__GetUsersReply *users = (const Usher__V1__GetUsersReply *)out;
		for (size_t i = 0; i < n; i++) {
			for (size_t k = 0; k < users->n_users; k++) {
				if (strcmp(users->users[k]->id, members[i]->user_id) == 0) {
					members[i]->user_name = users->users[k]->name;
					members[i]->user_email = users->users[k]->email;
				}
			}
		}
	}
	us_status_clear(&st);
}

us_err tenancy_list_members(us_call *call, const ProtobufCMessage *request,
                            ProtobufCMessage **reply)
{
	const Usher__V1__ListMembersRequest *req = (const Usher__V1__ListMembersRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_page_cursor after;
	bool has_after;
	list_members_input(call, req, &after, &has_after);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__Account *account;
	Usher__V1__Membership *member;
	us_err rc = tenancy_guard_read(call, actor, req->account_id, &account, &member);
	if (rc != US_OK)
		return rc;
	size_t page_size = req->page_size ? req->page_size : US_PAGE_SIZE_DEFAULT;
	/* One row more than the page tells whether another page follows. */
	tenancy_store_member_query q = {
		.account_id = req->account_id,
		.role = (int)req->role,
		.status = (int)req->status,
		.subaccount_id = req->subaccount_id,
		.after = has_after ? &after : NULL,
		.limit = page_size + 1,
	};
	Usher__V1__ListMembersReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                Usher__V1__ListMembersReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_members_reply__init(out);
	us_page_cursor *cursors;
	rc = tenancy_store_members_list(us_call_db(call), us_call_arena(call), &q, &out->members,
	                                &cursors, &out->n_members);
	if (rc != US_OK)
		return rc;
	if (out->n_members > page_size) {
		out->n_members = page_size;
		char *token = us_arena_alloc(us_call_arena(call), US_PAGE_TOKEN_LEN + 1);
		if (token == NULL)
			return US_EEXHAUSTED;
		us_page_token_encode(&cursors[page_size - 1], token);
		out->next_page_token = token;
	}
	if (req->with_users)
		fill_users(call, out->members, out->n_members);
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_list_accounts(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__ListAccountsRequest *req = (const Usher__V1__ListAccountsRequest *)request;
	/* Every account is for operators only, never on someone's behalf. */
	if (us_call_actor_user_id(call)[0] != '\0')
		return us_call_error(call, US_EDENIED, "listing every account is for operators");
	if (strlen(req->name_contains) > US_NAME_MAX_BYTES)
		us_call_violation(call, "name_contains", "must be at most %d bytes", US_NAME_MAX_BYTES);
	if (req->page_size > US_PAGE_SIZE_MAX)
		us_call_violation(call, "page_size", "must be from 1 to %d (0: %d)",
		                  US_PAGE_SIZE_MAX, US_PAGE_SIZE_DEFAULT);
	us_page_cursor after;
	bool has_after = req->page_token[0] != '\0';
	if (has_after && !us_page_token_decode(req->page_token, &after))
		us_call_violation(call, "page_token", "is not a token from a previous page");
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	size_t page_size = req->page_size ? req->page_size : US_PAGE_SIZE_DEFAULT;
	Usher__V1__ListAccountsReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                 Usher__V1__ListAccountsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_accounts_reply__init(out);
	us_page_cursor *cursors;
	us_err rc = tenancy_store_accounts_list(us_call_db(call), us_call_arena(call),
	                                req->name_contains[0] ? req->name_contains : NULL,
	                                has_after ? &after : NULL, page_size + 1, &out->accounts,
	                                &cursors, &out->n_accounts);
	if (rc != US_OK)
		return rc;
	if (out->n_accounts > page_size) {
		out->n_accounts = page_size;
		char *token = us_arena_alloc(us_call_arena(call), US_PAGE_TOKEN_LEN + 1);
		if (token == NULL)
			return US_EEXHAUSTED;
		us_page_token_encode(&cursors[page_size - 1], token);
		out->next_page_token = token;
	}
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_list_my_memberships(us_call *call, const ProtobufCMessage *request,
                                   ProtobufCMessage **reply)
{
	(void)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__ListMyMembershipsReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                      Usher__V1__ListMyMembershipsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_my_memberships_reply__init(out);
	rc = tenancy_store_memberships_of_user(us_call_db(call), us_call_arena(call), actor,
	                                       TENANCY_MY_MEMBERSHIPS_MAX, &out->memberships,
	                                       &out->n_memberships);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_members_among(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__MembersAmongRequest *req = (const Usher__V1__MembersAmongRequest *)request;
	const char *actor = tenancy_input_actor(call);
	tenancy_input_uuid(call, "account_id", req->account_id);
	tenancy_input_user_ids(call, "user_ids", req->user_ids, req->n_user_ids);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__Account *account;
	Usher__V1__Membership *member;
	us_err rc = tenancy_guard_read(call, actor, req->account_id, &account, &member);
	if (rc != US_OK)
		return rc;
	Usher__V1__MembersAmongReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                 Usher__V1__MembersAmongReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__members_among_reply__init(out);
	if (req->n_user_ids > 0)
		rc = tenancy_store_members_among(us_call_db(call), us_call_arena(call),
		                                 req->account_id, req->user_ids, req->n_user_ids,
		                                 &out->user_ids, &out->n_user_ids);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}
