/* tenancyd's pure rules, without a database or a process: access decisions (the ceiling
 * no matrix lifts), roles' names, the product catalogue and conf files, input checks, and
 * the matrix and catalogue installed in the daemon's context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "conf_file.h"
#include "context.h"
#include "input.h"
#include "permissions.h"
#include "products.h"
#include "roles.h"

#define ACC "11111111-1111-4111-8111-111111111111"
#define OWNER "22222222-2222-4222-8222-222222222222"
#define SUB_A "33333333-3333-4333-8333-333333333333"
#define SUB_B "44444444-4444-4444-8444-444444444444"

static char *account_products[] = {"chat", "voice"};
static char *chat_only[] = {"chat"};
static char *voice_only[] = {"voice"};
static char *in_a[] = {SUB_A};
static char *in_a_b[] = {SUB_A, SUB_B};

static Usher__V1__Account account(void)
{
	Usher__V1__Account a = USHER__V1__ACCOUNT__INIT;
	a.id = ACC;
	a.primary_owner_id = OWNER;
	a.products = account_products;
	a.n_products = 2;
	a.status = USHER__V1__ACCOUNT_STATUS__ACCOUNT_ACTIVE;
	return a;
}

typedef struct member {
	Usher__V1__Membership m;
	Usher__V1__Scope scope;
} member;

/* A membership; subaccounts NULL for organization scope. */
static void make(member *out, const char *user, Usher__V1__Role role, char **subaccounts,
                 size_t n_subaccounts, char **products, size_t n_products)
{
	usher__v1__membership__init(&out->m);
	usher__v1__scope__init(&out->scope);
	out->scope.organization = subaccounts == NULL;
	out->scope.subaccount_ids = subaccounts;
	out->scope.n_subaccount_ids = n_subaccounts;
	out->m.user_id = (char *)user;
	out->m.account_id = ACC;
	out->m.role = role;
	out->m.scope = &out->scope;
	out->m.products = products;
	out->m.n_products = n_products;
	out->m.status = USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE;
}

static int setup(void **state)
{
	*state = us_arena_new();
	return *state == NULL;
}

static int teardown(void **state)
{
	us_arena_free(*state);
	return 0;
}

#define EXPECT(d, allowed_, reason_)                                                            \
	do {                                                                                    \
		tenancy_decision d_ = (d);                                                      \
		if (d_.allowed != (allowed_) || strstr(d_.reason, (reason_)) == NULL)           \
			fail_msg("expected %s \"%s\", got %s \"%s\"", (allowed_) ? "allow" : "deny", \
			         (reason_), d_.allowed ? "allow" : "deny", d_.reason);           \
	} while (0)

static void test_check_roles_and_standing(void **state)
{
	us_arena *a = *state;
	Usher__V1__Account acc = account();
	member admin;
	make(&admin, "u1", USHER__V1__ROLE__ROLE_ADMIN, NULL, 0, NULL, 0);
	EXPECT(tenancy_access_check(a, &acc, &admin.m, USHER__V1__ROLE__ROLE_ADMIN, "", false, ""),
	       true, "role admin meets admin at organization scope");
	EXPECT(tenancy_access_check(a, &acc, &admin.m, USHER__V1__ROLE__ROLE_OWNER, "", false, ""),
	       false, "role admin is below owner");
	EXPECT(tenancy_access_check(a, &acc, NULL, USHER__V1__ROLE__ROLE_MEMBER, "", false, ""),
	       false, "not a member");
	admin.m.status = USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED;
	EXPECT(tenancy_access_check(a, &acc, &admin.m, USHER__V1__ROLE__ROLE_MEMBER, "", false, ""),
	       false, "membership is deactivated");
	admin.m.status = USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE;
	acc.status = USHER__V1__ACCOUNT_STATUS__ACCOUNT_SUSPENDED;
	EXPECT(tenancy_access_check(a, &acc, &admin.m, USHER__V1__ROLE__ROLE_MEMBER, "", false, ""),
	       false, "account is suspended");
}

