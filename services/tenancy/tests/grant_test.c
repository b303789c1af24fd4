/* Granting memberships against the real daemon: the ceiling of CheckGrant and
 * GrantMembership, idempotent replays, and one membership per account and user. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tenancy_client.h"

#define MEMBER USHER__V1__ROLE__ROLE_MEMBER
#define MODERATOR USHER__V1__ROLE__ROLE_MODERATOR
#define ADMIN USHER__V1__ROLE__ROLE_ADMIN
#define OWNER USHER__V1__ROLE__ROLE_OWNER

static ut_system *sys;

typedef struct world {
	tc *c;
	char *owner, *account, *sub_a, *sub_b;
	char *admin_a; /* admin of subaccount A only */
} world;

static world make_world(void)
{
	world w = {.c = tc_open(sys)};
	w.owner = tc_uuid(w.c);
	w.account = tc_account(w.c, w.owner)->account->id;
	w.sub_a = tc_subaccount(w.c, w.owner, w.account, "North")->id;
	w.sub_b = tc_subaccount(w.c, w.owner, w.account, "South")->id;
	w.admin_a = tc_uuid(w.c);
	tc_grant(w.c, w.account, w.admin_a, ADMIN, tc_subs(w.c, 1, w.sub_a));
	return w;
}

/* CheckGrant(actor, account, role, scope) must answer allowed, with reason containing
 * reason when it is not NULL. */
static void expect_grant(world *w, const char *actor, int role, Usher__V1__Scope *scope,
                         bool allowed, const char *reason)
{
	Usher__V1__CheckGrantRequest req = USHER__V1__CHECK_GRANT_REQUEST__INIT;
	req.actor_user_id = (char *)actor;
	req.account_id = w->account;
	req.role = (Usher__V1__Role)role;
	req.scope = scope;
	Usher__V1__CheckGrantReply *out;
	tc_expect(w->c, tc_call(w->c, "CheckGrant", NULL, NULL, &req.base,
	                        &usher__v1__check_grant_reply__descriptor, &out),
	          US_OK, "CheckGrant");
	if (out->allowed != allowed || (reason != NULL && strstr(out->reason, reason) == NULL))
		fail_msg("CheckGrant of role %d: expected %s (\"%s\"), got %s (\"%s\")", role,
		         allowed ? "allowed" : "denied", reason ? reason : "",
		         out->allowed ? "allowed" : "denied", out->reason);

	/* GrantMembership by the same actor agrees, and a refusal creates nothing. */
	char *user = tc_uuid(w->c);
	us_err rc = tc_try_grant(w->c, w->account, user, role, scope, actor, NULL);
	tc_expect(w->c, rc, allowed ? US_OK : US_EDENIED, "GrantMembership by the same actor");
	assert_int_equal(tc_is_member(w->c, w->account, user), allowed);
}

static void test_owner_grants_anything(void **state)
{
	(void)state;
	world w = make_world();
	expect_grant(&w, w.owner, OWNER, tc_org(w.c), true, NULL);
	expect_grant(&w, w.owner, ADMIN, tc_org(w.c), true, NULL);
	expect_grant(&w, w.owner, MEMBER, tc_subs(w.c, 2, w.sub_a, w.sub_b), true, NULL);
	tc_close(w.c);
}

static void test_nobody_grants_above_their_role(void **state)
{
	(void)state;
	world w = make_world();
	expect_grant(&w, w.admin_a, OWNER, tc_org(w.c), false, "above own role admin");
	expect_grant(&w, w.admin_a, ADMIN, tc_subs(w.c, 1, w.sub_a), true, NULL);
	expect_grant(&w, w.admin_a, MODERATOR, tc_subs(w.c, 1, w.sub_a), true, NULL);
	tc_close(w.c);
}

static void test_only_owners_grant_at_organization_level(void **state)
{
	(void)state;
	world w = make_world();
	char *org_admin = tc_uuid(w.c);
	tc_grant(w.c, w.account, org_admin, ADMIN, tc_org(w.c));
	expect_grant(&w, org_admin, MEMBER, tc_org(w.c), false, "only owners");
	expect_grant(&w, w.admin_a, MEMBER, tc_org(w.c), false, "only owners");
	/* An organization-level admin may still grant into any subaccount. */
	expect_grant(&w, org_admin, MEMBER, tc_subs(w.c, 1, w.sub_b), true, NULL);
	tc_close(w.c);
}

