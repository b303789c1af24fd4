/* Accounts, subaccounts and the member listings against the real daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/limits.h"
#include "tenancy_client.h"

#define MEMBER USHER__V1__ROLE__ROLE_MEMBER
#define MODERATOR USHER__V1__ROLE__ROLE_MODERATOR
#define ADMIN USHER__V1__ROLE__ROLE_ADMIN
#define OWNER USHER__V1__ROLE__ROLE_OWNER

static ut_system *sys;

static void test_creator_becomes_primary_owner_with_defaults(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c);
	Usher__V1__CreateAccountRequest req = USHER__V1__CREATE_ACCOUNT_REQUEST__INIT;
	char *products[] = {"sms", "voice"}, *domains[] = {" Example.COM "};
	req.name = "GetThru Team";
	req.products = products;
	req.n_products = 2;
	req.allowed_email_domains = domains;
	req.n_allowed_email_domains = 1;
	Usher__V1__CreateAccountReply *out;
	tc_expect(c, tc_call(c, "CreateAccount", owner, NULL, &req.base,
	                     &usher__v1__create_account_reply__descriptor, &out),
	          US_OK, "CreateAccount");
	Usher__V1__Account *a = out->account;
	assert_string_equal(a->name, "GetThru Team");
	assert_string_equal(a->primary_owner_id, owner);
	assert_int_equal(a->invitation_expiry_hours, 168);
	assert_int_equal(a->status, USHER__V1__ACCOUNT_STATUS__ACCOUNT_ACTIVE);
	assert_int_equal(a->n_products, 2);
	assert_int_equal(a->n_allowed_email_domains, 1);
	assert_string_equal(a->allowed_email_domains[0], "example.com");

	Usher__V1__Membership *m = out->owner;
	assert_string_equal(m->user_id, owner);
	assert_int_equal(m->role, OWNER);
	assert_true(m->scope->organization);
	assert_int_equal(m->n_products, 2);
	assert_string_equal(m->source, "account_creation");

	/* An actor is required: the account needs an owner. */
	us_err rc = tc_call(c, "CreateAccount", NULL, NULL, &req.base,
	                    &usher__v1__create_account_reply__descriptor, &out);
	tc_expect(c, rc, US_EUNAUTHENTICATED, "CreateAccount without an actor");
	tc_close(c);
}

static void test_settings_update_by_permission(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c), *sub_admin = tc_uuid(c);
	char *account = tc_account(c, owner)->account->id;
	char *sub = tc_subaccount(c, owner, account, "North")->id;
	tc_grant(c, account, sub_admin, ADMIN, tc_subs(c, 1, sub));

	Usher__V1__UpdateAccountSettingsRequest req = USHER__V1__UPDATE_ACCOUNT_SETTINGS_REQUEST__INIT;
	req.account_id = account;
	req.name = "Renamed";
	req.invitation_expiry_hours = 24;
	Usher__V1__UpdateAccountSettingsReply *out;
	tc_expect(c, tc_call(c, "UpdateAccountSettings", sub_admin, NULL, &req.base,
	                     &usher__v1__update_account_settings_reply__descriptor, &out),
	          US_EDENIED, "a subaccount admin updating account settings");
	tc_expect(c, tc_call(c, "UpdateAccountSettings", owner, NULL, &req.base,
	                     &usher__v1__update_account_settings_reply__descriptor, &out),
	          US_OK, "the owner updating account settings");
	assert_string_equal(out->account->name, "Renamed");
	assert_int_equal(out->account->invitation_expiry_hours, 24);

	Usher__V1__GetAccountRequest get = USHER__V1__GET_ACCOUNT_REQUEST__INIT;
	get.account_id = account;
	Usher__V1__GetAccountReply *got;
	tc_expect(c, tc_call(c, "GetAccount", sub_admin, NULL, &get.base,
	                     &usher__v1__get_account_reply__descriptor, &got),
	          US_OK, "GetAccount by a member");
	assert_int_equal(got->account->invitation_expiry_hours, 24);
	tc_close(c);
}

