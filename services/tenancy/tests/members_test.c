/* Managing members against the real daemon: ChangeRole, SetScope, Deactivate,
 * Reactivate and Remove, with the ceiling, the last owner and the primary owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tenancy_client.h"

#define MEMBER USHER__V1__ROLE__ROLE_MEMBER
#define MODERATOR USHER__V1__ROLE__ROLE_MODERATOR
#define ADMIN USHER__V1__ROLE__ROLE_ADMIN
#define OWNER USHER__V1__ROLE__ROLE_OWNER

static ut_system *sys;

typedef struct world {
	tc *c;
	char *owner, *account, *sub_a, *sub_b;
} world;

static world make_world(void)
{
	world w = {.c = tc_open(sys)};
	w.owner = tc_uuid(w.c);
	w.account = tc_account(w.c, w.owner)->account->id;
	w.sub_a = tc_subaccount(w.c, w.owner, w.account, "North")->id;
	w.sub_b = tc_subaccount(w.c, w.owner, w.account, "South")->id;
	return w;
}

static Usher__V1__Membership *get_member(world *w, const char *user)
{
	Usher__V1__ListMembersRequest req = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	req.account_id = w->account;
	req.page_size = 500;
	Usher__V1__ListMembersReply *out;
	tc_expect(w->c, tc_call(w->c, "ListMembers", NULL, NULL, &req.base,
	                        &usher__v1__list_members_reply__descriptor, &out),
	          US_OK, "ListMembers");
	for (size_t i = 0; i < out->n_members; i++) {
		if (strcmp(out->members[i]->user_id, user) == 0)
			return out->members[i];
	}
	fail_msg("%s is not a member", user);
	return NULL;
}

static void test_last_owner_stays(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	tc_expect(c, tc_change_role(c, w.owner, w.account, w.owner, ADMIN), US_EPRECONDITION,
	          "the only owner demoting themselves");
	tc_expect_message(c, "last owner");
	tc_expect(c, tc_member(c, "Deactivate", w.owner, w.account, w.owner), US_EPRECONDITION,
	          "the only owner deactivating themselves");
	tc_expect(c, tc_member(c, "Remove", w.owner, w.account, w.owner), US_EPRECONDITION,
	          "the only owner removing themselves");
	assert_int_equal(get_member(&w, w.owner)->role, OWNER);

	/* With a second owner, the primary owner may step down. */
	char *second = tc_uuid(c);
	tc_grant(c, w.account, second, OWNER, tc_org(c));
	tc_expect(c, tc_change_role(c, w.owner, w.account, w.owner, ADMIN), US_OK,
	          "the primary owner demoting themselves beside another owner");
	/* Now the second owner is the last one. */
	tc_expect(c, tc_member(c, "Remove", second, w.account, second), US_EPRECONDITION,
	          "the last owner removing themselves");
	tc_close(c);
}

static void test_primary_owner_is_spared_by_others(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *second = tc_uuid(c);
	tc_grant(c, w.account, second, OWNER, tc_org(c));
	tc_expect(c, tc_change_role(c, second, w.account, w.owner, ADMIN), US_EDENIED,
	          "another owner demoting the primary owner");
	tc_expect_message(c, "primary owner");
	tc_expect(c, tc_member(c, "Remove", second, w.account, w.owner), US_EDENIED,
	          "another owner removing the primary owner");
	tc_expect(c, tc_member(c, "Deactivate", second, w.account, w.owner), US_EDENIED,
	          "another owner deactivating the primary owner");
	assert_true(tc_is_member(c, w.account, w.owner));
	assert_int_equal(get_member(&w, w.owner)->role, OWNER);

	/* The primary owner may demote another owner. */
	tc_expect(c, tc_change_role(c, w.owner, w.account, second, ADMIN), US_OK,
	          "the primary owner demoting another owner");
	tc_close(c);
}