static void test_check_primary_owner_scope_and_products(void **state)
{
	us_arena *a = *state;
	Usher__V1__Account acc = account();
	member owner, other_owner, scoped;
	make(&owner, OWNER, USHER__V1__ROLE__ROLE_OWNER, NULL, 0, NULL, 0);
	make(&other_owner, "u2", USHER__V1__ROLE__ROLE_OWNER, NULL, 0, NULL, 0);
	make(&scoped, "u3", USHER__V1__ROLE__ROLE_MEMBER, in_a, 1, chat_only, 1);
	EXPECT(tenancy_access_check(a, &acc, &owner.m, TENANCY_ROLE_PRIMARY_OWNER, "", false, ""),
	       true, "meets");
	EXPECT(tenancy_access_check(a, &acc, &other_owner.m, TENANCY_ROLE_PRIMARY_OWNER, "", false,
	                            ""),
	       false, "only the account's primary owner");
	/* A primary owner who stepped down to admin has handed the right back. */
	owner.m.role = USHER__V1__ROLE__ROLE_ADMIN;
	EXPECT(tenancy_access_check(a, &acc, &owner.m, TENANCY_ROLE_PRIMARY_OWNER, "", false, ""),
	       false, "only the account's primary owner");

	EXPECT(tenancy_access_check(a, &acc, &scoped.m, USHER__V1__ROLE__ROLE_MEMBER, SUB_A, true,
	                            "chat"),
	       true, "role member meets member in scope");
	EXPECT(tenancy_access_check(a, &acc, &scoped.m, USHER__V1__ROLE__ROLE_MEMBER, "", false, ""),
	       false, "needs organization scope");
	EXPECT(tenancy_access_check(a, &acc, &scoped.m, USHER__V1__ROLE__ROLE_MEMBER, SUB_B, true,
	                            ""),
	       false, "scope does not include subaccount");
	EXPECT(tenancy_access_check(a, &acc, &scoped.m, USHER__V1__ROLE__ROLE_MEMBER, SUB_A, false,
	                            ""),
	       false, "subaccount is not in this account");
	EXPECT(tenancy_access_check(a, &acc, &scoped.m, USHER__V1__ROLE__ROLE_MEMBER, SUB_A, true,
	                            "voice"),
	       false, "does not include product \"voice\"");
	EXPECT(tenancy_access_check(a, &acc, &scoped.m, USHER__V1__ROLE__ROLE_MEMBER, SUB_A, true,
	                            "fax"),
	       false, "product \"fax\" is not enabled");
	/* Owners hold every product the account has, listed or not. */
	assert_true(tenancy_access_holds(&acc, &other_owner.m, "voice"));
	assert_false(tenancy_access_holds(&acc, &other_owner.m, "fax"));
}

static void test_grant_ceiling(void **state)
{
	us_arena *a = *state;
	Usher__V1__Account acc = account();
	member owner, admin, moderator;
	make(&owner, OWNER, USHER__V1__ROLE__ROLE_OWNER, NULL, 0, NULL, 0);
	make(&admin, "u1", USHER__V1__ROLE__ROLE_ADMIN, in_a, 1, chat_only, 1);
	make(&moderator, "u2", USHER__V1__ROLE__ROLE_MODERATOR, NULL, 0, NULL, 0);
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT, sub_a = USHER__V1__SCOPE__INIT,
	                 sub_a_b = USHER__V1__SCOPE__INIT;
	org.organization = true;
	sub_a.subaccount_ids = in_a;
	sub_a.n_subaccount_ids = 1;
	sub_a_b.subaccount_ids = in_a_b;
	sub_a_b.n_subaccount_ids = 2;
	int admin_min = USHER__V1__ROLE__ROLE_ADMIN;

	EXPECT(tenancy_access_grant(a, &acc, &owner.m, admin_min, USHER__V1__ROLE__ROLE_OWNER, &org,
	                            voice_only, 1),
	       true, "role owner may grant owner");
	EXPECT(tenancy_access_grant(a, &acc, &moderator.m, USHER__V1__ROLE__ROLE_MEMBER,
	                            USHER__V1__ROLE__ROLE_MEMBER, &org, NULL, 0),
	       false, "role moderator cannot grant memberships");
	EXPECT(tenancy_access_grant(a, &acc, &admin.m, admin_min, USHER__V1__ROLE__ROLE_MEMBER,
	                            &sub_a, chat_only, 1),
	       true, "role admin may grant member");
	EXPECT(tenancy_access_grant(a, &acc, &admin.m, admin_min, USHER__V1__ROLE__ROLE_OWNER,
	                            &sub_a, NULL, 0),
	       false, "cannot grant owner, above own role admin");
	EXPECT(tenancy_access_grant(a, &acc, &admin.m, admin_min, USHER__V1__ROLE__ROLE_MEMBER, &org,
	                            NULL, 0),
	       false, "only owners grant at organization level");
	EXPECT(tenancy_access_grant(a, &acc, &admin.m, admin_min, USHER__V1__ROLE__ROLE_MEMBER,
	                            &sub_a_b, NULL, 0),
	       false, "outside your own");
	EXPECT(tenancy_access_grant(a, &acc, &admin.m, admin_min, USHER__V1__ROLE__ROLE_MEMBER,
	                            &sub_a, voice_only, 1),
	       false, "cannot grant product \"voice\"");
	/* A matrix that raises member.invite raises it for admins too. */
	EXPECT(tenancy_access_grant(a, &acc, &admin.m, USHER__V1__ROLE__ROLE_OWNER,
	                            USHER__V1__ROLE__ROLE_MEMBER, &sub_a, NULL, 0),
	       false, "role admin is below owner");
}