static void test_admins_grant_only_within_their_subaccounts(void **state)
{
	(void)state;
	world w = make_world();
	expect_grant(&w, w.admin_a, MEMBER, tc_subs(w.c, 1, w.sub_a), true, NULL);
	expect_grant(&w, w.admin_a, MEMBER, tc_subs(w.c, 1, w.sub_b), false, "outside your own");
	expect_grant(&w, w.admin_a, MEMBER, tc_subs(w.c, 2, w.sub_a, w.sub_b), false,
	             "outside your own");
	tc_close(w.c);
}

static void test_moderators_and_members_cannot_grant(void **state)
{
	(void)state;
	world w = make_world();
	char *moderator = tc_uuid(w.c), *member = tc_uuid(w.c);
	tc_grant(w.c, w.account, moderator, MODERATOR, tc_subs(w.c, 1, w.sub_a));
	tc_grant(w.c, w.account, member, MEMBER, tc_subs(w.c, 1, w.sub_a));
	expect_grant(&w, moderator, MEMBER, tc_subs(w.c, 1, w.sub_a), false, "cannot grant");
	expect_grant(&w, member, MEMBER, tc_subs(w.c, 1, w.sub_a), false, "cannot grant");
	expect_grant(&w, tc_uuid(w.c), MEMBER, tc_subs(w.c, 1, w.sub_a), false, "not a member");
	tc_close(w.c);
}

static void test_deactivated_actor_cannot_grant(void **state)
{
	(void)state;
	world w = make_world();
	tc_expect(w.c, tc_member(w.c, "Deactivate", w.owner, w.account, w.admin_a), US_OK,
	          "Deactivate");
	expect_grant(&w, w.admin_a, MEMBER, tc_subs(w.c, 1, w.sub_a), false, "deactivated");
	tc_close(w.c);
}

static void test_products_must_be_the_accounts(void **state)
{
	(void)state;
	world w = make_world();
	Usher__V1__CheckGrantRequest req = USHER__V1__CHECK_GRANT_REQUEST__INIT;
	char *products[] = {"sms", "fax"};
	req.actor_user_id = w.owner;
	req.account_id = w.account;
	req.role = MEMBER;
	req.scope = tc_org(w.c);
	req.products = products;
	req.n_products = 2;
	Usher__V1__CheckGrantReply *out;
	us_err rc = tc_call(w.c, "CheckGrant", NULL, NULL, &req.base,
	                    &usher__v1__check_grant_reply__descriptor, &out);
	tc_expect_invalid(w.c, rc, "products[1]", "CheckGrant with a product the account lacks");

	req.n_products = 1;
	rc = tc_call(w.c, "CheckGrant", NULL, NULL, &req.base,
	             &usher__v1__check_grant_reply__descriptor, &out);
	tc_expect(w.c, rc, US_OK, "CheckGrant with the account's product");
	assert_true(out->allowed);
	tc_close(w.c);
}

static Usher__V1__GrantMembershipRequest accept_request(world *w, const char *user)
{
	Usher__V1__GrantMembershipRequest req = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	req.account_id = w->account;
	req.user_id = (char *)user;
	req.role = MEMBER;
	req.scope = tc_subs(w->c, 1, w->sub_a);
	req.source = us_arena_printf(w->c->arena, "invitation:%s", tc_uuid(w->c));
	req.granted_by = w->admin_a;
	return req;
}

static void test_replayed_grant_returns_the_same_membership(void **state)
{
	(void)state;
	world w = make_world();
	char *user = tc_uuid(w.c);
	Usher__V1__GrantMembershipRequest req = accept_request(&w, user);
	char *key = us_arena_printf(w.c->arena, "accept:%s", tc_uuid(w.c));
	Usher__V1__GrantMembershipReply *first, *again;
	tc_expect(w.c, tc_call(w.c, "GrantMembership", NULL, key, &req.base,
	                       &usher__v1__grant_membership_reply__descriptor, &first),
	          US_OK, "GrantMembership");
	assert_string_equal(first->membership->source, req.source);
	tc_expect(w.c, tc_call(w.c, "GrantMembership", NULL, key, &req.base,
	                       &usher__v1__grant_membership_reply__descriptor, &again),
	          US_OK, "GrantMembership replayed");
	assert_string_equal(again->membership->id, first->membership->id);
	assert_string_equal(again->membership->created_at, first->membership->created_at);

	/* The same user under another key is a second grant, which one membership forbids. */
	tc_expect(w.c, tc_call(w.c, "GrantMembership", NULL, NULL, &req.base,
	                       &usher__v1__grant_membership_reply__descriptor, &again),
	          US_EEXISTS, "GrantMembership under another key");
	tc_close(w.c);
}

