/* Email ownership end to end (issue 11, holes 5 and 6, and password reset), through the
 * gateway as people use it: an address becomes someone's only by proof, a mere claim never
 * blocks its owner, a permanent link admits nobody by an address they have not proven
 * (its domain limit and the account's allowed domains apply), and a password is reset by
 * a single-use, expiring link whose request answers the same for every address. */
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
#include "common/token.h"

#define PASSWORD "correct horse battery"
#define MAIL_WAIT_MS 15000

static ut_system sys;
static char spool[200];
static us_arena *A;
static char *owner, *account;
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

static ut_browser *signed_in(const char *email, const char *password)
{
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	post_json(b, "/login", json_pack("{s:s, s:s}", "email", email, "password", password), &r);
	expect(&r, 200);
	ut_browser_set_csrf(b, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return b;
}

/* The token of the nth email to recipient with a link to PUBLIC_BASE_URL/<path>/. */
static char *mailed_token(const char *recipient, const char *path, size_t nth)
{
	const char *subject = strcmp(path, "j") == 0              ? "Confirm your email address"
	                      : strcmp(path, "verify-email") == 0 ? "Verify your email address"
	                                                          : "Reset your password";
	ut_email mail;
	if (!ut_wait_email(spool, A, recipient, subject, nth, MAIL_WAIT_MS, &mail))
		fail_msg("no email #%zu to %s", nth, recipient);
	/* Quoted-printable soft breaks may cut the link. */
	char *flat = us_arena_strdup(A, mail.text), *w = flat;
	for (const char *r = mail.text; *r; r++) {
		if (r[0] == '=' && r[1] == '\r' && r[2] == '\n')
			r += 2;
		else if (r[0] == '=' && r[1] == '\n')
			r += 1;
		else
			*w++ = *r;
	}
	*w = '\0';
	char needle[64];
	snprintf(needle, sizeof(needle), "/%s/", path);
	const char *p = strstr(flat, needle);
	if (p == NULL)
		fail_msg("the email to %s has no %s link: %s", recipient, needle, flat);
	p += strlen(needle);
	return us_arena_strndup(A, p, US_TOKEN_TEXT_LEN);
}

static char *enable_link(json_t *extra)
{
	json_t *body = json_pack("{s:s}", "accountId", account);
	if (extra != NULL) {
		json_object_update(body, extra);
		json_decref(extra);
	}
	ut_reply r;
	post_json(owner_b, "/rpc/usher.v1.InvitationService/EnableLink", body, &r);
	expect(&r, 200);
	const char *url = json_string_value(json_object_get(json_object_get(r.json, "link"), "url"));
	char *token = us_arena_strdup(A, strstr(url, "/l/") + 3);
	ut_reply_free(&r);
	return token;
}

static long join_as_new_user(const char *link, const char *email, const char *password,
                             ut_reply *out)
{
	ut_browser *b = ut_browser_new(&sys);
	char path[160];
	snprintf(path, sizeof(path), "/l/%s/accept", link);
	post_json(b, path, json_pack("{s:s, s:s, s:s}", "email", email, "name", "Some Joiner",
	                             "password", password),
	          out);
	ut_browser_free(b);
	return out->status;
}

static bool is_member(const char *email)
{
	ut_reply r;
	post_json(owner_b, "/rpc/usher.v1.TenancyService/ListMembers",
	          json_pack("{s:s, s:i}", "accountId", account, "pageSize", 500), &r);
	expect(&r, 200);
	json_t *members = json_object_get(r.json, "members");
	/* Members carry user ids: find the user by email in identityd's table. */
	PGconn *c = ut_db_admin(ut_system_db(&sys, UT_IDENTITY));
	const char *params[] = {email};
	PGresult *res = PQexecParams(c, "SELECT id FROM identity.users WHERE email = $1", 1, NULL,
	                             params, NULL, NULL, 0);
	bool found = false;
	for (int row = 0; row < PQntuples(res); row++) {
		for (size_t i = 0; i < json_array_size(members); i++)
			found |= strcmp(json_string_value(json_object_get(json_array_get(members, i),
			                                                  "userId")),
			                PQgetvalue(res, row, 0)) == 0;
	}
	PQclear(res);
	PQfinish(c);
	ut_reply_free(&r);
	return found;
}

static char *sql_text(const char *schema, const char *sql, const char *param)
{
	PGconn *c = ut_db_admin(ut_system_db_of(&sys, schema));
	const char *params[] = {param};
	PGresult *res = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? params : NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	char *out = PQntuples(res) > 0 ? us_arena_strdup(A, PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	PQfinish(c);
	return out;
}

/* Hole 5, as found: a stranger joins a permanent link with someone else's address; when
 * the real owner is invited, their sign-up takes the address over. */
static void test_a_claim_never_blocks_the_addresss_owner(void **state)
{
	(void)state;
	char *link = enable_link(NULL);
	ut_reply r;
	/* The squatter: a user, unverified, and no membership until the address is proven. */
	assert_int_equal(join_as_new_user(link, "victim@example.com", "squatter's password", &r), 202);
	assert_true(json_is_true(json_object_get(json_object_get(r.json, "joined"),
	                                         "awaitingConfirmation")));
	assert_null(json_object_get(json_object_get(r.json, "joined"), "membership"));
	assert_null(strstr(r.headers, "usher_session"));
	ut_reply_free(&r);
	assert_false(is_member("victim@example.com"));
	char *squatter = sql_text("identity", "SELECT id FROM identity.users WHERE email = $1",
	                          "victim@example.com");
	ut_browser *squatter_b = signed_in("victim@example.com", "squatter's password");
	/* The confirmation went to the address, where only its owner reads it. */
	char *squatters_confirmation = mailed_token("victim@example.com", "j", 0);

	/* The owner is invited: offered sign-up, not "an account already exists". */
	const char *emails[] = {"victim@example.com"};
	Usher__V1__CreateInvitationsReply *created;
	us_status st;
	assert_int_equal(ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL,
	                           emails, 1, &created, &st),
	                 US_OK);
	assert_false(created->results[0]->existing_user);
	ut_email invitation;
	assert_true(ut_wait_email(spool, A, "victim@example.com", "Invitation", 0, MAIL_WAIT_MS,
	                          &invitation));
	char path[160];
	snprintf(path, sizeof(path), "/i/%s", invitation.token);
	ut_browser *victim = ut_browser_new(&sys);
	ut_http(victim, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_false(json_is_true(json_object_get(r.json, "existingUser")));
	ut_reply_free(&r);
	/* The owner signs up through the link, which proves the address. */
	snprintf(path, sizeof(path), "/i/%s/accept", invitation.token);
	post_json(victim, path, json_pack("{s:s, s:s}", "name", "Real Owner", "password", PASSWORD),
	          &r);
	expect(&r, 200);
	assert_true(json_is_true(json_object_get(
	        json_object_get(json_object_get(r.json, "accepted"), "user"), "emailVerified")));
	ut_reply_free(&r);
	assert_true(is_member("victim@example.com"));

	/* The squatter's user lost the address and its session; its join can never complete. */
	assert_null(sql_text("identity",
	                     "SELECT email FROM identity.users WHERE id = $1 AND email IS NOT NULL",
	                     squatter));
	ut_http(squatter_b, "GET", "/me", NULL, 0, NULL, &r);
	expect(&r, 401);
	ut_reply_free(&r);
	ut_browser *b = ut_browser_new(&sys);
	post_json(b, "/login",
	          json_pack("{s:s, s:s}", "email", "victim@example.com", "password",
	                    "squatter's password"),
	          &r);
	expect(&r, 401);
	ut_reply_free(&r);
	snprintf(path, sizeof(path), "/j/%s/confirm", squatters_confirmation);
	post_json(b, path, json_object(), &r);
	assert_true(r.status == 400 || r.status == 404);
	ut_reply_free(&r);
	ut_browser_free(b);
	ut_browser_free(victim);
	ut_browser_free(squatter_b);
}

/* Hole 6: a domain-limited link admits nobody on the strength of a typed address; the
 * address's owner joins by following the link mailed to it. The account's
 * allowed_email_domains apply to link joins too. */
static void test_a_link_admits_only_proven_addresses(void **state)
{
	(void)state;
	char *link = enable_link(json_pack("{s:[s]}", "allowedEmailDomains", "acme.example"));
	ut_reply r;
	assert_int_equal(join_as_new_user(link, "ceo@acme.example", "an impostor's password", &r), 202);
	ut_reply_free(&r);
	assert_false(is_member("ceo@acme.example"));
	assert_int_equal(join_as_new_user(link, "someone@gmail.example", PASSWORD, &r), 403);
	ut_reply_free(&r);

	/* The address's owner follows the link: the address is proven, the join done. */
	char *token = mailed_token("ceo@acme.example", "j", 0);
	ut_browser *ceo = ut_browser_new(&sys);
	char path[160];
	snprintf(path, sizeof(path), "/j/%s", token);
	ut_http(ceo, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "email")), "ceo@acme.example");
	assert_true(json_is_true(json_object_get(r.json, "pending")));
	ut_reply_free(&r);
	assert_false(is_member("ceo@acme.example")); /* previewing consumes nothing */
	snprintf(path, sizeof(path), "/j/%s/confirm", token);
	ut_http(ceo, "POST", path, "{}", 2, "text/plain", &r);
	expect(&r, 415);
	ut_reply_free(&r);
	post_json(ceo, path, json_object(), &r);
	expect(&r, 200);
	json_t *joined = json_object_get(r.json, "joined");
	assert_string_equal(json_string_value(json_object_get(json_object_get(joined, "membership"),
	                                                      "role")),
	                    "ROLE_MEMBER");
	assert_true(json_is_true(json_object_get(json_object_get(joined, "user"), "emailVerified")));
	char *membership = us_arena_strdup(A, json_string_value(json_object_get(
	                                              json_object_get(joined, "membership"), "id")));
	ut_reply_free(&r);
	assert_true(is_member("ceo@acme.example"));
	/* Followed again (its answer was lost, or a second click): the same success, and
	 * nothing more happens (docs/reliability.md: a retry is answered as if the first call
	 * had succeeded once). */
	post_json(ceo, path, json_object(), &r);
	expect(&r, 200);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(json_object_get(r.json, "joined"), "membership"),
	                            "id")),
	                    membership);
	ut_reply_free(&r);
	assert_non_null(sql_text("invitation",
	                         "SELECT 1 FROM invitation.links l WHERE uses = 1 AND EXISTS"
	                         " (SELECT 1 FROM invitation.link_joins j WHERE j.link_id = l.id"
	                         "  AND j.email = $1)",
	                         "ceo@acme.example"));
	ut_browser_free(ceo);

	/* A signed-in user with a verified address joins at once. */
	ut_create_user(&sys, A, "verified@acme.example", "Verified", PASSWORD);
	ut_browser *v = signed_in("verified@acme.example", PASSWORD);
	snprintf(path, sizeof(path), "/l/%s/accept", link);
	post_json(v, path, json_object(), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	ut_browser_free(v);

	/* The account admits only some domains: a link without limits obeys them. */
	post_json(owner_b, "/rpc/usher.v1.TenancyService/UpdateAccountSettings",
	          json_pack("{s:s, s:s, s:[s]}", "accountId", account, "name", "Ownership Team",
	                    "allowedEmailDomains", "acme.example"),
	          &r);
	expect(&r, 200);
	ut_reply_free(&r);
	char *open_link = enable_link(NULL);
	assert_int_equal(join_as_new_user(open_link, "outsider@elsewhere.example", PASSWORD, &r), 403);
	assert_non_null(strstr(message(&r), "only admits email addresses at some domains"));
	ut_reply_free(&r);
	post_json(owner_b, "/rpc/usher.v1.TenancyService/UpdateAccountSettings",
	          json_pack("{s:s, s:s, s:[]}", "accountId", account, "name", "Ownership Team",
	                    "allowedEmailDomains"),
	          &r);
	expect(&r, 200);
	ut_reply_free(&r);
}

