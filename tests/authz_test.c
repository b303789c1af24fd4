/* Authorization holes of issue 11, against the running system through the gateway as
 * people use it: what a subaccount admin may list (hole 3), what only owners do at
 * organization level (hole 4), the same answer for a missing account and another
 * tenant's (hole 8), products an inviter does not hold (hole 11) and the words an invitee
 * reads when an invitation can no longer be accepted (hole 12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "harness.h"
#include "http.h"

#define PASSWORD "correct horse battery"
#define MAIL_WAIT_MS 15000

static ut_system sys;
static char spool[200];
static us_arena *A;
static char *owner, *account, *sub_a;
static ut_browser *owner_b;

static void expect(const ut_reply *r, long status)
{
	if (r->status != status)
		fail_msg("expected HTTP %ld, got %ld: %s", status, r->status, r->body);
}

static void post_json(ut_browser *b, const char *path, json_t *body, ut_reply *out)
{
	char *text = json_dumps(body, JSON_COMPACT);
	ut_http(b, "POST", path, text, strlen(text), NULL, out);
	free(text);
	json_decref(body);
}

static const char *message(const ut_reply *r)
{
	const char *m = r->json ? json_string_value(json_object_get(r->json, "message")) : NULL;
	return m ? m : "";
}

/* A verified user, signed in through the gateway. */
static ut_browser *signed_in(const char *email, char **id)
{
	char *user = ut_create_user(&sys, A, email, "Some One", PASSWORD);
	if (id != NULL)
		*id = user;
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	post_json(b, "/login", json_pack("{s:s, s:s}", "email", email, "password", PASSWORD), &r);
	expect(&r, 200);
	ut_browser_set_csrf(b, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return b;
}

static void grant_products(const char *user, Usher__V1__Role role, const char *subaccount,
                           const char *product)
{
	Usher__V1__GrantMembershipRequest req = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	char *subs[] = {(char *)subaccount}, *products[] = {(char *)product};
	scope.organization = subaccount == NULL;
	scope.subaccount_ids = subaccount ? subs : NULL;
	scope.n_subaccount_ids = subaccount ? 1 : 0;
	req.account_id = account;
	req.user_id = (char *)user;
	req.role = role;
	req.scope = &scope;
	req.products = product ? products : NULL;
	req.n_products = product ? 1 : 0;
	req.source = "admin";
	req.system_reason = "test set-up";
	us_status st;
	us_err rc = ut_call(&sys, UT_TENANCY, "usher.v1.TenancyService/GrantMembership", NULL,
	                    ut_key(A), &req.base, &usher__v1__grant_membership_reply__descriptor, A,
	                    NULL, &st);
	if (rc != US_OK)
		fail_msg("GrantMembership: %s", st.message);
	us_status_clear(&st);
}

static json_t *invite_body(const char *subaccount, const char *role, const char *email)
{
	json_t *scope = subaccount ? json_pack("{s:[s]}", "subaccountIds", subaccount)
	                           : json_pack("{s:b}", "organization", 1);
	return json_pack("{s:s, s:o, s:s, s:[s]}", "accountId", account, "scope", scope, "role", role,
	                 "emails", email);
}

/* Hole 3: an admin of subaccount A asking for A's invitations sees those GetInvitation
 * would show them, never the organization's (an owner invitation among them). */
static void test_subaccount_admin_lists_only_their_invitations(void **state)
{
	(void)state;
	ut_reply r;
	const char *org_emails[] = {"org.owner.invite@example.com", "org.member.invite@example.com"};
	const char *org_roles[] = {"ROLE_OWNER", "ROLE_MEMBER"};
	char *org_ids[2];
	for (int i = 0; i < 2; i++) {
		post_json(owner_b, "/rpc/usher.v1.InvitationService/CreateInvitations",
		          invite_body(NULL, org_roles[i], org_emails[i]), &r);
		expect(&r, 200);
		json_t *res = json_array_get(json_object_get(r.json, "results"), 0);
		org_ids[i] = us_arena_strdup(A, json_string_value(json_object_get(res, "invitationId")));
		ut_reply_free(&r);
	}
	post_json(owner_b, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          invite_body(sub_a, "ROLE_MEMBER", "north.member.invite@example.com"), &r);
	expect(&r, 200);
	ut_reply_free(&r);

	char *admin;
	ut_browser *b = signed_in("north.admin@example.com", &admin);
	ut_grant(&sys, A, account, admin, USHER__V1__ROLE__ROLE_ADMIN, sub_a);

	post_json(b, "/rpc/usher.v1.InvitationService/ListInvitations",
	          json_pack("{s:s, s:s, s:i}", "accountId", account, "subaccountId", sub_a, "pageSize",
	                    500),
	          &r);
	expect(&r, 200);
	json_t *list = json_object_get(r.json, "invitations");
	bool saw_north = false;
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *inv = json_array_get(list, i);
		json_t *scope = json_object_get(inv, "scope");
		if (json_is_true(json_object_get(scope, "organization")))
			fail_msg("a subaccount admin was shown an organization-level invitation: %s",
			         json_string_value(json_object_get(inv, "email")));
		saw_north |= strcmp(json_string_value(json_object_get(inv, "email")),
		                    "north.member.invite@example.com") == 0;
	}
	assert_true(saw_north);
	ut_reply_free(&r);

	/* GetInvitation agrees: the organization's invitations are not theirs to see. */
	for (int i = 0; i < 2; i++) {
		post_json(b, "/rpc/usher.v1.InvitationService/GetInvitation",
		          json_pack("{s:s}", "invitationId", org_ids[i]), &r);
		expect(&r, 404);
		ut_reply_free(&r);
	}
	/* And the account-wide list is refused. */
	post_json(b, "/rpc/usher.v1.InvitationService/ListInvitations",
	          json_pack("{s:s}", "accountId", account), &r);
	expect(&r, 403);
	ut_reply_free(&r);
	ut_browser_free(b);
}

