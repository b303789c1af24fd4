/* Products are real (issue 11, hole 11): Check takes the product an action is done in,
 * nobody grants a product they do not hold, only an owner who is the primary owner
 * manages billing and primary ownership can be handed over, and accounts enable only
 * products of the platform's catalogue, which is data reread on SIGHUP. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "tenancy_client.h"

#define MEMBER USHER__V1__ROLE__ROLE_MEMBER
#define ADMIN USHER__V1__ROLE__ROLE_ADMIN
#define OWNER USHER__V1__ROLE__ROLE_OWNER

static ut_system *sys;
static char catalogue_path[128];

/* The built-in catalogue's products the tests use, and one only this test offers. */
static const char catalogue[] = "sms\nvoice\nholograms   # only here\n";

typedef struct world {
	tc *c;
	char *owner, *account, *sub_a;
} world;

/* An account with products sms and voice (tc_account) and a subaccount. */
static world make_world(void)
{
	world w = {.c = tc_open(sys)};
	w.owner = tc_uuid(w.c);
	w.account = tc_account(w.c, w.owner)->account->id;
	w.sub_a = tc_subaccount(w.c, w.owner, w.account, "North")->id;
	return w;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void expect_product_check(tc *c, const char *user, const char *account, const char *sub,
                                 const char *action, const char *product, bool allowed,
                                 const char *reason)
{
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = (char *)user;
	req.account_id = (char *)account;
	req.subaccount_id = (char *)sub;
	req.action = (char *)action;
	req.product = (char *)product;
	Usher__V1__CheckReply *out;
	tc_expect(c, tc_call(c, "Check", NULL, NULL, &req.base, &usher__v1__check_reply__descriptor,
	                     &out),
	          US_OK, "Check");
	if (out->allowed != allowed || (reason != NULL && strstr(out->reason, reason) == NULL))
		fail_msg("Check %s in %s: expected %s (\"%s\"), got %s (\"%s\")", action, product,
		         allowed ? "allowed" : "denied", reason ? reason : "",
		         out->allowed ? "allowed" : "denied", out->reason);
}

static void test_check_takes_a_product(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *texter = tc_uuid(c);
	char *sms[] = {"sms"};
	tc_expect(c, tc_try_grant_products(c, w.account, texter, MEMBER, tc_subs(c, 1, w.sub_a), sms,
	                                   1, NULL, NULL),
	          US_OK, "granting a member with sms");

	expect_product_check(c, texter, w.account, w.sub_a, "messages.send", "sms", true, NULL);
	expect_product_check(c, texter, w.account, w.sub_a, "messages.send", "voice", false,
	                     "does not include product \"voice\"");
	expect_product_check(c, texter, w.account, w.sub_a, "messages.send", "holograms", false,
	                     "not enabled for this account");
	/* Owners hold every product the account has. */
	expect_product_check(c, w.owner, w.account, w.sub_a, "messages.send", "voice", true, NULL);
	/* Without a product, the action is checked as before. */
	tc_expect_check(c, texter, w.account, w.sub_a, "messages.send", true, NULL);

	Usher__V1__CheckRequest bad = USHER__V1__CHECK_REQUEST__INIT;
	bad.user_id = texter;
	bad.account_id = w.account;
	bad.action = "messages.send";
	bad.product = "Not A Product";
	Usher__V1__CheckReply *out;
	tc_expect_invalid(c, tc_call(c, "Check", NULL, NULL, &bad.base,
	                             &usher__v1__check_reply__descriptor, &out),
	                  "product", "Check with a malformed product");
	tc_close(c);
}

static Usher__V1__CheckGrantReply *check_grant(tc *c, const char *actor, const char *account,
                                               Usher__V1__Scope *scope, char **products,
                                               size_t n)
{
	Usher__V1__CheckGrantRequest req = USHER__V1__CHECK_GRANT_REQUEST__INIT;
	req.actor_user_id = (char *)actor;
	req.account_id = (char *)account;
	req.role = MEMBER;
	req.scope = scope;
	req.products = products;
	req.n_products = n;
	Usher__V1__CheckGrantReply *out;
	tc_expect(c, tc_call(c, "CheckGrant", NULL, NULL, &req.base,
	                     &usher__v1__check_grant_reply__descriptor, &out),
	          US_OK, "CheckGrant");
	return out;
}

static void test_nobody_grants_a_product_they_do_not_hold(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *admin = tc_uuid(c);
	char *sms[] = {"sms"}, *voice[] = {"voice"};
	tc_expect(c, tc_try_grant_products(c, w.account, admin, ADMIN, tc_subs(c, 1, w.sub_a), sms, 1,
	                                   NULL, NULL),
	          US_OK, "granting an admin with sms");

	Usher__V1__CheckGrantReply *r = check_grant(c, admin, w.account, tc_subs(c, 1, w.sub_a),
	                                            voice, 1);
	assert_false(r->allowed);
	assert_non_null(strstr(r->reason, "cannot grant product \"voice\", which you do not hold"));
	r = check_grant(c, admin, w.account, tc_subs(c, 1, w.sub_a), sms, 1);
	assert_true(r->allowed);
	assert_int_equal(r->n_grantable_products, 1);
	assert_string_equal(r->grantable_products[0], "sms");
	r = check_grant(c, w.owner, w.account, tc_org(c), voice, 1);
	assert_true(r->allowed);
	assert_int_equal(r->n_grantable_products, 2);

	/* GrantMembership by the admin refuses it too, and creates nothing. */
	char *invitee = tc_uuid(c);
	tc_expect(c, tc_try_grant_products(c, w.account, invitee, MEMBER, tc_subs(c, 1, w.sub_a),
	                                   voice, 1, admin, NULL),
	          US_EDENIED, "an admin granting voice");
	tc_expect_message(c, "which you do not hold");
	assert_false(tc_is_member(c, w.account, invitee));
	tc_close(c);
}

static us_err transfer(tc *c, const char *actor, const char *account, const char *to)
{
	Usher__V1__TransferPrimaryOwnershipRequest req =
	        USHER__V1__TRANSFER_PRIMARY_OWNERSHIP_REQUEST__INIT;
	req.account_id = (char *)account;
	req.user_id = (char *)to;
	Usher__V1__TransferPrimaryOwnershipReply *out;
	return tc_call(c, "TransferPrimaryOwnership", actor, NULL, &req.base,
	               &usher__v1__transfer_primary_ownership_reply__descriptor, &out);
}

static void test_primary_ownership_is_handed_over(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *co_owner = tc_uuid(c), *admin = tc_uuid(c);
	tc_grant(c, w.account, co_owner, OWNER, tc_org(c));
	tc_grant(c, w.account, admin, ADMIN, tc_org(c));

	tc_expect(c, transfer(c, co_owner, w.account, co_owner), US_EDENIED,
	          "a co-owner taking primary ownership from an active primary owner");
	tc_expect(c, transfer(c, admin, w.account, admin), US_EDENIED, "an admin taking it");
	tc_expect(c, transfer(c, w.owner, w.account, admin), US_EPRECONDITION,
	          "the primary owner handing it to an admin");
	tc_expect_message(c, "active owner");

	tc_expect(c, transfer(c, w.owner, w.account, co_owner), US_OK,
	          "the primary owner handing it to a co-owner");
	tc_expect_check(c, co_owner, w.account, "", "billing.manage", true, NULL);
	tc_expect_check(c, w.owner, w.account, "", "billing.manage", false, "primary owner");
	tc_close(c);
}

static void test_a_demoted_primary_owner_loses_billing(void **state)
{
	(void)state;
	world w = make_world();
	tc *c = w.c;
	char *co_owner = tc_uuid(c);
	tc_grant(c, w.account, co_owner, OWNER, tc_org(c));
	tc_expect_check(c, w.owner, w.account, "", "billing.manage", true, NULL);

	/* The primary owner steps down to admin: the record alone grants nothing. */
	tc_expect(c, tc_change_role(c, w.owner, w.account, w.owner, ADMIN), US_OK,
	          "the primary owner stepping down");
	tc_expect_check(c, w.owner, w.account, "", "billing.manage", false, "primary owner");

	/* Billing is not left without a manager: a remaining owner takes it. */
	tc_expect(c, transfer(c, co_owner, w.account, co_owner), US_OK,
	          "a co-owner taking primary ownership from one who stepped down");
	tc_expect_check(c, co_owner, w.account, "", "billing.manage", true, NULL);
	tc_close(c);
}

static us_err create_account(tc *c, const char *owner, char **products, size_t n)
{
	Usher__V1__CreateAccountRequest req = USHER__V1__CREATE_ACCOUNT_REQUEST__INIT;
	req.name = us_arena_printf(c->arena, "Catalogue %.8s", tc_uuid(c));
	req.products = products;
	req.n_products = n;
	Usher__V1__CreateAccountReply *out;
	return tc_call(c, "CreateAccount", owner, NULL, &req.base,
	               &usher__v1__create_account_reply__descriptor, &out);
}

static void test_accounts_enable_only_catalogue_products(void **state)
{
	(void)state;
	tc *c = tc_open(sys);
	char *owner = tc_uuid(c);
	char *invented[] = {"sms", "teleportation"};
	tc_expect_invalid(c, create_account(c, owner, invented, 2), "products[1]",
	                  "an account with a product nobody offers");
	assert_non_null(strstr(us_status_violation(&c->status, "products[1]"),
	                       "is not a product of this platform"));
	char *offered[] = {"holograms"};
	tc_expect(c, create_account(c, owner, offered, 1), US_OK, "an account with a listed product");

	/* The catalogue is data: without holograms, after SIGHUP, nobody enables it. */
	write_file(catalogue_path, "sms\nvoice\n");
	kill(sys->daemons[UT_TENANCY].pid, SIGHUP);
	int64_t deadline = us_monotonic_ms() + 10000;
	while (create_account(c, owner, offered, 1) == US_OK) {
		if (us_monotonic_ms() > deadline)
			fail_msg("SIGHUP did not reload the product catalogue");
		usleep(20 * 1000);
	}
	assert_non_null(us_status_violation(&c->status, "products[0]"));
	write_file(catalogue_path, catalogue);
	kill(sys->daemons[UT_TENANCY].pid, SIGHUP);
	tc_close(c);
}

static void test_a_malformed_catalogue_stops_the_daemon(void **state)
{
	(void)state;
	char path[128], bin[512], setting[600], *out = NULL;
	snprintf(path, sizeof(path), "/tmp/ut-catalogue-bad-%d.conf", (int)getpid());
	write_file(path, "sms\nVoice Calls\n");
	ut_bin("usher-tenancyd", bin, sizeof(bin));
	snprintf(setting, sizeof(setting), "PRODUCT_CATALOGUE_FILE=%s", path);
	char *argv[] = {bin, NULL};
	/* The other required settings are set: the catalogue is what stops it (any seed
	 * will do, the daemon stops before it signs anything). */
	char *envp[] = {"DATABASE_URL=postgresql:///never", "RPC_LISTEN=tcp://127.0.0.1:1",
	                "RPC_SIGNING_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	                "RPC_CALLERS_FILE=/nonexistent", "IDENTITY_RPC_URL=tcp://127.0.0.1:1",
	                "NOTIFICATION_RPC_URL=tcp://127.0.0.1:1",
	                setting, NULL};
	int status = ut_run(argv, envp, true, &out);
	unlink(path);
	char where[160];
	snprintf(where, sizeof(where), "%s:2: ", path);
	if (status != 2 || strstr(out, where) == NULL)
		fail_msg("expected exit 2 naming %s, got %d: %s", where, status, out);
	free(out);
}

static int setup(void **state)
{
	(void)state;
	snprintf(catalogue_path, sizeof(catalogue_path), "/tmp/ut-catalogue-%d.conf", (int)getpid());
	write_file(catalogue_path, catalogue);
	static char setting[200];
	snprintf(setting, sizeof(setting), "PRODUCT_CATALOGUE_FILE=%s", catalogue_path);
	const char *env[] = {setting, NULL};
	sys = tc_system_start("tenancy_products", env);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tc_system_stop(sys);
	unlink(catalogue_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_takes_a_product),
		cmocka_unit_test(test_nobody_grants_a_product_they_do_not_hold),
		cmocka_unit_test(test_primary_ownership_is_handed_over),
		cmocka_unit_test(test_a_demoted_primary_owner_loses_billing),
		cmocka_unit_test(test_accounts_enable_only_catalogue_products),
		cmocka_unit_test(test_a_malformed_catalogue_stops_the_daemon),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