static void test_manage(void **state)
{
	us_arena *a = *state;
	Usher__V1__Account acc = account();
	member admin, member_a, member_org, owner;
	make(&admin, "u1", USHER__V1__ROLE__ROLE_ADMIN, in_a, 1, NULL, 0);
	make(&member_a, "u2", USHER__V1__ROLE__ROLE_MEMBER, in_a, 1, NULL, 0);
	make(&member_org, "u3", USHER__V1__ROLE__ROLE_MEMBER, NULL, 0, NULL, 0);
	make(&owner, OWNER, USHER__V1__ROLE__ROLE_OWNER, in_a, 1, NULL, 0);
	int min = USHER__V1__ROLE__ROLE_ADMIN;
	EXPECT(tenancy_access_manage(a, &acc, &admin.m, min, &member_a.m), true, "allowed");
	EXPECT(tenancy_access_manage(a, &acc, &admin.m, min, &member_org.m), false,
	       "the member's scope is outside your own");
	EXPECT(tenancy_access_manage(a, &acc, &admin.m, min, &owner.m), false,
	       "the member's role owner is above own role admin");
	EXPECT(tenancy_access_manage(a, &acc, &member_a.m, min, &member_a.m), false,
	       "role member is below admin");
}

static void test_role_names(void **state)
{
	(void)state;
	for (int r = USHER__V1__ROLE__ROLE_MEMBER; r <= USHER__V1__ROLE__ROLE_OWNER; r++)
		assert_int_equal(tenancy_role_parse(tenancy_role_name(r), false), r);
	assert_string_equal(tenancy_role_name(USHER__V1__ROLE__ROLE_MODERATOR), "moderator");
	assert_int_equal(tenancy_role_parse("primary_owner", false), 0);
	assert_int_equal(tenancy_role_parse("primary_owner", true), TENANCY_ROLE_PRIMARY_OWNER);
	assert_int_equal(tenancy_role_parse("Owner", false), 0);
	assert_string_equal(tenancy_role_name(99), "unknown");
	assert_string_equal(tenancy_status_name(USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED),
	                    "deactivated");
	assert_int_equal(tenancy_status_parse("active"),
	                 USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE);
	assert_int_equal(tenancy_status_parse("removed"), 0);
	assert_null(tenancy_status_name(0));
}

static void expect_catalogue_error(const char *text, const char *message)
{
	tenancy_catalogue *c = NULL;
	char err[256] = "";
	us_err rc = tenancy_catalogue_parse(text, strlen(text), "p.conf", &c, err, sizeof(err));
	if (rc != US_EINVAL || strstr(err, message) == NULL)
		fail_msg("expected \"%s\", got %d \"%s\"", message, rc, err);
	assert_null(c);
}

