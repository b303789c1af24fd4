/* Check against the real daemon: each rule of the permission matrix and of scope, as
 * the platform's services will see it. */
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

/* An account with two subaccounts, and a member of each role. */
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

static void test_roles_meet_the_matrix_minimum(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *admin = tc_uuid(c), *moderator = tc_uuid(c), *member = tc_uuid(c);
	tc_grant(c, w.account, admin, ADMIN, tc_subs(c, 1, w.sub_a));
	tc_grant(c, w.account, moderator, MODERATOR, tc_subs(c, 1, w.sub_a));
	tc_grant(c, w.account, member, MEMBER, tc_subs(c, 1, w.sub_a));

	/* 004: admins create and send campaigns, supervolunteers view all threads, texters
	 * send messages; each is refused the next role's work. */
	tc_expect_check(c, admin, w.account, w.sub_a, "campaign.send", true, NULL);
	tc_expect_check(c, moderator, w.account, w.sub_a, "campaign.send", false,
	                "role moderator is below admin");
	tc_expect_check(c, moderator, w.account, w.sub_a, "threads.view_all", true, NULL);
	tc_expect_check(c, member, w.account, w.sub_a, "threads.view_all", false,
	                "role member is below moderator");
	tc_expect_check(c, member, w.account, w.sub_a, "messages.send", true, NULL);
	tc_expect_check(c, member, w.account, w.sub_a, "notes.add", true, NULL);
	tc_expect_check(c, w.owner, w.account, w.sub_a, "optout.reverse", true, NULL);
	tc_expect_check(c, admin, w.account, w.sub_a, "member.invite", true, NULL);
	tc_expect_check(c, moderator, w.account, w.sub_a, "member.invite", false, "below admin");
	tc_close(c);
}

static void test_only_the_primary_owner_manages_billing(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *co_owner = tc_uuid(c);
	tc_grant(c, w.account, co_owner, OWNER, tc_org(c));

	tc_expect_check(c, w.owner, w.account, "", "billing.manage", true, NULL);
	tc_expect_check(c, co_owner, w.account, "", "billing.manage", false, "primary owner");
	/* Other owners still see pricing. */
	tc_expect_check(c, co_owner, w.account, "", "billing.view", true, NULL);
	tc_close(c);
}

static void test_organization_scope_covers_subaccounts_created_later(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *org_admin = tc_uuid(c), *sub_admin = tc_uuid(c);
	tc_grant(c, w.account, org_admin, ADMIN, tc_org(c));
	tc_grant(c, w.account, sub_admin, ADMIN, tc_subs(c, 1, w.sub_a));

	char *later = tc_subaccount(c, w.owner, w.account, "Created after the grants")->id;
	tc_expect_check(c, org_admin, w.account, later, "campaign.create", true, NULL);
	tc_expect_check(c, sub_admin, w.account, later, "campaign.create", false,
	                "scope does not include subaccount");
	tc_expect_check(c, sub_admin, w.account, w.sub_a, "campaign.create", true, NULL);
	tc_expect_check(c, sub_admin, w.account, w.sub_b, "campaign.create", false,
	                "scope does not include subaccount");
	tc_close(c);
}

static void test_account_wide_actions_need_organization_scope(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *sub_admin = tc_uuid(c), *org_admin = tc_uuid(c);
	tc_grant(c, w.account, sub_admin, ADMIN, tc_subs(c, 2, w.sub_a, w.sub_b));
	tc_grant(c, w.account, org_admin, ADMIN, tc_org(c));

	tc_expect_check(c, sub_admin, w.account, "", "usage.view", false, "organization scope");
	tc_expect_check(c, sub_admin, w.account, w.sub_a, "usage.view", true, NULL);
	tc_expect_check(c, org_admin, w.account, "", "usage.view", true, NULL);
	tc_close(c);
}