static long request_reset(const char *email, const char *forwarded_for, ut_reply *out)
{
	ut_browser *b = ut_browser_new(&sys);
	char header[96];
	snprintf(header, sizeof(header), "X-Forwarded-For: %s", forwarded_for);
	ut_browser_set_header(b, header);
	post_json(b, "/password-reset", json_pack("{s:s}", "email", email), out);
	ut_browser_free(b);
	return out->status;
}

static void test_password_reset_by_email(void **state)
{
	(void)state;
	ut_create_user(&sys, A, "forgetful@example.com", "Forgetful", PASSWORD);
	ut_browser *before = signed_in("forgetful@example.com", PASSWORD);

	/* The same answer for an address with a user and one without. */
	ut_reply known, unknown;
	assert_int_equal(request_reset("forgetful@example.com", "198.51.100.1", &known), 200);
	assert_int_equal(request_reset("nobody.here@example.com", "198.51.100.1", &unknown), 200);
	assert_string_equal(known.body, unknown.body);
	ut_reply_free(&known);
	ut_reply_free(&unknown);
	char *token = mailed_token("forgetful@example.com", "password-reset", 0);
	assert_int_equal(ut_count_emails(spool, "nobody.here@example.com"), 0);
	/* Stored only as a keyed hash. */
	assert_null(sql_text("identity",
	                     "SELECT 1 FROM identity.password_resets "
	                     "WHERE strpos(encode(token_hash, 'escape'), $1) > 0",
	                     token));

	ut_browser *b = ut_browser_new(&sys);
	char path[160];
	snprintf(path, sizeof(path), "/password-reset/%s", token);
	ut_reply r;
	post_json(b, path, json_pack("{s:s}", "password", "short"), &r);
	expect(&r, 400);
	ut_reply_free(&r);
	post_json(b, path, json_pack("{s:s}", "password", "a brand new passphrase"), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	/* Single use; every session ended; the new password works, the old one not. */
	post_json(b, path, json_pack("{s:s}", "password", "yet another passphrase"), &r);
	expect(&r, 404);
	ut_reply_free(&r);
	ut_http(before, "GET", "/me", NULL, 0, NULL, &r);
	expect(&r, 401);
	ut_reply_free(&r);
	post_json(b, "/login", json_pack("{s:s, s:s}", "email", "forgetful@example.com", "password",
	                                 PASSWORD),
	          &r);
	expect(&r, 401);
	ut_reply_free(&r);
	ut_browser_free(signed_in("forgetful@example.com", "a brand new passphrase"));

	/* An expired link does nothing. */
	assert_int_equal(request_reset("forgetful@example.com", "198.51.100.1", &r), 200);
	ut_reply_free(&r);
	char *stale = mailed_token("forgetful@example.com", "password-reset", 1);
	sql_text("identity",
	         "UPDATE identity.password_resets SET expires_at = now() - interval '1 second' "
	         "WHERE used_at IS NULL",
	         NULL);
	snprintf(path, sizeof(path), "/password-reset/%s", stale);
	post_json(b, path, json_pack("{s:s}", "password", "too late passphrase"), &r);
	expect(&r, 404);
	ut_reply_free(&r);

	/* Resetting proves the address: a claim becomes the claimant's. */
	char *link = enable_link(NULL);
	assert_int_equal(join_as_new_user(link, "claimant@example.com", PASSWORD, &r), 202);
	ut_reply_free(&r);
	assert_int_equal(request_reset("claimant@example.com", "198.51.100.1", &r), 200);
	ut_reply_free(&r);
	char *proof = mailed_token("claimant@example.com", "password-reset", 0);
	snprintf(path, sizeof(path), "/password-reset/%s", proof);
	post_json(b, path, json_pack("{s:s}", "password", "claimant's new passphrase"), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	assert_non_null(sql_text("identity",
	                         "SELECT 1 FROM identity.users WHERE email = $1 AND email_verified",
	                         "claimant@example.com"));
	ut_browser_free(before);
	ut_browser_free(b);
}

static long verify_request(ut_browser *b, ut_reply *r)
{
	post_json(b, "/rpc/usher.v1.IdentityService/RequestEmailVerification", json_object(), r);
	return r->status;
}

/* A signed-in person with an unverified address asks for a link, and the link (used
 * once, stored only as a hash) verifies it; a verified address gets no email; the
 * requests are throttled as password resets are. */
static void test_verify_email_by_link(void **state)
{
	(void)state;
	char *link = enable_link(NULL);
	ut_reply r;
	assert_int_equal(join_as_new_user(link, "unproven@example.com", PASSWORD, &r), 202);
	ut_reply_free(&r);
	assert_null(sql_text("identity",
	                     "SELECT 1 FROM identity.users WHERE email = $1 AND email_verified",
	                     "unproven@example.com"));
	ut_browser *b = signed_in("unproven@example.com", PASSWORD);
	assert_int_equal(verify_request(b, &r), 200);
	assert_false(json_is_true(json_object_get(r.json, "alreadyVerified")));
	ut_reply_free(&r);
	char *token = mailed_token("unproven@example.com", "verify-email", 0);
	assert_null(sql_text("identity",
	                     "SELECT 1 FROM identity.email_verifications "
	                     "WHERE strpos(encode(token_hash, 'escape'), $1) > 0",
	                     token));

	ut_browser *holder = ut_browser_new(&sys);
	post_json(holder, "/rpc/usher.v1.IdentityService/VerifyEmail",
	          json_pack("{s:s}", "token", "not-a-token"), &r);
	expect(&r, 400);
	ut_reply_free(&r);
	assert_null(sql_text("identity",
	                     "SELECT 1 FROM identity.users WHERE email = $1 AND email_verified",
	                     "unproven@example.com"));
	post_json(holder, "/rpc/usher.v1.IdentityService/VerifyEmail",
	          json_pack("{s:s}", "token", token), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	assert_non_null(sql_text("identity",
	                         "SELECT 1 FROM identity.users WHERE email = $1 AND email_verified",
	                         "unproven@example.com"));
	post_json(holder, "/rpc/usher.v1.IdentityService/VerifyEmail",
	          json_pack("{s:s}", "token", token), &r);
	expect(&r, 404);
	ut_reply_free(&r);
	/* Verified: nothing more is sent. */
	assert_int_equal(verify_request(b, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "alreadyVerified")));
	ut_reply_free(&r);
	assert_int_equal(ut_list_emails(spool, A, "unproven@example.com", "Verify your email address",
	                                NULL, 0),
	                 1);
	ut_browser_free(b);

	/* An expired link does nothing; PASSWORD_RESET_MAX_PER_EMAIL=3 requests per window. */
	assert_int_equal(join_as_new_user(link, "unproven2@example.com", PASSWORD, &r), 202);
	ut_reply_free(&r);
	b = signed_in("unproven2@example.com", PASSWORD);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(verify_request(b, &r), 200);
		ut_reply_free(&r);
	}
	assert_int_equal(verify_request(b, &r), 429);
	ut_reply_free(&r);
	char *stale = mailed_token("unproven2@example.com", "verify-email", 2);
	sql_text("identity",
	         "UPDATE identity.email_verifications SET expires_at = now() - interval '1 second' "
	         "WHERE used_at IS NULL",
	         NULL);
	post_json(holder, "/rpc/usher.v1.IdentityService/VerifyEmail",
	          json_pack("{s:s}", "token", stale), &r);
	expect(&r, 404);
	ut_reply_free(&r);
	assert_null(sql_text("identity",
	                     "SELECT 1 FROM identity.users WHERE email = $1 AND email_verified",
	                     "unproven2@example.com"));
	ut_browser_free(b);
	ut_browser_free(holder);
}

/* Past the per-address limit nothing more is sent (the reply unchanged); past the
 * per-client limit requests are refused, whatever address they name. */
static void test_password_reset_is_throttled(void **state)
{
	(void)state;
	ut_create_user(&sys, A, "pestered@example.com", "Pestered", PASSWORD);
	ut_reply r;
	for (int i = 0; i < 5; i++) {
		char client[32];
		snprintf(client, sizeof(client), "203.0.113.%d", 10 + i);
		assert_int_equal(request_reset("pestered@example.com", client, &r), 200);
		ut_reply_free(&r);
	}
	/* PASSWORD_RESET_MAX_PER_EMAIL=3 here. */
	mailed_token("pestered@example.com", "password-reset", 2);
	assert_int_equal(ut_list_emails(spool, A, "pestered@example.com", "Reset your password", NULL,
	                                0),
	                 3);

	/* PASSWORD_RESET_MAX_PER_ADDRESS=6 here: one client, many addresses. */
	for (int i = 0; i < 6; i++) {
		char email[64];
		snprintf(email, sizeof(email), "probe%d@example.com", i);
		assert_int_equal(request_reset(email, "192.0.2.77", &r), 200);
		ut_reply_free(&r);
	}
	assert_int_equal(request_reset("probe9@example.com", "192.0.2.77", &r), 429);
	ut_reply_free(&r);
	assert_int_equal(request_reset("probe9@example.com", "192.0.2.78", &r), 200);
	ut_reply_free(&r);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "ownership");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	sys.extra_env[0] = "TRUSTED_PROXIES=127.0.0.1";
	sys.extra_env[1] = "PASSWORD_RESET_MAX_PER_EMAIL=3";
	sys.extra_env[2] = "PASSWORD_RESET_MAX_PER_ADDRESS=6";
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, "owner@ownership.example", "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Ownership Team", "texting");
	owner_b = signed_in("owner@ownership.example", PASSWORD);
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
		cmocka_unit_test(test_a_claim_never_blocks_the_addresss_owner),
		cmocka_unit_test(test_a_link_admits_only_proven_addresses),
		cmocka_unit_test(test_password_reset_by_email),
		cmocka_unit_test(test_password_reset_is_throttled),
		cmocka_unit_test(test_verify_email_by_link),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