static void test_admin_cannot_touch_an_owner_or_raise_above_itself(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *admin = tc_uuid(c), *member = tc_uuid(c);
	tc_grant(c, w.account, admin, ADMIN, tc_org(c));
	tc_grant(c, w.account, member, MEMBER, tc_org(c));

	tc_expect(c, tc_change_role(c, admin, w.account, w.owner, MEMBER), US_EDENIED,
	          "an admin demoting an owner");
	tc_expect_message(c, "above own role");
	tc_expect(c, tc_member(c, "Deactivate", admin, w.account, w.owner), US_EDENIED,
	          "an admin deactivating an owner");
	tc_expect(c, tc_member(c, "Remove", admin, w.account, w.owner), US_EDENIED,
	          "an admin removing an owner");
	tc_expect(c, tc_change_role(c, admin, w.account, member, OWNER), US_EDENIED,
	          "an admin making an owner");
	tc_expect(c, tc_change_role(c, admin, w.account, admin, OWNER), US_EDENIED,
	          "an admin promoting themselves");
	tc_close(c);
}

/* DESIGN §4: only owners grant at organization level, so an organization-level admin
 * changes no organization-level member's role (issue 11, hole 4); admins change roles
 * within their own subaccounts, at their level or lower. */
static void test_only_owners_change_organization_level_roles(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *org_admin = tc_uuid(c), *org_member = tc_uuid(c), *org_moderator = tc_uuid(c);
	char *sub_admin = tc_uuid(c), *sub_member = tc_uuid(c);
	tc_grant(c, w.account, org_admin, ADMIN, tc_org(c));
	tc_grant(c, w.account, org_member, MEMBER, tc_org(c));
	tc_grant(c, w.account, org_moderator, MODERATOR, tc_org(c));
	tc_grant(c, w.account, sub_admin, ADMIN, tc_subs(c, 1, w.sub_a));
	tc_grant(c, w.account, sub_member, MEMBER, tc_subs(c, 1, w.sub_a));

	tc_expect(c, tc_change_role(c, org_admin, w.account, org_member, ADMIN), US_EDENIED,
	          "an organization-level admin promoting an organization-level member");
	tc_expect_message(c, "only owners grant at organization level");
	tc_expect(c, tc_change_role(c, org_admin, w.account, org_moderator, MEMBER), US_EDENIED,
	          "an organization-level admin demoting an organization-level moderator");
	assert_int_equal(get_member(&w, org_member)->role, MEMBER);
	assert_int_equal(get_member(&w, org_moderator)->role, MODERATOR);

	/* Within a subaccount, an admin may raise a member to their own level. */
	tc_expect(c, tc_change_role(c, sub_admin, w.account, sub_member, ADMIN), US_OK,
	          "a subaccount admin promoting a member of their subaccount");
	assert_int_equal(get_member(&w, sub_member)->role, ADMIN);
	/* An owner may do it at organization level. */
	tc_expect(c, tc_change_role(c, w.owner, w.account, org_member, ADMIN), US_OK,
	          "the owner promoting an organization-level member");
	assert_int_equal(get_member(&w, org_member)->role, ADMIN);
	tc_close(c);
}

static void test_actor_needs_permission_over_the_members_scope(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *admin_a = tc_uuid(c), *member_a = tc_uuid(c), *member_b = tc_uuid(c);
	char *moderator = tc_uuid(c);
	tc_grant(c, w.account, admin_a, ADMIN, tc_subs(c, 1, w.sub_a));
	tc_grant(c, w.account, member_a, MEMBER, tc_subs(c, 1, w.sub_a));
	tc_grant(c, w.account, member_b, MEMBER, tc_subs(c, 1, w.sub_b));
	tc_grant(c, w.account, moderator, MODERATOR, tc_subs(c, 1, w.sub_a));

	tc_expect(c, tc_member(c, "Deactivate", admin_a, w.account, member_b), US_EDENIED,
	          "an admin of A deactivating a member of B");
	tc_expect_message(c, "outside your own");
	tc_expect(c, tc_member(c, "Deactivate", admin_a, w.account, member_a), US_OK,
	          "an admin of A deactivating a member of A");
	tc_expect(c, tc_change_role(c, moderator, w.account, member_a, MODERATOR), US_EDENIED,
	          "a moderator changing a role");
	tc_expect_message(c, "role moderator is below admin");
	tc_expect(c, tc_member(c, "Remove", tc_uuid(c), w.account, member_a), US_EDENIED,
	          "an outsider removing a member");
	tc_close(c);
}

