/* Every method refuses malformed input with INVALID_ARGUMENT naming the field, and a
 * refused request changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tenancy_client.h"

#define MEMBER USHER__V1__ROLE__ROLE_MEMBER
#define OWNER USHER__V1__ROLE__ROLE_OWNER

static ut_system *sys;
static tc *c;
static char *owner, *account, *sub, *member;
static char *too_long; /* 201 bytes */

/* A digest of every row tenancyd stores, idempotency keys included. */
static char *fingerprint(void)
{
	PGconn *conn = ut_db_admin(ut_system_db(sys, UT_TENANCY));
	PGresult *res = PQexec(conn,
	                       "SELECT md5(string_agg(r, ',' ORDER BY r)) FROM ("
	                       " SELECT a::text AS r FROM tenancy.accounts a"
	                       " UNION ALL SELECT p::text FROM tenancy.account_products p"
	                       " UNION ALL SELECT s::text FROM tenancy.subaccounts s"
	                       " UNION ALL SELECT m::text FROM tenancy.memberships m"
	                       " UNION ALL SELECT ms::text FROM tenancy.membership_subaccounts ms"
	                       " UNION ALL SELECT k.key FROM tenancy.idempotency_keys k) t");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	char *digest = us_arena_strdup(c->arena, PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return digest;
}

/* Calls method as actor and expects a violation of field. */
static void expect_invalid(const char *method, const char *actor, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *reply_type, const char *field)
{
	ProtobufCMessage *out;
	char context[160];
	snprintf(context, sizeof(context), "%s with a bad %s", method, field);
	tc_expect_invalid(c, tc_call(c, method, actor, NULL, req, reply_type, &out), field, context);
}

/* n distinct names, "<prefix><i><suffix>". */
static char **many(size_t n, const char *prefix, const char *suffix)
{
	char **items = US_ARENA_ARRAY(c->arena, char *, n);
	for (size_t i = 0; i < n; i++)
		items[i] = us_arena_printf(c->arena, "%s%zu%s", prefix, i, suffix);
	return items;
}

static void test_create_account(void **state)
{
	(void)state;
	char *before = fingerprint();
	const ProtobufCMessageDescriptor *d = &usher__v1__create_account_reply__descriptor;
	char *upper[] = {"SMS"}, *twice[] = {"sms", "sms"}, *wide[] = {"a23456789012345678901234567890123456789012"};
	char *no_dot[] = {"example"}, *with_at[] = {"me@example.com"};
	Usher__V1__CreateAccountRequest r;

#define RESET() (r = (Usher__V1__CreateAccountRequest)USHER__V1__CREATE_ACCOUNT_REQUEST__INIT, \
	         r.name = "Fine")
	RESET(), r.name = "";
	expect_invalid("CreateAccount", owner, &r.base, d, "name");
	RESET(), r.name = too_long;
	expect_invalid("CreateAccount", owner, &r.base, d, "name");
	RESET(), r.name = "tab\there";
	expect_invalid("CreateAccount", owner, &r.base, d, "name");
	RESET(), r.products = upper, r.n_products = 1;
	expect_invalid("CreateAccount", owner, &r.base, d, "products[0]");
	RESET(), r.products = twice, r.n_products = 2;
	expect_invalid("CreateAccount", owner, &r.base, d, "products[1]");
	RESET(), r.products = wide, r.n_products = 1;
	expect_invalid("CreateAccount", owner, &r.base, d, "products[0]");
	RESET(), r.products = many(33, "p", ""), r.n_products = 33;
	expect_invalid("CreateAccount", owner, &r.base, d, "products");
	RESET(), r.invitation_expiry_hours = 721;
	expect_invalid("CreateAccount", owner, &r.base, d, "invitation_expiry_hours");
	RESET(), r.allowed_email_domains = no_dot, r.n_allowed_email_domains = 1;
	expect_invalid("CreateAccount", owner, &r.base, d, "allowed_email_domains[0]");
	RESET(), r.allowed_email_domains = with_at, r.n_allowed_email_domains = 1;
	expect_invalid("CreateAccount", owner, &r.base, d, "allowed_email_domains[0]");
	RESET(), r.allowed_email_domains = many(101, "d", ".example.com");
	r.n_allowed_email_domains = 101;
	expect_invalid("CreateAccount", owner, &r.base, d, "allowed_email_domains");
	RESET();
	expect_invalid("CreateAccount", "not-a-uuid", &r.base, d, "actor.user_id");
#undef RESET
	assert_string_equal(fingerprint(), before);
}