static void test_deactivated_member_fails_every_check(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *admin = tc_uuid(c);
	tc_grant(c, w.account, admin, ADMIN, tc_org(c));
	tc_expect_check(c, admin, w.account, w.sub_a, "messages.send", true, NULL);

	tc_expect(c, tc_member(c, "Deactivate", w.owner, w.account, admin), US_OK, "Deactivate");
	tc_expect_check(c, admin, w.account, w.sub_a, "messages.send", false,
	                "membership is deactivated");
	tc_expect_check(c, admin, w.account, "", "usage.view", false, "membership is deactivated");

	tc_expect(c, tc_member(c, "Reactivate", w.owner, w.account, admin), US_OK, "Reactivate");
	tc_expect_check(c, admin, w.account, w.sub_a, "messages.send", true, NULL);
	tc_close(c);
}

static void test_strangers_and_foreign_subaccounts_are_refused(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	world other = make_world();
	tc_expect_check(c, tc_uuid(c), w.account, w.sub_a, "messages.send", false, "not a member");
	/* An organization-wide owner of one account has nothing in another's subaccount. */
	tc_expect_check(c, w.owner, w.account, other.sub_a, "messages.send", false,
	                "subaccount is not in this account");
	tc_close(other.c);
	tc_close(c);
}

static void test_unknown_action_is_invalid(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = w.owner;
	req.account_id = w.account;
	req.action = "campaign.launch_rockets";
	Usher__V1__CheckReply *out;
	us_err rc = tc_call(c, "Check", NULL, NULL, &req.base, &usher__v1__check_reply__descriptor,
	                    &out);
	tc_expect_invalid(c, rc, "action", "Check with an unknown action");
	tc_close(c);
}

static void test_reads_by_an_outsider_learn_nothing(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *outsider = tc_uuid(c);
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = w.owner;
	req.account_id = w.account;
	req.action = "messages.send";
	Usher__V1__CheckReply *out;

	us_err rc = tc_call(c, "Check", outsider, NULL, &req.base,
	                    &usher__v1__check_reply__descriptor, &out);
	tc_expect(c, rc, US_EDENIED, "Check asked by an outsider");
	char existing[US_STATUS_MESSAGE_MAX];
	snprintf(existing, sizeof(existing), "%s", c->status.message);

	req.account_id = tc_uuid(c);
	rc = tc_call(c, "Check", outsider, NULL, &req.base, &usher__v1__check_reply__descriptor, &out);
	tc_expect(c, rc, US_EDENIED, "Check of a missing account asked by an outsider");
	assert_string_equal(c->status.message, existing);

	/* Internal callers (no actor) are told the account is missing. */
	rc = tc_call(c, "Check", NULL, NULL, &req.base, &usher__v1__check_reply__descriptor, &out);
	tc_expect(c, rc, US_ENOTFOUND, "Check of a missing account");
	tc_close(c);
}

static void test_suspended_account_fails_checks(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	tc_expect_check(c, w.owner, w.account, w.sub_a, "messages.send", true, NULL);
	char sql[200];
	snprintf(sql, sizeof(sql), "UPDATE tenancy.accounts SET status = 'suspended' WHERE id = '%s'",
	         w.account);
	ut_db_admin_exec(ut_system_db(sys, UT_TENANCY), sql);
	tc_expect_check(c, w.owner, w.account, w.sub_a, "messages.send", false, "suspended");
	tc_close(c);
}

static int setup(void **state)
{
	(void)state;
	sys = tc_system_start("tenancy_check", NULL);
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
		cmocka_unit_test(test_roles_meet_the_matrix_minimum),
		cmocka_unit_test(test_only_the_primary_owner_manages_billing),
		cmocka_unit_test(test_organization_scope_covers_subaccounts_created_later),
		cmocka_unit_test(test_account_wide_actions_need_organization_scope),
		cmocka_unit_test(test_deactivated_member_fails_every_check),
		cmocka_unit_test(test_strangers_and_foreign_subaccounts_are_refused),
		cmocka_unit_test(test_unknown_action_is_invalid),
		cmocka_unit_test(test_reads_by_an_outsider_learn_nothing),
		cmocka_unit_test(test_suspended_account_fails_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