static void test_deactivated_actor_cannot_manage(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *admin = tc_uuid(c), *member = tc_uuid(c);
	tc_grant(c, w.account, admin, ADMIN, tc_org(c));
	tc_grant(c, w.account, member, MEMBER, tc_org(c));
	tc_expect(c, tc_member(c, "Deactivate", w.owner, w.account, admin), US_OK, "Deactivate");
	tc_expect(c, tc_member(c, "Remove", admin, w.account, member), US_EDENIED,
	          "a deactivated admin removing a member");
	tc_expect_message(c, "deactivated");
	assert_true(tc_is_member(c, w.account, member));
	tc_close(c);
}

static void test_remove_returns_the_membership_and_ends_it(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *member = tc_uuid(c);
	Usher__V1__Membership *m = tc_grant(c, w.account, member, MEMBER, tc_subs(c, 1, w.sub_a));
	Usher__V1__MemberRequest req = USHER__V1__MEMBER_REQUEST__INIT;
	req.account_id = w.account;
	req.user_id = member;
	Usher__V1__RemoveReply *out;
	tc_expect(c, tc_call(c, "Remove", w.owner, NULL, &req.base,
	                     &usher__v1__remove_reply__descriptor, &out),
	          US_OK, "Remove");
	assert_non_null(out->membership);
	assert_string_equal(out->membership->id, m->id);
	assert_false(tc_is_member(c, w.account, member));
	tc_expect_check(c, member, w.account, w.sub_a, "messages.send", false, "not a member");
	/* Removed, the user may be granted again. */
	tc_grant(c, w.account, member, MEMBER, tc_subs(c, 1, w.sub_b));
	tc_close(c);
}

static void test_promotion_to_owner_widens_to_organization(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *member = tc_uuid(c);
	tc_grant(c, w.account, member, MEMBER, tc_subs(c, 1, w.sub_a));
	tc_expect(c, tc_change_role(c, w.owner, w.account, member, OWNER), US_OK, "ChangeRole");
	Usher__V1__Membership *m = get_member(&w, member);
	assert_int_equal(m->role, OWNER);
	assert_true(m->scope->organization);
	assert_int_equal(m->scope->n_subaccount_ids, 0);
	tc_expect_check(c, member, w.account, w.sub_b, "campaign.send", true, NULL);
	tc_close(c);
}

static us_err set_scope(world *w, const char *actor, const char *user, Usher__V1__Scope *scope,
                        char **products, size_t n_products)
{
	Usher__V1__SetScopeRequest req = USHER__V1__SET_SCOPE_REQUEST__INIT;
	req.account_id = w->account;
	req.user_id = (char *)user;
	req.scope = scope;
	req.products = products;
	req.n_products = n_products;
	Usher__V1__SetScopeReply *out;
	return tc_call(w->c, "SetScope", actor, NULL, &req.base, &usher__v1__set_scope_reply__descriptor,
	               &out);
}

/* Grants with flags, by the system. */
static void grant_flags(world *w, const char *user, int role, Usher__V1__Scope *scope,
                        char **flags, size_t n)
{
	Usher__V1__GrantMembershipRequest req = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	req.account_id = w->account;
	req.user_id = (char *)user;
	req.role = role;
	req.scope = scope;
	req.flags = flags;
	req.n_flags = n;
	req.source = "admin";
	req.system_reason = "test";
	Usher__V1__GrantMembershipReply *out;
	tc_expect(w->c, tc_call(w->c, "GrantMembership", NULL, NULL, &req.base,
	                        &usher__v1__grant_membership_reply__descriptor, &out),
	          US_OK, "GrantMembership with flags");
}