static void test_account_reads_and_settings(void **state)
{
	(void)state;
	char *before = fingerprint();
	Usher__V1__GetAccountRequest get = USHER__V1__GET_ACCOUNT_REQUEST__INIT;
	get.account_id = "42";
	expect_invalid("GetAccount", NULL, &get.base, &usher__v1__get_account_reply__descriptor,
	               "account_id");
	/* UUIDs are canonical: lowercase. */
	get.account_id = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
	expect_invalid("GetAccount", NULL, &get.base, &usher__v1__get_account_reply__descriptor,
	               "account_id");

	const ProtobufCMessageDescriptor *d = &usher__v1__update_account_settings_reply__descriptor;
	char *bad_domain[] = {"-example.com"};
	Usher__V1__UpdateAccountSettingsRequest u;
#define RESET() (u = (Usher__V1__UpdateAccountSettingsRequest) \
	         USHER__V1__UPDATE_ACCOUNT_SETTINGS_REQUEST__INIT, u.account_id = account, u.name = "Ok")
	RESET(), u.account_id = "";
	expect_invalid("UpdateAccountSettings", owner, &u.base, d, "account_id");
	RESET(), u.name = "";
	expect_invalid("UpdateAccountSettings", owner, &u.base, d, "name");
	RESET(), u.invitation_expiry_hours = 100000;
	expect_invalid("UpdateAccountSettings", owner, &u.base, d, "invitation_expiry_hours");
	RESET(), u.allowed_email_domains = bad_domain, u.n_allowed_email_domains = 1;
	expect_invalid("UpdateAccountSettings", owner, &u.base, d, "allowed_email_domains[0]");
#undef RESET

	Usher__V1__CreateSubaccountRequest s = USHER__V1__CREATE_SUBACCOUNT_REQUEST__INIT;
	s.account_id = account;
	s.name = "  ";
	expect_invalid("CreateSubaccount", owner, &s.base,
	               &usher__v1__create_subaccount_reply__descriptor, "name");
	s.name = too_long;
	expect_invalid("CreateSubaccount", owner, &s.base,
	               &usher__v1__create_subaccount_reply__descriptor, "name");
	s.name = "West", s.account_id = "x";
	expect_invalid("CreateSubaccount", owner, &s.base,
	               &usher__v1__create_subaccount_reply__descriptor, "account_id");

	Usher__V1__ListSubaccountsRequest l = USHER__V1__LIST_SUBACCOUNTS_REQUEST__INIT;
	l.account_id = "x";
	expect_invalid("ListSubaccounts", owner, &l.base,
	               &usher__v1__list_subaccounts_reply__descriptor, "account_id");
	assert_string_equal(fingerprint(), before);
}

static void test_grant_membership(void **state)
{
	(void)state;
	char *before = fingerprint();
	const ProtobufCMessageDescriptor *d = &usher__v1__grant_membership_reply__descriptor;
	char *fax[] = {"fax"}, *bad_flag[] = {"View Body"};
	Usher__V1__Scope both = USHER__V1__SCOPE__INIT, neither = USHER__V1__SCOPE__INIT;
	char *subs[] = {sub};
	both.organization = true, both.subaccount_ids = subs, both.n_subaccount_ids = 1;
	Usher__V1__GrantMembershipRequest g;
#define RESET() (g = (Usher__V1__GrantMembershipRequest)USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT, \
	         g.account_id = account, g.user_id = tc_uuid(c), g.role = MEMBER,                   \
	         g.scope = tc_subs(c, 1, sub), g.source = "admin", g.system_reason = "test")
	RESET(), g.account_id = "acme";
	expect_invalid("GrantMembership", NULL, &g.base, d, "account_id");
	RESET(), g.user_id = "bob";
	expect_invalid("GrantMembership", NULL, &g.base, d, "user_id");
	RESET(), g.role = USHER__V1__ROLE__ROLE_UNSPECIFIED;
	expect_invalid("GrantMembership", NULL, &g.base, d, "role");
	RESET(), g.role = (Usher__V1__Role)9;
	expect_invalid("GrantMembership", NULL, &g.base, d, "role");
	RESET(), g.scope = NULL;
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope");
	RESET(), g.scope = &both;
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope");
	RESET(), g.scope = &neither;
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope");
	RESET(), g.scope = tc_subs(c, 2, sub, "nope");
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope.subaccount_ids[1]");
	RESET(), g.scope = tc_subs(c, 2, sub, sub);
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope.subaccount_ids[1]");
	RESET(), g.scope = tc_subs(c, 1, tc_uuid(c));
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope.subaccount_ids[0]");
	RESET(), g.role = OWNER;
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope");
	RESET(), g.products = fax, g.n_products = 1;
	expect_invalid("GrantMembership", NULL, &g.base, d, "products[0]");
	RESET(), g.flags = bad_flag, g.n_flags = 1;
	expect_invalid("GrantMembership", NULL, &g.base, d, "flags[0]");
	RESET(), g.source = "";
	expect_invalid("GrantMembership", NULL, &g.base, d, "source");
	RESET(), g.source = too_long;
	expect_invalid("GrantMembership", NULL, &g.base, d, "source");
	RESET(), g.granted_by = "the boss";
	expect_invalid("GrantMembership", NULL, &g.base, d, "granted_by");