static void test_catalogue(void **state)
{
	(void)state;
	tenancy_catalogue *c;
	char err[256];
	const char text[] = "# products\n\nchat\n  voice  # calls\r\nsms.v2\n";
	if (tenancy_catalogue_parse(text, strlen(text), "p.conf", &c, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	assert_int_equal(tenancy_catalogue_size(c), 3);
	assert_true(tenancy_catalogue_has(c, "voice"));
	assert_true(tenancy_catalogue_has(c, "sms.v2"));
	assert_false(tenancy_catalogue_has(c, "fax"));
	assert_false(tenancy_catalogue_has(c, "Chat"));
	tenancy_catalogue_free(c);
	expect_catalogue_error("chat\nChat\n", "p.conf:2");
	expect_catalogue_error("chat\nchat\n", "product \"chat\" is listed twice");
	expect_catalogue_error("chat voice\n", "p.conf:1");
	if (tenancy_catalogue_load(NULL, &c, err, sizeof(err)) != US_OK)
		fail_msg("the built-in catalogue: %s", err);
	assert_true(tenancy_catalogue_size(c) > 0);
	tenancy_catalogue_free(c);
}

static void test_conf_read(void **state)
{
	(void)state;
	char path[] = "/tmp/tenancy_core_test_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "chat\nvoice\n", 11), 11);
	close(fd);
	char *text = NULL, err[256] = "";
	size_t len = 0;
	assert_int_equal(tenancy_conf_read(path, 64, &text, &len, err, sizeof(err)), US_OK);
	assert_int_equal(len, 11);
	assert_memory_equal(text, "chat\nvoice\n", 11);
	free(text);
	text = NULL;
	/* A file past its bound is refused, not truncated. */
	assert_int_equal(tenancy_conf_read(path, 10, &text, &len, err, sizeof(err)), US_EINVAL);
	assert_null(text);
	assert_non_null(strstr(err, path));
	unlink(path);
	assert_int_equal(tenancy_conf_read(path, 64, &text, &len, err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, path));
}

static void test_input_checks(void **state)
{
	(void)state;
	assert_null(tenancy_input_domain_check("example.com"));
	assert_null(tenancy_input_domain_check("mail.example.co.uk"));
	assert_string_equal(tenancy_input_domain_check(""), "must not be empty");
	assert_non_null(tenancy_input_domain_check("x@example.com"));
	assert_non_null(tenancy_input_domain_check("example"));
	char long_domain[300];
	memset(long_domain, 'a', sizeof(long_domain) - 5);
	strcpy(long_domain + sizeof(long_domain) - 5, ".com");
	assert_string_equal(tenancy_input_domain_check(long_domain),
	                    "must be at most 252 characters");

	assert_true(tenancy_input_name_ok("sms.v2_beta-1", US_PRODUCT_NAME_MAX_BYTES));
	assert_false(tenancy_input_name_ok("", US_PRODUCT_NAME_MAX_BYTES));
	assert_false(tenancy_input_name_ok("Chat", US_PRODUCT_NAME_MAX_BYTES));
	assert_false(tenancy_input_name_ok("chat voice", US_PRODUCT_NAME_MAX_BYTES));
	char name[US_PRODUCT_NAME_MAX_BYTES + 2];
	memset(name, 'p', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_false(tenancy_input_name_ok(name, US_PRODUCT_NAME_MAX_BYTES));
	name[US_PRODUCT_NAME_MAX_BYTES] = '\0';
	assert_true(tenancy_input_name_ok(name, US_PRODUCT_NAME_MAX_BYTES));
}

/* The daemon's rules live in its context: installing replaces them for every reader. */
static void test_rules_in_context(void **state)
{
	(void)state;
	tenancy_ctx ctx = {.rules_lock = PTHREAD_RWLOCK_INITIALIZER};
	assert_int_equal(tenancy_permissions_min_role(&ctx, "member.invite"), 0);
	assert_false(tenancy_products_offered(&ctx, "chat"));
	tenancy_matrix *m;
	tenancy_catalogue *c;
	char err[256];
	const char matrix[] = "member.invite owner\nmember.role.change admin\n"
	                      "member.deactivate admin\nmember.remove admin\n"
	                      "settings.update admin\nsubaccount.create owner\n";
	assert_int_equal(tenancy_matrix_parse(matrix, strlen(matrix), "m", &m, err, sizeof(err)),
	                 US_OK);
	assert_int_equal(tenancy_catalogue_parse("chat\n", 5, "p", &c, err, sizeof(err)), US_OK);
	tenancy_permissions_install(&ctx, m);
	tenancy_products_install(&ctx, c);
	assert_int_equal(tenancy_permissions_min_role(&ctx, "member.invite"),
	                 USHER__V1__ROLE__ROLE_OWNER);
	assert_true(tenancy_products_offered(&ctx, "chat"));
	assert_false(tenancy_products_offered(&ctx, "voice"));
	tenancy_permissions_install(&ctx, NULL);
	tenancy_products_install(&ctx, NULL);
	assert_int_equal(tenancy_permissions_min_role(&ctx, "member.invite"), 0);
	assert_false(tenancy_products_offered(&ctx, "chat"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_roles_and_standing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_primary_owner_scope_and_products, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_grant_ceiling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manage, setup, teardown),
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_catalogue),
		cmocka_unit_test(test_conf_read),
		cmocka_unit_test(test_input_checks),
		cmocka_unit_test(test_rules_in_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