static us_err set_flags(world *w, const char *actor, const char *user, char **flags, size_t n)
{
	Usher__V1__SetFlagsRequest req = USHER__V1__SET_FLAGS_REQUEST__INIT;
	req.account_id = w->account;
	req.user_id = (char *)user;
	req.flags = flags;
	req.n_flags = n;
	Usher__V1__SetFlagsReply *out;
	return tc_call(w->c, "SetFlags", actor, NULL, &req.base, &usher__v1__set_flags_reply__descriptor,
	               &out);
}

static bool member_has_flag(world *w, const char *user, const char *flag)
{
	Usher__V1__Membership *m = get_member(w, user);
	for (size_t i = 0; i < m->n_flags; i++) {
		if (strcmp(m->flags[i], flag) == 0)
			return true;
	}
	return false;
}

/* SetFlags grants as GrantMembership and CheckGrant do: only flags the actor holds (owners
 * hold every one), added or taken away; over a member the actor may manage. */
static void test_set_flags_follows_the_grant_rules(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *admin = tc_uuid(c), *member = tc_uuid(c), *other = tc_uuid(c);
	char *view[] = {"messages.view_body"}, *export[] = {"export"};
	char *both[] = {"messages.view_body", "export"};
	grant_flags(&w, admin, ADMIN, tc_org(c), view, 1);
	tc_grant(c, w.account, member, MEMBER, tc_subs(c, 1, w.sub_a));
	grant_flags(&w, other, MEMBER, tc_subs(c, 1, w.sub_a), export, 1);

	tc_expect(c, set_flags(&w, admin, member, view, 1), US_OK, "an admin granting a flag it holds");
	assert_true(member_has_flag(&w, member, "messages.view_body"));
	tc_expect(c, set_flags(&w, admin, member, both, 2), US_EDENIED,
	          "an admin granting a flag it does not hold");
	tc_expect_message(c, "cannot grant flag \"export\", which you do not hold");
	assert_false(member_has_flag(&w, member, "export"));
	tc_expect(c, set_flags(&w, admin, other, NULL, 0), US_EDENIED,
	          "an admin taking away a flag it does not hold");
	assert_true(member_has_flag(&w, other, "export"));
	tc_expect(c, set_flags(&w, admin, member, NULL, 0), US_OK, "an admin taking its own flag away");
	assert_false(member_has_flag(&w, member, "messages.view_body"));
	tc_expect(c, set_flags(&w, admin, w.owner, view, 1), US_EDENIED, "an admin flagging an owner");
	tc_expect(c, set_flags(&w, member, other, NULL, 0), US_EDENIED, "a member setting flags");
	tc_expect(c, set_flags(&w, w.owner, member, both, 2), US_OK, "an owner granting any flag");
	assert_true(member_has_flag(&w, member, "export"));
	char *bad[] = {"Not A Flag"};
	tc_expect_invalid(c, set_flags(&w, w.owner, member, bad, 1), "flags[0]", "a malformed flag");
	assert_true(member_has_flag(&w, member, "export"));

	/* CheckGrant and GrantMembership hold the granter to the same ceiling. */
	Usher__V1__CheckGrantRequest check = USHER__V1__CHECK_GRANT_REQUEST__INIT;
	check.actor_user_id = admin;
	check.account_id = w.account;
	check.role = MEMBER;
	check.scope = tc_subs(c, 1, w.sub_a);
	check.flags = export;
	check.n_flags = 1;
	Usher__V1__CheckGrantReply *answer;
	tc_expect(c, tc_call(c, "CheckGrant", NULL, NULL, &check.base,
	                     &usher__v1__check_grant_reply__descriptor, &answer),
	          US_OK, "CheckGrant with a flag");
	assert_false(answer->allowed);
	assert_non_null(strstr(answer->reason, "export"));
	check.flags = view;
	tc_expect(c, tc_call(c, "CheckGrant", NULL, NULL, &check.base,
	                     &usher__v1__check_grant_reply__descriptor, &answer),
	          US_OK, "CheckGrant with a flag held");
	assert_true(answer->allowed);
	Usher__V1__GrantMembershipRequest grant = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	grant.account_id = w.account;
	grant.user_id = tc_uuid(c);
	grant.role = MEMBER;
	grant.scope = tc_subs(c, 1, w.sub_a);
	grant.flags = export;
	grant.n_flags = 1;
	grant.source = "admin";
	grant.granted_by = admin;
	Usher__V1__GrantMembershipReply *granted;
	tc_expect(c, tc_call(c, "GrantMembership", NULL, NULL, &grant.base,
	                     &usher__v1__grant_membership_reply__descriptor, &granted),
	          US_EDENIED, "GrantMembership of a flag the granter does not hold");
	tc_close(c);
}