#undef RESET
	/* 1,001 subaccounts is over the bound before any is looked at. */
	Usher__V1__Scope huge = USHER__V1__SCOPE__INIT;
	huge.subaccount_ids = US_ARENA_ARRAY(c->arena, char *, 1001);
	huge.n_subaccount_ids = 1001;
	for (size_t i = 0; i < 1001; i++)
		huge.subaccount_ids[i] = tc_uuid(c);
	g = (Usher__V1__GrantMembershipRequest)USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	g.account_id = account, g.user_id = tc_uuid(c), g.role = MEMBER, g.scope = &huge;
	g.source = "admin", g.system_reason = "test";
	expect_invalid("GrantMembership", NULL, &g.base, d, "scope.subaccount_ids");
	assert_string_equal(fingerprint(), before);
}

static void test_member_changes(void **state)
{
	(void)state;
	char *before = fingerprint();
	Usher__V1__ChangeRoleRequest cr = USHER__V1__CHANGE_ROLE_REQUEST__INIT;
	const ProtobufCMessageDescriptor *crd = &usher__v1__change_role_reply__descriptor;
	cr.account_id = account, cr.user_id = member, cr.role = (Usher__V1__Role)5;
	expect_invalid("ChangeRole", owner, &cr.base, crd, "role");
	cr.role = USHER__V1__ROLE__ROLE_UNSPECIFIED;
	expect_invalid("ChangeRole", owner, &cr.base, crd, "role");
	cr.role = MEMBER, cr.user_id = "";
	expect_invalid("ChangeRole", owner, &cr.base, crd, "user_id");

	const ProtobufCMessageDescriptor *ssd = &usher__v1__set_scope_reply__descriptor;
	Usher__V1__Scope both = USHER__V1__SCOPE__INIT, neither = USHER__V1__SCOPE__INIT;
	char *subs[] = {sub}, *fax[] = {"fax"}, *upper[] = {"Voice"};
	both.organization = true, both.subaccount_ids = subs, both.n_subaccount_ids = 1;
	Usher__V1__SetScopeRequest ss = USHER__V1__SET_SCOPE_REQUEST__INIT;
	ss.account_id = account, ss.user_id = member, ss.scope = &both;
	expect_invalid("SetScope", owner, &ss.base, ssd, "scope");
	ss.scope = &neither;
	expect_invalid("SetScope", owner, &ss.base, ssd, "scope");
	ss.scope = tc_org(c), ss.products = upper, ss.n_products = 1;
	expect_invalid("SetScope", owner, &ss.base, ssd, "products[0]");
	ss.products = fax;
	expect_invalid("SetScope", owner, &ss.base, ssd, "products[0]");
	ss.products = NULL, ss.n_products = 0, ss.user_id = "x";
	expect_invalid("SetScope", owner, &ss.base, ssd, "user_id");

	static const char *const methods[] = {"Deactivate", "Reactivate", "Remove"};
	for (size_t i = 0; i < 3; i++) {
		const ProtobufCMessageDescriptor *md = i == 2 ? &usher__v1__remove_reply__descriptor
		                                              : &usher__v1__member_reply__descriptor;
		Usher__V1__MemberRequest mr = USHER__V1__MEMBER_REQUEST__INIT;
		mr.account_id = account, mr.user_id = "someone";
		expect_invalid(methods[i], owner, &mr.base, md, "user_id");
		mr.account_id = "", mr.user_id = member;
		expect_invalid(methods[i], owner, &mr.base, md, "account_id");
	}
	assert_string_equal(fingerprint(), before);
	assert_true(tc_is_member(c, account, member));
}