/* Hole 4: only owners grant at organization level (DESIGN §4), so an organization-level
 * admin neither promotes organization-level members nor manages the organization's link;
 * a subaccount's link is theirs to manage. */
static void test_organization_level_is_for_owners(void **state)
{
	(void)state;
	char *admin, *member;
	ut_browser *b = signed_in("org.admin@example.com", &admin);
	member = ut_create_user(&sys, A, "org.member@example.com", "Org Member", PASSWORD);
	ut_grant(&sys, A, account, admin, USHER__V1__ROLE__ROLE_ADMIN, NULL);
	ut_grant(&sys, A, account, member, USHER__V1__ROLE__ROLE_MEMBER, NULL);

	ut_reply r;
	post_json(b, "/rpc/usher.v1.TenancyService/ChangeRole",
	          json_pack("{s:s, s:s, s:s}", "accountId", account, "userId", member, "role",
	                    "ROLE_ADMIN"),
	          &r);
	expect(&r, 403);
	assert_non_null(strstr(message(&r), "only owners grant at organization level"));
	ut_reply_free(&r);

	const char *link_methods[] = {"EnableLink", "GetLink", "DeleteLink"};
	for (size_t i = 0; i < 3; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/rpc/usher.v1.InvitationService/%s", link_methods[i]);
		post_json(b, path, json_pack("{s:s}", "accountId", account), &r);
		if (r.status != 403)
			fail_msg("%s of the organization's link by an organization-level admin: %ld %s",
			         link_methods[i], r.status, r.body);
		ut_reply_free(&r);
	}
	/* The owner manages it; the admin manages subaccount A's. */
	post_json(owner_b, "/rpc/usher.v1.InvitationService/EnableLink",
	          json_pack("{s:s}", "accountId", account), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	post_json(b, "/rpc/usher.v1.InvitationService/GetLink", json_pack("{s:s}", "accountId", account),
	          &r);
	expect(&r, 403);
	assert_null(strstr(r.body, "/l/"));
	ut_reply_free(&r);
	post_json(b, "/rpc/usher.v1.InvitationService/EnableLink",
	          json_pack("{s:s, s:s}", "accountId", account, "subaccountId", sub_a), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	ut_browser_free(b);
}

/* template with its one "@" replaced by id. */
static void fill(char *out, size_t size, const char *template, const char *id)
{
	const char *at = strchr(template, '@');
	snprintf(out, size, "%.*s%s%s", (int)(at - template), template, id, at + 1);
}

/* Hole 8: to someone who is not a member, a missing account and another tenant's answer
 * alike, so ids cannot be probed for existence. */
static void test_missing_and_foreign_accounts_answer_alike(void **state)
{
	(void)state;
	char *stranger;
	ut_browser *b = signed_in("stranger@example.com", &stranger);
	(void)stranger;
	const char *missing = "6f0e7c1a-3d1b-4c8e-9a55-2b7d9e0f1a2b";
	const struct {
		const char *method;
		const char *body; /* "@" stands for the account id */
	} calls[] = {
		{"TenancyService/GetAccount", "{\"accountId\":\"@\"}"},
		{"TenancyService/ListMembers", "{\"accountId\":\"@\"}"},
		{"TenancyService/ListSubaccounts", "{\"accountId\":\"@\"}"},
		{"InvitationService/ListInvitations", "{\"accountId\":\"@\"}"},
		{"InvitationService/CreateInvitations",
		 "{\"accountId\":\"@\",\"scope\":{\"organization\":true},\"role\":\"ROLE_MEMBER\","
		 "\"emails\":[\"probe@example.com\"]}"},
		{"InvitationService/EnableLink", "{\"accountId\":\"@\"}"},
		{"InvitationService/GetLink", "{\"accountId\":\"@\"}"},
		{"InvitationService/DeleteLink", "{\"accountId\":\"@\"}"},
		{"InvitationService/ListLinkJoins", "{\"accountId\":\"@\"}"},
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		char path[128], body[512];
		snprintf(path, sizeof(path), "/rpc/usher.v1.%s", calls[i].method);
		ut_reply theirs, nobodys;
		fill(body, sizeof(body), calls[i].body, account);
		ut_http(b, "POST", path, body, strlen(body), NULL, &theirs);
		fill(body, sizeof(body), calls[i].body, missing);
		ut_http(b, "POST", path, body, strlen(body), NULL, &nobodys);
		if (theirs.status != 403 || nobodys.status != theirs.status ||
		    strcmp(message(&theirs), message(&nobodys)) != 0)
			fail_msg("%s: another tenant's account answered %ld \"%s\", a missing one %ld \"%s\"",
			         calls[i].method, theirs.status, message(&theirs), nobodys.status,
			         message(&nobodys));
		ut_reply_free(&theirs);
		ut_reply_free(&nobodys);
	}
	/* The CSV import too. */
	ut_reply theirs, nobodys;
	char path[160];
	snprintf(path, sizeof(path), "/accounts/%s/invitations/import", account);
	ut_http(b, "POST", path, "email\nprobe@example.com\n", 24, "text/csv", &theirs);
	snprintf(path, sizeof(path), "/accounts/%s/invitations/import", missing);
	ut_http(b, "POST", path, "email\nprobe@example.com\n", 24, "text/csv", &nobodys);
	if (theirs.status != 403 || nobodys.status != theirs.status ||
	    strcmp(message(&theirs), message(&nobodys)) != 0)
		fail_msg("import: another tenant's account answered %ld \"%s\", a missing one %ld \"%s\"",
		         theirs.status, message(&theirs), nobodys.status, message(&nobodys));
	ut_reply_free(&theirs);
	ut_reply_free(&nobodys);
	ut_browser_free(b);
}

/* Hole 11: an inviter grants only products they hold, and a permanent link grants its
 * creator's products, not every product of the account. */
static void test_inviters_grant_only_products_they_hold(void **state)
{
	(void)state;
	char *admin;
	ut_browser *b = signed_in("texting.admin@example.com", &admin);
	grant_products(admin, USHER__V1__ROLE__ROLE_ADMIN, sub_a, "texting");

	ut_reply r;
	json_t *body = invite_body(sub_a, "ROLE_MEMBER", "wants.calling@example.com");
	json_object_set_new(body, "products", json_pack("[s]", "calling"));
	post_json(b, "/rpc/usher.v1.InvitationService/CreateInvitations", body, &r);
	expect(&r, 403);
	assert_non_null(strstr(message(&r), "calling"));
	ut_reply_free(&r);
	body = invite_body(sub_a, "ROLE_MEMBER", "wants.texting@example.com");
	json_object_set_new(body, "products", json_pack("[s]", "texting"));
	post_json(b, "/rpc/usher.v1.InvitationService/CreateInvitations", body, &r);
	expect(&r, 200);
	ut_reply_free(&r);

	/* The admin's link for A: a (verified, signed-in) joiner gets texting only. */
	post_json(b, "/rpc/usher.v1.InvitationService/EnableLink",
	          json_pack("{s:s, s:s}", "accountId", account, "subaccountId", sub_a), &r);
	expect(&r, 200);
	const char *url = json_string_value(json_object_get(json_object_get(r.json, "link"), "url"));
	char path[200];
	snprintf(path, sizeof(path), "%s/accept", strstr(url, "/l/"));
	ut_reply_free(&r);
	ut_browser *joiner = signed_in("link.joiner@example.com", NULL);
	post_json(joiner, path, json_object(), &r);
	expect(&r, 200);
	json_t *products = json_object_get(json_object_get(json_object_get(r.json, "joined"),
	                                                   "membership"),
	                                   "products");
	assert_int_equal(json_array_size(products), 1);
	assert_string_equal(json_string_value(json_array_get(products, 0)), "texting");
	ut_reply_free(&r);
	ut_browser_free(joiner);
	ut_browser_free(b);
}

/* Hole 12: when the inviter lost the right to grant, the invitee reads why in words meant
 * for them, not tenancyd's reasoning. */
static void test_invitees_read_words_meant_for_them(void **state)
{
	(void)state;
	char *admin;
	ut_browser *b = signed_in("fading.admin@example.com", &admin);
	ut_grant(&sys, A, account, admin, USHER__V1__ROLE__ROLE_ADMIN, sub_a);
	ut_reply r;
	post_json(b, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          invite_body(sub_a, "ROLE_MEMBER", "left.hanging@example.com"), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	post_json(b, "/rpc/usher.v1.InvitationService/EnableLink",
	          json_pack("{s:s, s:s}", "accountId", account, "subaccountId", sub_a), &r);
	expect(&r, 200);
	const char *url = json_string_value(json_object_get(json_object_get(r.json, "link"), "url"));
	char link_path[200];
	snprintf(link_path, sizeof(link_path), "%s/accept", strstr(url, "/l/"));
	ut_reply_free(&r);
	ut_email mail;
	assert_true(ut_wait_email(spool, A, "left.hanging@example.com", NULL, 0, MAIL_WAIT_MS, &mail));

	/* The owner demotes the admin to member: their invitation and link lose their force. */
	post_json(owner_b, "/rpc/usher.v1.TenancyService/ChangeRole",
	          json_pack("{s:s, s:s, s:s}", "accountId", account, "userId", admin, "role",
	                    "ROLE_MEMBER"),
	          &r);
	expect(&r, 200);
	ut_reply_free(&r);

	ut_browser *invitee = ut_browser_new(&sys);
	char path[200];
	snprintf(path, sizeof(path), "/i/%s/accept", mail.token);
	post_json(invitee, path, json_pack("{s:s, s:s}", "name", "Left Hanging", "password", PASSWORD),
	          &r);
	assert_true(r.status >= 400);
	const char *words[] = {"granted_by", "cannot grant memberships", "granter", "role member"};
	for (size_t i = 0; i < 4; i++) {
		if (strstr(message(&r), words[i]) != NULL)
			fail_msg("the invitee read internal wording (\"%s\"): %s", words[i], message(&r));
	}
	assert_non_null(strstr(message(&r), "no longer"));
	ut_reply_free(&r);

	ut_browser *joiner = signed_in("late.joiner@example.com", NULL);
	post_json(joiner, link_path, json_object(), &r);
	assert_true(r.status >= 400);
	for (size_t i = 0; i < 4; i++) {
		if (strstr(message(&r), words[i]) != NULL)
			fail_msg("the joiner read internal wording (\"%s\"): %s", words[i], message(&r));
	}
	ut_reply_free(&r);
	ut_browser_free(joiner);
	ut_browser_free(invitee);
	ut_browser_free(b);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "authz");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	ut_system_start_all(&sys);
	owner_b = signed_in("owner@authz.example", &owner);
	account = ut_create_account(&sys, A, owner, "Authz Team", "texting,calling");
	sub_a = ut_create_subaccount(&sys, A, owner, account, "North");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_browser_free(owner_b);
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subaccount_admin_lists_only_their_invitations),
		cmocka_unit_test(test_organization_level_is_for_owners),
		cmocka_unit_test(test_missing_and_foreign_accounts_answer_alike),
		cmocka_unit_test(test_inviters_grant_only_products_they_hold),
		cmocka_unit_test(test_invitees_read_words_meant_for_them),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