typedef struct race {
	const ut_system *sys;
	const char *account, *user;
	char *sub;
	us_err rc;
} race;

static void *grant_in_thread(void *arg)
{
	race *r = arg;
	tc *c = tc_open(r->sys);
	r->rc = tc_try_grant(c, r->account, r->user, MEMBER, tc_subs(c, 1, r->sub), NULL, NULL);
	tc_close(c);
	return NULL;
}

static void test_concurrent_grants_make_one_membership(void **state)
{
	(void)state;
	world w = make_world();
	char *user = tc_uuid(w.c);
	enum { N = 12 };
	race races[N];
	pthread_t threads[N];
	for (int i = 0; i < N; i++) {
		races[i] = (race){sys, w.account, user, w.sub_a, US_OK};
		assert_int_equal(pthread_create(&threads[i], NULL, grant_in_thread, &races[i]), 0);
	}
	int created = 0, refused = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(threads[i], NULL);
		created += races[i].rc == US_OK;
		refused += races[i].rc == US_EEXISTS;
	}
	assert_int_equal(created, 1);
	assert_int_equal(refused, N - 1);
	tc_close(w.c);
}

static void test_system_grant_needs_no_granter(void **state)
{
	(void)state;
	world w = make_world();
	char *user = tc_uuid(w.c);
	Usher__V1__Membership *m = tc_grant(w.c, w.account, user, OWNER, tc_org(w.c));
	assert_int_equal(m->role, OWNER);
	assert_true(m->scope->organization);
	assert_int_equal(m->status, USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE);
	tc_close(w.c);
}

/* The granter is judged before the user's existing membership: a granter who may no
 * longer grant hears so (the accept saga then revokes the invitation), not "already a
 * member". A grant's reply is the membership as stored, its subaccounts in order. */
static void test_grant_judges_the_granter_before_the_membership(void **state)
{
	(void)state;
	world w = make_world();
	char *user = tc_uuid(w.c);
	Usher__V1__Membership *m;
	tc_expect(w.c, tc_try_grant(w.c, w.account, user, MEMBER, tc_subs(w.c, 2, w.sub_b, w.sub_a),
	                            w.owner, &m),
	          US_OK, "GrantMembership by the owner");
	assert_int_equal(m->scope->n_subaccount_ids, 2);
	const char *first = strcmp(w.sub_a, w.sub_b) < 0 ? w.sub_a : w.sub_b;
	assert_string_equal(m->scope->subaccount_ids[0], first);
	assert_string_not_equal(m->scope->subaccount_ids[1], first);
	assert_string_equal(m->user_id, user);
	assert_int_equal(m->status, USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE);

	tc_expect(w.c, tc_try_grant(w.c, w.account, user, MEMBER, tc_subs(w.c, 1, w.sub_a), w.admin_a,
	                            NULL),
	          US_EEXISTS, "GrantMembership of a member");
	tc_expect(w.c, tc_member(w.c, "Deactivate", w.owner, w.account, w.admin_a), US_OK,
	          "Deactivate");
	tc_expect(w.c, tc_try_grant(w.c, w.account, user, MEMBER, tc_subs(w.c, 1, w.sub_a), w.admin_a,
	                            NULL),
	          US_EDENIED, "GrantMembership of a member by a deactivated admin");
	tc_close(w.c);
}

/* A grant's refusals come after its insert (sent with the key's claim, in one round
 * trip): each must leave nothing behind, its key included. */