static void test_outsiders_cannot_read_an_account(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c), *outsider = tc_uuid(c);
	char *account = tc_account(c, owner)->account->id;
	Usher__V1__GetAccountRequest get = USHER__V1__GET_ACCOUNT_REQUEST__INIT;
	get.account_id = account;
	Usher__V1__GetAccountReply *got;
	tc_expect(c, tc_call(c, "GetAccount", outsider, NULL, &get.base,
	                     &usher__v1__get_account_reply__descriptor, &got),
	          US_EDENIED, "GetAccount by an outsider");
	char message[US_STATUS_MESSAGE_MAX];
	snprintf(message, sizeof(message), "%s", c->status.message);
	get.account_id = tc_uuid(c);
	tc_expect(c, tc_call(c, "GetAccount", outsider, NULL, &get.base,
	                     &usher__v1__get_account_reply__descriptor, &got),
	          US_EDENIED, "GetAccount of a missing account by an outsider");
	assert_string_equal(c->status.message, message);
	tc_close(c);
}

static void test_subaccounts(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c), *admin = tc_uuid(c), *texter = tc_uuid(c);
	char *account = tc_account(c, owner)->account->id;
	char *north = tc_subaccount(c, owner, account, "North")->id;
	tc_subaccount(c, owner, account, "South");
	tc_grant(c, account, admin, ADMIN, tc_org(c));
	tc_grant(c, account, texter, MEMBER, tc_subs(c, 1, north));

	/* 004: only organization owners create subaccounts; names are unique. */
	Usher__V1__CreateSubaccountRequest req = USHER__V1__CREATE_SUBACCOUNT_REQUEST__INIT;
	req.account_id = account;
	req.name = "West";
	Usher__V1__CreateSubaccountReply *created;
	tc_expect(c, tc_call(c, "CreateSubaccount", admin, NULL, &req.base,
	                     &usher__v1__create_subaccount_reply__descriptor, &created),
	          US_EDENIED, "an admin creating a subaccount");
	tc_expect_message(c, "role admin is below owner");
	req.name = "North";
	tc_expect(c, tc_call(c, "CreateSubaccount", owner, NULL, &req.base,
	                     &usher__v1__create_subaccount_reply__descriptor, &created),
	          US_EEXISTS, "a second subaccount named North");

	Usher__V1__ListSubaccountsRequest list = USHER__V1__LIST_SUBACCOUNTS_REQUEST__INIT;
	list.account_id = account;
	Usher__V1__ListSubaccountsReply *out;
	tc_expect(c, tc_call(c, "ListSubaccounts", admin, NULL, &list.base,
	                     &usher__v1__list_subaccounts_reply__descriptor, &out),
	          US_OK, "ListSubaccounts");
	assert_int_equal(out->n_subaccounts, 2);
	/* A subaccount-level member sees only theirs. */
	tc_expect(c, tc_call(c, "ListSubaccounts", texter, NULL, &list.base,
	                     &usher__v1__list_subaccounts_reply__descriptor, &out),
	          US_OK, "ListSubaccounts by a texter");
	assert_int_equal(out->n_subaccounts, 1);
	assert_string_equal(out->subaccounts[0]->id, north);
	tc_close(c);
}

/* Every page of ListMembers with these filters, as user ids; fails on a repeat. */
static size_t list_all(tc *c, const char *account, Usher__V1__ListMembersRequest *req,
                       size_t *pages)
{
	req->account_id = (char *)account;
	size_t total = 0;
	*pages = 0;
	char **seen = US_ARENA_ARRAY(c->arena, char *, 1000);
	do {
		Usher__V1__ListMembersReply *out;
		tc_expect(c, tc_call(c, "ListMembers", NULL, NULL, &req->base,
		                     &usher__v1__list_members_reply__descriptor, &out),
		          US_OK, "ListMembers");
		(*pages)++;
		for (size_t i = 0; i < out->n_members; i++) {
			for (size_t j = 0; j < total; j++) {
				if (strcmp(seen[j], out->members[i]->user_id) == 0)
					fail_msg("%s listed twice", seen[j]);
			}
			assert_true(total < 1000);
			seen[total++] = out->members[i]->user_id;
		}
		req->page_token = out->next_page_token;
	} while (req->page_token[0] != '\0');
	return total;
}