static void test_set_scope_follows_the_grant_rules(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *sub_c = tc_subaccount(c, w.owner, w.account, "East")->id;
	char *admin = tc_uuid(c), *member = tc_uuid(c);
	char *sms[] = {"sms"}, *fax[] = {"fax"}, *voice[] = {"voice"};
	tc_expect(c, tc_try_grant_products(c, w.account, admin, ADMIN, tc_subs(c, 2, w.sub_a, w.sub_b),
	                                   sms, 1, NULL, NULL),
	          US_OK, "granting an admin with sms");
	tc_grant(c, w.account, member, MEMBER, tc_subs(c, 1, w.sub_a));

	tc_expect(c, set_scope(&w, admin, member, tc_subs(c, 2, w.sub_a, w.sub_b), sms, 1), US_OK,
	          "an admin widening a member within their own subaccounts");
	Usher__V1__Membership *m = get_member(&w, member);
	assert_int_equal(m->scope->n_subaccount_ids, 2);
	assert_int_equal(m->n_products, 1);
	tc_expect_check(c, member, w.account, w.sub_b, "messages.send", true, NULL);

	tc_expect(c, set_scope(&w, admin, member, tc_subs(c, 1, w.sub_a), voice, 1), US_EDENIED,
	          "an admin granting a product they do not hold");
	tc_expect_message(c, "which you do not hold");
	tc_expect(c, set_scope(&w, admin, member, tc_subs(c, 1, sub_c), NULL, 0), US_EDENIED,
	          "an admin moving a member outside their own subaccounts");
	tc_expect(c, set_scope(&w, admin, member, tc_org(c), NULL, 0), US_EDENIED,
	          "an admin granting organization scope");
	tc_expect_message(c, "only owners");
	tc_expect_invalid(c, set_scope(&w, w.owner, member, tc_org(c), fax, 1), "products[0]",
	                  "SetScope with a product the account lacks");
	tc_expect(c, set_scope(&w, w.owner, w.owner, tc_subs(c, 1, w.sub_a), NULL, 0),
	          US_EPRECONDITION, "an owner narrowed to a subaccount");

	/* Narrowing takes effect at once. */
	tc_expect(c, set_scope(&w, w.owner, member, tc_subs(c, 1, w.sub_b), NULL, 0), US_OK,
	          "the owner narrowing a member");
	tc_expect_check(c, member, w.account, w.sub_a, "messages.send", false, "scope");
	tc_close(c);
}

static int setup(void **state)
{
	(void)state;
	sys = tc_system_start("tenancy_members", NULL);
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
		cmocka_unit_test(test_last_owner_stays),
		cmocka_unit_test(test_primary_owner_is_spared_by_others),
		cmocka_unit_test(test_admin_cannot_touch_an_owner_or_raise_above_itself),
		cmocka_unit_test(test_only_owners_change_organization_level_roles),
		cmocka_unit_test(test_actor_needs_permission_over_the_members_scope),
		cmocka_unit_test(test_deactivated_actor_cannot_manage),
		cmocka_unit_test(test_remove_returns_the_membership_and_ends_it),
		cmocka_unit_test(test_promotion_to_owner_widens_to_organization),
		cmocka_unit_test(test_set_scope_follows_the_grant_rules),
		cmocka_unit_test(test_set_flags_follows_the_grant_rules),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