static void test_refused_grants_leave_nothing(void **state)
{
	(void)state;
	world w = make_world();
	char *user = tc_uuid(w.c);
	char *key = us_arena_printf(w.c->arena, "accept:%s", tc_uuid(w.c));
	Usher__V1__GrantMembershipRequest req = accept_request(&w, user);
	Usher__V1__GrantMembershipReply *out;
	req.scope = tc_subs(w.c, 2, w.sub_a, tc_uuid(w.c));
	tc_expect_invalid(w.c, tc_call(w.c, "GrantMembership", NULL, key, &req.base,
	                               &usher__v1__grant_membership_reply__descriptor, &out),
	                  "scope.subaccount_ids[1]", "GrantMembership with a foreign subaccount");
	assert_false(tc_is_member(w.c, w.account, user));

	Usher__V1__GrantMembershipRequest lost = accept_request(&w, user);
	lost.account_id = tc_uuid(w.c);
	tc_expect(w.c, tc_call(w.c, "GrantMembership", NULL, NULL, &lost.base,
	                       &usher__v1__grant_membership_reply__descriptor, &out),
	          US_ENOTFOUND, "GrantMembership in an unknown account");
	tc_expect_message(w.c, "account not found");

	/* The refused request's key was not kept: another request may use it. */
	req = accept_request(&w, user);
	tc_expect(w.c, tc_call(w.c, "GrantMembership", NULL, key, &req.base,
	                       &usher__v1__grant_membership_reply__descriptor, &out),
	          US_OK, "GrantMembership under the key of a refused request");
	assert_true(tc_is_member(w.c, w.account, user));

	/* Now it is kept: the key with another request is refused and grants nothing. */
	char *other = tc_uuid(w.c);
	Usher__V1__GrantMembershipRequest again = accept_request(&w, other);
	tc_expect_invalid(w.c, tc_call(w.c, "GrantMembership", NULL, key, &again.base,
	                               &usher__v1__grant_membership_reply__descriptor, &out),
	                  "idempotency_key", "GrantMembership under a used key");
	assert_false(tc_is_member(w.c, w.account, other));
	tc_close(w.c);
}

/* The db_round_trips of the last GrantMembership in tenancyd's log. */
static long last_grant_round_trips(void)
{
	FILE *f = fopen(sys->daemons[UT_TENANCY].log_path, "r");
	assert_non_null(f);
	char line[8192];
	long trips = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *doc = json_loads(line, 0, NULL);
		const char *method = json_string_value(json_object_get(doc, "method"));
		const char *msg = json_string_value(json_object_get(doc, "msg"));
		const char *value = json_string_value(json_object_get(doc, "db_round_trips"));
		if (method && msg && value && strcmp(msg, "request handled") == 0 &&
		    strcmp(method, "usher.v1.TenancyService/GrantMembership") == 0)
			trips = atol(value);
		json_decref(doc);
	}
	fclose(f);
	return trips;
}

/* The accept path's grant: the key's claim with the account lock, the granter's read,
 * the insert and the audit row; then the stored reply with the commit. */
static void test_a_grant_is_two_round_trips(void **state)
{
	(void)state;
	world w = make_world();
	tc_expect(w.c, tc_try_grant(w.c, w.account, tc_uuid(w.c), MEMBER, tc_subs(w.c, 1, w.sub_a),
	                            w.admin_a, NULL),
	          US_OK, "GrantMembership");
	assert_int_equal(last_grant_round_trips(), 2);
	tc_close(w.c);
}

static int setup(void **state)
{
	(void)state;
	sys = tc_system_start("tenancy_grant", NULL);
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
		cmocka_unit_test(test_owner_grants_anything),
		cmocka_unit_test(test_nobody_grants_above_their_role),
		cmocka_unit_test(test_only_owners_grant_at_organization_level),
		cmocka_unit_test(test_admins_grant_only_within_their_subaccounts),
		cmocka_unit_test(test_moderators_and_members_cannot_grant),
		cmocka_unit_test(test_deactivated_actor_cannot_grant),
		cmocka_unit_test(test_products_must_be_the_accounts),
		cmocka_unit_test(test_replayed_grant_returns_the_same_membership),
		cmocka_unit_test(test_refused_grants_leave_nothing),
		cmocka_unit_test(test_a_grant_is_two_round_trips),
		cmocka_unit_test(test_concurrent_grants_make_one_membership),
		cmocka_unit_test(test_system_grant_needs_no_granter),
		cmocka_unit_test(test_grant_judges_the_granter_before_the_membership),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