static void test_list_members_pages_and_filters(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c);
	char *account = tc_account(c, owner)->account->id;
	char *north = tc_subaccount(c, owner, account, "North")->id;
	char *south = tc_subaccount(c, owner, account, "South")->id;
	/* 250 texters in North, 30 moderators in South (5 deactivated), 1 org admin. */
	for (int i = 0; i < 250; i++)
		tc_grant(c, account, tc_uuid(c), MEMBER, tc_subs(c, 1, north));
	for (int i = 0; i < 30; i++) {
		char *user = tc_uuid(c);
		tc_grant(c, account, user, MODERATOR, tc_subs(c, 1, south));
		if (i < 5)
			tc_expect(c, tc_member(c, "Deactivate", owner, account, user), US_OK, "Deactivate");
	}
	tc_grant(c, account, tc_uuid(c), ADMIN, tc_org(c));

	size_t pages;
	Usher__V1__ListMembersRequest req = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	req.page_size = 100;
	assert_int_equal(list_all(c, account, &req, &pages), 282);
	assert_int_equal(pages, 3);

	Usher__V1__ListMembersRequest by_role = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	by_role.role = MODERATOR;
	by_role.page_size = 7;
	assert_int_equal(list_all(c, account, &by_role, &pages), 30);
	assert_int_equal(pages, 5);

	Usher__V1__ListMembersRequest by_status = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	by_status.status = USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED;
	assert_int_equal(list_all(c, account, &by_status, &pages), 5);

	/* Members whose scope covers South: its moderators, the org admin and the owner. */
	Usher__V1__ListMembersRequest by_sub = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	by_sub.subaccount_id = south;
	assert_int_equal(list_all(c, account, &by_sub, &pages), 32);

	Usher__V1__ListMembersRequest bad = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	bad.account_id = account;
	bad.page_token = "not-a-token";
	Usher__V1__ListMembersReply *out;
	tc_expect_invalid(c, tc_call(c, "ListMembers", NULL, NULL, &bad.base,
	                             &usher__v1__list_members_reply__descriptor, &out),
	                  "page_token", "ListMembers with a made-up token");
	tc_close(c);
}

static void test_list_my_memberships(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *me = tc_uuid(c);
	Usher__V1__CreateAccountReply *mine = tc_account(c, me);
	char *other = tc_account(c, tc_uuid(c))->account->id;
	tc_grant(c, other, me, MEMBER, tc_org(c));

	Usher__V1__ListMyMembershipsRequest req = USHER__V1__LIST_MY_MEMBERSHIPS_REQUEST__INIT;
	Usher__V1__ListMyMembershipsReply *out;
	tc_expect(c, tc_call(c, "ListMyMemberships", me, NULL, &req.base,
	                     &usher__v1__list_my_memberships_reply__descriptor, &out),
	          US_OK, "ListMyMemberships");
	assert_int_equal(out->n_memberships, 2);
	bool found_own = false;
	for (size_t i = 0; i < out->n_memberships; i++) {
		if (strcmp(out->memberships[i]->account_id, mine->account->id) == 0) {
			found_own = true;
			assert_string_equal(out->memberships[i]->account_name, mine->account->name);
		}
	}
	assert_true(found_own);
	tc_expect(c, tc_call(c, "ListMyMemberships", NULL, NULL, &req.base,
	                     &usher__v1__list_my_memberships_reply__descriptor, &out),
	          US_EUNAUTHENTICATED, "ListMyMemberships without an actor");
	tc_close(c);
}