static void test_listings(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &usher__v1__list_members_reply__descriptor;
	Usher__V1__ListMembersRequest l;
#define RESET() (l = (Usher__V1__ListMembersRequest)USHER__V1__LIST_MEMBERS_REQUEST__INIT, \
	         l.account_id = account)
	RESET(), l.account_id = "x";
	expect_invalid("ListMembers", NULL, &l.base, d, "account_id");
	RESET(), l.role = (Usher__V1__Role)9;
	expect_invalid("ListMembers", NULL, &l.base, d, "role");
	RESET(), l.status = (Usher__V1__MembershipStatus)7;
	expect_invalid("ListMembers", NULL, &l.base, d, "status");
	RESET(), l.subaccount_id = "north";
	expect_invalid("ListMembers", NULL, &l.base, d, "subaccount_id");
	RESET(), l.page_size = 501;
	expect_invalid("ListMembers", NULL, &l.base, d, "page_size");
	RESET(), l.page_token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	expect_invalid("ListMembers", NULL, &l.base, d, "page_token");
#undef RESET

	Usher__V1__ListMyMembershipsRequest my = USHER__V1__LIST_MY_MEMBERSHIPS_REQUEST__INIT;
	expect_invalid("ListMyMemberships", "me", &my.base,
	               &usher__v1__list_my_memberships_reply__descriptor, "actor.user_id");

	Usher__V1__MembersAmongRequest among = USHER__V1__MEMBERS_AMONG_REQUEST__INIT;
	char *ids[] = {member, "bob@example.com"};
	among.account_id = account, among.user_ids = ids, among.n_user_ids = 2;
	expect_invalid("MembersAmong", NULL, &among.base, &usher__v1__members_among_reply__descriptor,
	               "user_ids[1]");
	among.account_id = "", among.n_user_ids = 1;
	expect_invalid("MembersAmong", NULL, &among.base, &usher__v1__members_among_reply__descriptor,
	               "account_id");
}

static void test_checks(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &usher__v1__check_reply__descriptor;
	Usher__V1__CheckRequest k;
#define RESET() (k = (Usher__V1__CheckRequest)USHER__V1__CHECK_REQUEST__INIT, \
	         k.user_id = member, k.account_id = account, k.action = "messages.send")
	RESET(), k.user_id = "x";
	expect_invalid("Check", NULL, &k.base, d, "user_id");
	RESET(), k.account_id = "x";
	expect_invalid("Check", NULL, &k.base, d, "account_id");
	RESET(), k.subaccount_id = "x";
	expect_invalid("Check", NULL, &k.base, d, "subaccount_id");
	RESET(), k.action = "";
	expect_invalid("Check", NULL, &k.base, d, "action");
	RESET(), k.action = too_long;
	expect_invalid("Check", NULL, &k.base, d, "action");
#undef RESET

	const ProtobufCMessageDescriptor *gd = &usher__v1__check_grant_reply__descriptor;
	Usher__V1__Scope both = USHER__V1__SCOPE__INIT;
	char *subs[] = {sub}, *fax[] = {"fax"};
	both.organization = true, both.subaccount_ids = subs, both.n_subaccount_ids = 1;
	Usher__V1__CheckGrantRequest g;
#define RESET() (g = (Usher__V1__CheckGrantRequest)USHER__V1__CHECK_GRANT_REQUEST__INIT, \
	         g.actor_user_id = owner, g.account_id = account, g.role = MEMBER, g.scope = tc_org(c))
	RESET(), g.actor_user_id = "";
	expect_invalid("CheckGrant", NULL, &g.base, gd, "actor_user_id");
	RESET(), g.account_id = "";
	expect_invalid("CheckGrant", NULL, &g.base, gd, "account_id");
	RESET(), g.role = (Usher__V1__Role)7;
	expect_invalid("CheckGrant", NULL, &g.base, gd, "role");
	RESET(), g.scope = &both;
	expect_invalid("CheckGrant", NULL, &g.base, gd, "scope");
	RESET(), g.products = fax, g.n_products = 1;
	expect_invalid("CheckGrant", NULL, &g.base, gd, "products[0]");
#undef RESET
}

static int setup(void **state)
{
	(void)state;
	sys = tc_system_start("tenancy_validation", NULL);
	c = tc_open(sys);
	owner = tc_uuid(c);
	member = tc_uuid(c);
	account = tc_account(c, owner)->account->id;
	sub = tc_subaccount(c, owner, account, "North")->id;
	tc_grant(c, account, member, MEMBER, tc_subs(c, 1, sub));
	too_long = us_arena_alloc(c->arena, 202);
	memset(too_long, 'a', 201);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tc_close(c);
	tc_system_stop(sys);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_account),
		cmocka_unit_test(test_account_reads_and_settings),
		cmocka_unit_test(test_grant_membership),
		cmocka_unit_test(test_member_changes),
		cmocka_unit_test(test_listings),
		cmocka_unit_test(test_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