static void test_members_among_fifty_thousand(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c);
	char *account = tc_account(c, owner)->account->id;
	enum { N = 50000 };
	char **ids = US_ARENA_ARRAY(c->arena, char *, N + 1);
	for (size_t i = 0; i < N + 1; i++)
		ids[i] = tc_uuid(c);
	/* Members at known places, one deactivated: it still counts as a membership. */
	const size_t members[] = {0, 17, 25000, N - 1};
	for (size_t i = 0; i < 4; i++)
		tc_grant(c, account, ids[members[i]], MEMBER, tc_org(c));
	tc_expect(c, tc_member(c, "Deactivate", owner, account, ids[17]), US_OK, "Deactivate");

	Usher__V1__MembersAmongRequest req = USHER__V1__MEMBERS_AMONG_REQUEST__INIT;
	/* A member listed twice is answered once. */
	ids[1] = ids[0];
	req.account_id = account;
	req.user_ids = ids;
	req.n_user_ids = N;
	Usher__V1__MembersAmongReply *out;
	tc_expect(c, tc_call(c, "MembersAmong", owner, NULL, &req.base,
	                     &usher__v1__members_among_reply__descriptor, &out),
	          US_OK, "MembersAmong of 50,000");
	assert_int_equal(out->n_user_ids, 4);
	for (size_t i = 0; i < 4; i++) {
		bool found = false;
		for (size_t j = 0; j < out->n_user_ids; j++)
			found = found || strcmp(out->user_ids[j], ids[members[i]]) == 0;
		assert_true(found);
	}

	req.n_user_ids = N + 1;
	tc_expect_invalid(c, tc_call(c, "MembersAmong", owner, NULL, &req.base,
	                             &usher__v1__members_among_reply__descriptor, &out),
	                  "user_ids", "MembersAmong of 50,001");
	tc_close(c);
}

/* CheckInvite: CheckGrant's answer, and when it allows, the account and the members among
 * the users named; an outsider learns neither. */
static void test_check_invite(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c), *member = tc_uuid(c), *stranger = tc_uuid(c);
	char *account = tc_account(c, owner)->account->id;
	tc_grant(c, account, member, MEMBER, tc_org(c));

	Usher__V1__CheckGrantRequest grant = USHER__V1__CHECK_GRANT_REQUEST__INIT;
	grant.actor_user_id = owner;
	grant.account_id = account;
	grant.role = MEMBER;
	grant.scope = tc_org(c);
	char *ids[] = {member, stranger};
	Usher__V1__CheckInviteRequest req = USHER__V1__CHECK_INVITE_REQUEST__INIT;
	req.grant = &grant;
	req.user_ids = ids;
	req.n_user_ids = 2;
	Usher__V1__CheckInviteReply *out;
	tc_expect(c, tc_call(c, "CheckInvite", NULL, NULL, &req.base,
	                     &usher__v1__check_invite_reply__descriptor, &out),
	          US_OK, "CheckInvite by the owner");
	assert_true(out->grant->allowed);
	assert_non_null(out->account);
	assert_string_equal(out->account->id, account);
	assert_int_equal(out->n_member_user_ids, 1);
	assert_string_equal(out->member_user_ids[0], member);

	/* A member may not invite: denied as CheckGrant denies, nothing else told. */
	grant.actor_user_id = member;
	tc_expect(c, tc_call(c, "CheckInvite", NULL, NULL, &req.base,
	                     &usher__v1__check_invite_reply__descriptor, &out),
	          US_OK, "CheckInvite by a member");
	assert_false(out->grant->allowed);
	assert_null(out->account);
	assert_int_equal(out->n_member_user_ids, 0);
	grant.actor_user_id = stranger;
	tc_expect(c, tc_call(c, "CheckInvite", NULL, NULL, &req.base,
	                     &usher__v1__check_invite_reply__descriptor, &out),
	          US_OK, "CheckInvite by an outsider");
	assert_false(out->grant->allowed);
	assert_string_equal(out->grant->reason, "not a member");
	assert_null(out->account);
	assert_int_equal(out->n_member_user_ids, 0);

	/* Bounded and validated: the ids, the grant's own fields, the grant itself. */
	grant.actor_user_id = owner;
	ids[1] = "not-a-uuid";
	tc_expect_invalid(c, tc_call(c, "CheckInvite", NULL, NULL, &req.base,
	                             &usher__v1__check_invite_reply__descriptor, &out),
	                  "user_ids[1]", "CheckInvite of a malformed id");
	char **many = US_ARENA_ARRAY(c->arena, char *, US_BATCH_MAX + 1);
	for (size_t i = 0; i < US_BATCH_MAX + 1; i++)
		many[i] = stranger;
	req.user_ids = many;
	req.n_user_ids = US_BATCH_MAX + 1;
	tc_expect_invalid(c, tc_call(c, "CheckInvite", NULL, NULL, &req.base,
	                             &usher__v1__check_invite_reply__descriptor, &out),
	                  "user_ids", "CheckInvite of 50,001 ids");
	req.user_ids = ids;
	ids[1] = stranger;
	req.n_user_ids = 2;
	grant.role = (Usher__V1__Role)7;
	tc_expect_invalid(c, tc_call(c, "CheckInvite", NULL, NULL, &req.base,
	                             &usher__v1__check_invite_reply__descriptor, &out),
	                  "role", "CheckInvite of a bad role");
	req.grant = NULL;
	tc_expect_invalid(c, tc_call(c, "CheckInvite", NULL, NULL, &req.base,
	                             &usher__v1__check_invite_reply__descriptor, &out),
	                  "grant", "CheckInvite without a grant");
	tc_close(c);
}

static us_err list_accounts(tc *c, const char *actor, const char *contains, uint32_t page_size,
                            const char *token, Usher__V1__ListAccountsReply **out)
{
	Usher__V1__ListAccountsRequest req = USHER__V1__LIST_ACCOUNTS_REQUEST__INIT;
	req.name_contains = (char *)contains;
	req.page_size = page_size;
	req.page_token = (char *)token;
	return tc_call(c, "ListAccounts", actor, NULL, &req.base,
	               &usher__v1__list_accounts_reply__descriptor, out);
}

static void test_operators_list_accounts(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c);
	const char *names[] = {"Zebra Alpha Club", "zebra beta", "ZEBRA ALPHA two"};
	for (size_t i = 0; i < 3; i++) {
		Usher__V1__CreateAccountRequest req = USHER__V1__CREATE_ACCOUNT_REQUEST__INIT;
		req.name = (char *)names[i];
		Usher__V1__CreateAccountReply *out;
		tc_expect(c, tc_call(c, "CreateAccount", owner, NULL, &req.base,
		                     &usher__v1__create_account_reply__descriptor, &out),
		          US_OK, "CreateAccount");
	}
	/* Case-insensitive, oldest first, in pages that end. */
	Usher__V1__ListAccountsReply *page;
	tc_expect(c, list_accounts(c, NULL, "zebra alpha", 1, "", &page), US_OK, "first page");
	assert_int_equal(page->n_accounts, 1);
	assert_string_equal(page->accounts[0]->name, "Zebra Alpha Club");
	assert_string_not_equal(page->next_page_token, "");
	tc_expect(c, list_accounts(c, NULL, "zebra alpha", 1, page->next_page_token, &page), US_OK,
	          "second page");
	assert_int_equal(page->n_accounts, 1);
	assert_string_equal(page->accounts[0]->name, "ZEBRA ALPHA two");
	assert_string_equal(page->next_page_token, "");
	/* Never on a user's behalf. */
	tc_expect(c, list_accounts(c, owner, "", 0, "", &page), US_EDENIED, "with an actor");
	tc_expect_invalid(c, list_accounts(c, NULL, "", 0, "garbage", &page), "page_token",
	                  "bad page token");
	tc_close(c);
}

static int setup(void **state)
{
	(void)state;
	sys = tc_system_start("tenancy_accounts", NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tc_system_stop(sys);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_creator_becomes_primary_owner_with_defaults),
		cmocka_unit_test(test_settings_update_by_permission),
		cmocka_unit_test(test_outsiders_cannot_read_an_account),
		cmocka_unit_test(test_subaccounts),
		cmocka_unit_test(test_list_members_pages_and_filters),
		cmocka_unit_test(test_list_my_memberships),
		cmocka_unit_test(test_members_among_fifty_thousand),
		cmocka_unit_test(test_check_invite),
		cmocka_unit_test(test_operators_list_accounts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
