/* usherctl against the five real daemons: accounts, invitations (typed and imported from
 * CSV, with row numbers), links, members, deliveries and migrations; --json output that
 * parses and matches the API's messages; and the documented exit codes: 0 ok, 2 usage
 * (nothing sent), 3 a partial batch, 4 an actor without rights, 5 a stopped daemon. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "harness.h"

#define PASSWORD "correct horse battery"
#define MAIL_WAIT_MS 30000

static ut_system sys;
static char spool[200];
static us_arena *A;
static char bin[512];

/* Olivia owns the account most tests use. */
static const char *owner_email = "olivia@acme.example";
static char *owner;
static char *account;

/* --- running usherctl --- */

static int run_v(char **out, bool with_stderr, const char *first, va_list ap)
{
	char *argv[64];
	size_t n = 0;
	argv[n++] = bin;
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
		assert_true(n < 63);
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
	return ut_run(argv, NULL, with_stderr, out);
}

/* usherctl ARGS with its stdout in *out (free it); returns its exit status. */
static int run(char **out, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = run_v(out, false, first, ap);
	va_end(ap);
	return rc;
}

/* The same with stderr in *out too. */
static int run_all(char **out, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = run_v(out, true, first, ap);
	va_end(ap);
	return rc;
}

/* usherctl --json ARGS, which must exit with want and print one JSON document. */
static json_t *run_json(int want, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	char *out = NULL;
	char *argv[64];
	size_t n = 0;
	argv[n++] = bin;
	argv[n++] = "--json";
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
		assert_true(n < 63);
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	int rc = ut_run(argv, NULL, false, &out);
	if (rc != want)
		fail_msg("usherctl %s %s: exit status %d, expected %d\n%s", first, argv[3] ? argv[3] : "",
		         rc, want, out);
	json_error_t jerr;
	json_t *doc = json_loads(out, 0, &jerr);
	if (doc == NULL)
		fail_msg("usherctl --json %s printed no JSON document: %s\n%s", first, jerr.text, out);
	free(out);
	return doc;
}

#define RUN(out, ...) run(out, __VA_ARGS__, (const char *)NULL)
#define RUN_ALL(out, ...) run_all(out, __VA_ARGS__, (const char *)NULL)
#define RUN_JSON(want, ...) run_json(want, __VA_ARGS__, (const char *)NULL)

/* doc["a"]["b"]... as a string ("" when missing). */
static const char *str(const json_t *doc, const char *path)
{
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", path);
	const json_t *v = doc;
	for (char *save, *key = strtok_r(copy, ".", &save); key; key = strtok_r(NULL, ".", &save))
		v = json_object_get(v, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

/* The invitations of the account whose address contains email, as the owner lists them. */
static json_t *list_invitations(const char *email, const char *state)
{
	json_t *doc = state ? RUN_JSON(0, "invitations", "list", account, "--as", owner_email,
	                               "--email", email, "--state", state)
	                    : RUN_JSON(0, "invitations", "list", account, "--as", owner_email,
	                               "--email", email);
	json_t *list = json_incref(json_object_get(doc, "invitations"));
	json_decref(doc);
	return list ? list : json_array();
}

/* --- the tests --- */

/* The first owner of an account has nobody to invite them: an operator creates them,
 * with the password on standard input, never in argv. */
static void test_users_create_for_a_first_owner(void **state)
{
	(void)state;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "printf '%%s\\n' 'first owner pw' | '%s' --json users create First.Owner@Example.com "
	         "--name 'First Owner' --password-stdin", bin);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	char *out = NULL;
	assert_int_equal(ut_run(argv, NULL, false, &out), 0);
	json_t *doc = json_loads(out, 0, NULL);
	if (doc == NULL)
		fail_msg("not JSON: %s", out);
	free(out);
	json_t *user = json_object_get(doc, "user");
	assert_string_equal(json_string_value(json_object_get(user, "email")), "first.owner@example.com");
	assert_true(json_is_true(json_object_get(user, "emailVerified")));
	json_decref(doc);
	/* The password works. */
	assert_non_null(ut_login(&sys, A, "first.owner@example.com", "first owner pw"));
	/* Without --password-stdin: usage, and nobody is created. */
	assert_int_equal(run(NULL, "users", "create", "second@example.com", "--name", "Second", NULL),
	                 2);
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	char *email = "second@example.com";
	req.emails = &email;
	req.n_emails = 1;
	ProtobufCMessage *found;
	us_status st;
	assert_int_equal(ut_call(&sys, UT_IDENTITY, "usher.v1.IdentityService/LookupEmails", NULL, NULL,
	                         &req.base, &usher__v1__lookup_emails_reply__descriptor, A, &found,
	                         &st),
	                 US_OK);
	assert_int_equal(((Usher__V1__LookupEmailsReply *)found)->n_matches, 0);
}

static void test_accounts_and_subaccounts(void **state)
{
	(void)state;
	json_t *created = RUN_JSON(0, "accounts", "create", "Beta Co", "--owner", owner_email,
	                           "--products", "texting,calling", "--expiry-hours", "48");
	const char *id = str(created, "account.id");
	assert_int_equal(strlen(id), 36);
	assert_string_equal(str(created, "account.name"), "Beta Co");
	assert_string_equal(str(created, "account.primaryOwnerId"), owner);
	assert_string_equal(str(created, "owner.role"), "ROLE_OWNER");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(created, "account"),
	                                                    "invitationExpiryHours")),
	                 48);

	char *out = NULL;
	assert_int_equal(RUN(&out, "accounts", "show", id), 0);
	assert_contains(out, "Beta Co");
	assert_contains(out, "calling");
	assert_contains(out, "texting");
	free(out);

	/* Every account, for operators: filtered by name, paged, never on someone's behalf. */
	json_t *listed = RUN_JSON(0, "accounts", "list", "--name-contains", "BETA");
	json_t *accounts = json_object_get(listed, "accounts");
	assert_int_equal(json_array_size(accounts), 1);
	assert_string_equal(str(json_array_get(accounts, 0), "id"), id);
	json_decref(listed);
	listed = RUN_JSON(0, "accounts", "list", "--limit", "1");
	assert_int_equal(json_array_size(json_object_get(listed, "accounts")), 1);
	assert_true(strlen(str(listed, "nextPageToken")) > 0);
	json_decref(listed);
	assert_int_equal(RUN(&out, "accounts", "list"), 0);
	assert_contains(out, "Acme Team");
	assert_contains(out, "Beta Co");
	free(out);
	assert_int_equal(RUN(NULL, "accounts", "list", "--as", owner_email), 2);

	json_t *sub = RUN_JSON(0, "subaccounts", "create", id, "East Region", "--as", owner_email);
	assert_string_equal(str(sub, "subaccount.name"), "East Region");
	assert_int_equal(RUN(&out, "subaccounts", "list", id), 0);
	assert_contains(out, "East Region");
	assert_contains(out, str(sub, "subaccount.id"));
	free(out);
	json_decref(sub);
	json_decref(created);
}

static void test_invite_list_resend_revoke(void **state)
{
	(void)state;
	json_t *batch = RUN_JSON(0, "invitations", "create", account, "ann@example.com",
	                         "bob@example.com", "--as", owner_email);
	json_t *results = json_object_get(batch, "results");
	assert_int_equal(json_array_size(results), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(str(json_array_get(results, i), "outcome"), "OUTCOME_CREATED");
	assert_int_equal(json_integer_value(json_object_get(batch, "created")), 2);
	char *ann = us_arena_strdup(A, str(json_array_get(results, 0), "invitationId"));
	char *bob = us_arena_strdup(A, str(json_array_get(results, 1), "invitationId"));
	json_decref(batch);

	/* Both are pending, in the table and in JSON. */
	char *out = NULL;
	assert_int_equal(RUN(&out, "invitations", "list", account, "--as", owner_email, "--state",
	                     "pending"),
	                 0);
	assert_contains(out, "ann@example.com");
	assert_contains(out, "bob@example.com");
	assert_contains(out, "pending");
	free(out);
	json_t *pending = list_invitations("@example.com", "pending");
	size_t seen = 0;
	for (size_t i = 0; i < json_array_size(pending); i++) {
		const json_t *inv = json_array_get(pending, i);
		seen += strcmp(str(inv, "id"), ann) == 0 || strcmp(str(inv, "id"), bob) == 0;
		assert_string_equal(str(inv, "state"), "INVITATION_PENDING");
	}
	assert_int_equal(seen, 2);
	json_decref(pending);
	/* The pending export: the HTTP export's file, header first. */
	assert_int_equal(RUN(&out, "invitations", "export", account, "--as", owner_email), 0);
	static const char header[] = "email,role,status,sent_at,expires_at,times_sent\r\n";
	if (strncmp(out, header, strlen(header)) != 0)
		fail_msg("not the export's header first:\n%s", out);
	assert_contains(out, "\"ann@example.com\",\"member\",\"pending\",");
	assert_contains(out, "\"bob@example.com\",\"member\",\"pending\",");
	free(out);

	/* Resend: a second email with a new link. */
	ut_email first, second;
	assert_true(ut_wait_email(spool, A, "ann@example.com", "Invitation", 0, MAIL_WAIT_MS, &first));
	json_t *resent = RUN_JSON(0, "invitations", "resend", ann, "--as", owner_email);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(resent, "invitation"),
	                                                    "sendCount")),
	                 2);
	json_decref(resent);
	assert_true(ut_wait_email(spool, A, "ann@example.com", "Invitation", 1, MAIL_WAIT_MS, &second));
	assert_non_null(first.token);
	assert_non_null(second.token);
	assert_string_not_equal(first.token, second.token);

	/* Revoke: bob leaves the pending list and shows as revoked. */
	json_t *revoked = RUN_JSON(0, "invitations", "revoke", bob, "--as", owner_email);
	assert_string_equal(str(revoked, "invitation.state"), "INVITATION_REVOKED");
	json_decref(revoked);
	pending = list_invitations("bob@example.com", "pending");
	assert_int_equal(json_array_size(pending), 0);
	json_decref(pending);
	json_t *gone = list_invitations("bob@example.com", "revoked");
	assert_int_equal(json_array_size(gone), 1);
	json_decref(gone);
	assert_int_equal(RUN(&out, "invitations", "show", bob, "--as", owner_email), 0);
	assert_contains(out, "revoked");
	assert_contains(out, "bob@example.com");
	free(out);
}

static void test_partial_batch_exits_3(void **state)
{
	(void)state;
	char *out = NULL;
	assert_int_equal(RUN(&out, "invitations", "create", account, "carl@example.com", "not-an-email",
	                     "--as", owner_email),
	                 3);
	assert_contains(out, "carl@example.com");
	assert_contains(out, "invalid");
	assert_contains(out, "1 created, 1 invalid");
	free(out);

	/* A dry run reports what would happen and writes nothing. */
	json_t *dry = RUN_JSON(0, "invitations", "create", account, "dry@example.com", "--as",
	                       owner_email, "--dry-run");
	assert_string_equal(str(json_array_get(json_object_get(dry, "results"), 0), "outcome"),
	                    "OUTCOME_CREATED");
	assert_string_equal(str(dry, "batchId"), "");
	json_decref(dry);
	json_t *none = list_invitations("dry@example.com", NULL);
	assert_int_equal(json_array_size(none), 0);
	json_decref(none);
	/* carl is pending now: inviting him again is not a full success. */
	assert_int_equal(RUN(NULL, "invitations", "create", account, "carl@example.com", "--as",
	                     owner_email, "--dry-run"),
	                 3);
}

static char *write_file(const char *name, const char *content)
{
	char *path = us_arena_printf(A, "%s/%s", sys.dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	return path;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("no file \"%s\"", path);
	char *buf = us_arena_alloc(A, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const json_t *row_of(const json_t *report, int row)
{
	const json_t *rows = json_object_get(report, "rows");
	for (size_t i = 0; i < json_array_size(rows); i++) {
		if (json_integer_value(json_object_get(json_array_get(rows, i), "row")) == row)
			return json_array_get(rows, i);
	}
	fail_msg("no row %d in the report", row);
	return NULL;
}

static void test_import_reports_every_row_by_number(void **state)
{
	(void)state;
	/* Row 1 is the header; row 6 is blank and ignored. */
	char *csv = write_file("people.csv", "\xef\xbb\xbfName,Email\r\n"
	                                     "Dora,dora@example.com\r\n"
	                                     "Eve,eve@example.com\r\n"
	                                     "Dup,DORA@example.com\r\n"
	                                     "Bad,not-an-email\r\n"
	                                     "\r\n"
	                                     "\"Finn, Jr.\",\"finn@example.com\"\r\n");
	char *report = us_arena_printf(A, "%s/report.csv", sys.dir);
	json_t *doc = RUN_JSON(3, "invitations", "import", account, csv, "--as", owner_email,
	                       "--report", report);
	assert_int_equal(json_array_size(json_object_get(doc, "rows")), 5);
	assert_string_equal(str(row_of(doc, 2), "outcome"), "created");
	assert_string_equal(str(row_of(doc, 3), "outcome"), "created");
	assert_string_equal(str(row_of(doc, 4), "outcome"), "duplicate_in_batch");
	assert_string_equal(str(row_of(doc, 5), "outcome"), "invalid");
	assert_string_equal(str(row_of(doc, 7), "outcome"), "created");
	assert_string_equal(str(row_of(doc, 7), "email"), "finn@example.com");
	assert_int_equal(strlen(str(row_of(doc, 2), "invitationId")), 36);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "counts"), "created")),
	                 3);
	assert_int_equal(strlen(str(doc, "batchId")), 36);
	json_decref(doc);

	char *text = read_text(report);
	assert_contains(text, "row,email,outcome,reason,invitation_id\r\n");
	assert_contains(text, "4,\"DORA@example.com\",\"duplicate_in_batch\",");
	assert_contains(text, "5,\"not-an-email\",\"invalid\",");
	json_t *finn = list_invitations("finn@example.com", "pending");
	assert_int_equal(json_array_size(finn), 1);
	json_decref(finn);

	/* The same file again as a dry run: the table shows the rows now pending. */
	char *out = NULL;
	assert_int_equal(RUN(&out, "invitations", "import", account, csv, "--as", owner_email,
	                     "--dry-run"),
	                 3);
	assert_contains(out, "ROW");
	assert_contains(out, "already_pending");
	assert_contains(out, "dry run");
	free(out);
}

static void test_import_refuses_a_bad_file_whole(void **state)
{
	(void)state;
	char *bad = write_file("bad.csv", "email\nfirst@example.com\n\"broken@example.com\n");
	char *out = NULL;
	assert_int_equal(RUN_ALL(&out, "invitations", "import", account, bad, "--as", owner_email), 2);
	assert_contains(out, "usherctl: \"");
	assert_contains(out, "bad.csv");
	free(out);
	json_t *none = list_invitations("first@example.com", NULL);
	assert_int_equal(json_array_size(none), 0);
	json_decref(none);

	/* 50,001 data rows: refused before anything is sent. */
	size_t size = 40 * 50002;
	char *big = us_arena_alloc(A, size);
	char *p = big + sprintf(big, "email\n");
	for (int i = 0; i <= 50000; i++)
		p += sprintf(p, "many%d@example.com\n", i);
	char *many = write_file("many.csv", big);
	assert_int_equal(RUN_ALL(&out, "invitations", "import", account, many, "--as", owner_email), 2);
	assert_contains(out, "50000");
	free(out);
	none = list_invitations("many0@example.com", NULL);
	assert_int_equal(json_array_size(none), 0);
	json_decref(none);
}

static void test_links_enable_show_delete(void **state)
{
	(void)state;
	json_t *first = RUN_JSON(0, "links", "enable", account, "--as", owner_email, "--max-uses",
	                         "5", "--domains", "example.com");
	const char *url = str(first, "link.url");
	assert_non_null(strstr(url, "/l/"));
	assert_string_equal(str(first, "link.state"), "LINK_ACTIVE");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(first, "link"), "maxUses")),
	                 5);

	char *out = NULL;
	assert_int_equal(RUN(&out, "links", "show", account, "--as", owner_email), 0);
	assert_contains(out, url);
	assert_contains(out, "example.com");
	free(out);

	json_t *second = RUN_JSON(0, "links", "enable", account, "--as", owner_email);
	assert_string_not_equal(str(second, "link.url"), url);
	json_t *shown = RUN_JSON(0, "links", "show", account, "--as", owner_email);
	assert_string_equal(str(shown, "link.url"), str(second, "link.url"));
	json_decref(shown);

	json_t *deleted = RUN_JSON(0, "links", "delete", account, "--as", owner_email);
	assert_string_equal(str(deleted, "link.state"), "LINK_DELETED");
	json_decref(deleted);
	/* No active link any more: NOT_FOUND, exit 1, and the API's error document. */
	json_t *err = RUN_JSON(1, "links", "show", account, "--as", owner_email);
	assert_string_equal(str(err, "code"), "NOT_FOUND");
	json_decref(err);

	json_t *joins = RUN_JSON(0, "links", "joins", account, "--as", owner_email);
	assert_true(json_is_object(joins));
	json_decref(joins);
	json_decref(second);
	json_decref(first);
}

static void test_members_list_and_role(void **state)
{
	(void)state;
	char *mia = ut_create_user(&sys, A, "mia@example.com", "Mia Member", PASSWORD);
	ut_grant(&sys, A, account, mia, USHER__V1__ROLE__ROLE_MEMBER, NULL);

	json_t *doc = RUN_JSON(0, "members", "list", account);
	json_t *members = json_object_get(doc, "members");
	assert_true(json_array_size(members) >= 2);
	bool saw_owner = false;
	for (size_t i = 0; i < json_array_size(members); i++) {
		const json_t *m = json_array_get(members, i);
		if (strcmp(str(m, "userId"), owner) == 0) {
			saw_owner = true;
			assert_string_equal(str(m, "role"), "ROLE_OWNER");
		}
	}
	assert_true(saw_owner);
	json_decref(doc);

	/* By email, as the owner. */
	json_t *changed = RUN_JSON(0, "members", "role", account, "mia@example.com", "moderator",
	                           "--as", owner_email);
	assert_string_equal(str(changed, "membership.role"), "ROLE_MODERATOR");
	assert_string_equal(str(changed, "membership.userId"), mia);
	json_decref(changed);

	char *out = NULL;
	assert_int_equal(RUN(&out, "members", "list", account, "--role", "moderator"), 0);
	assert_contains(out, "mia@example.com");
	assert_contains(out, "Mia Member");
	assert_contains(out, "moderator");
	assert_null(strstr(out, owner_email));
	free(out);
}

static void test_actor_without_rights_exits_4(void **state)
{
	(void)state;
	/* A plain member may neither invite nor change roles. */
	char *max = ut_create_user(&sys, A, "max@example.com", "Max Member", PASSWORD);
	ut_grant(&sys, A, account, max, USHER__V1__ROLE__ROLE_MEMBER, NULL);
	char *out = NULL;
	int rc = RUN_ALL(&out, "invitations", "create", account, "victim@example.com", "--as",
	                 "max@example.com");
	if (rc != 4)
		fail_msg("exit status %d, expected 4:\n%s", rc, out);
	assert_contains(out, "(PERMISSION_DENIED)");
	free(out);
	json_t *err = RUN_JSON(4, "invitations", "create", account, "victim@example.com", "--as", max);
	assert_string_equal(str(err, "code"), "PERMISSION_DENIED");
	json_decref(err);
	json_t *none = list_invitations("victim@example.com", NULL);
	assert_int_equal(json_array_size(none), 0);
	json_decref(none);
	/* Nor may someone who is not a member at all. */
	ut_create_user(&sys, A, "stranger@example.com", "Stan Stranger", PASSWORD);
	rc = RUN_ALL(&out, "invitations", "create", account, "victim@example.com", "--as",
	             "stranger@example.com");
	if (rc != 4)
		fail_msg("exit status %d, expected 4:\n%s", rc, out);
	free(out);
	assert_int_equal(RUN(NULL, "invitations", "list", account, "--as", "stranger@example.com"), 4);
	assert_int_equal(RUN(NULL, "members", "role", account, owner, "member", "--as", max), 4);
	assert_int_equal(RUN(NULL, "members", "deactivate", account, owner, "--as", max), 4);
}

static void test_bad_usage_exits_2_and_sends_nothing(void **state)
{
	(void)state;
	char *out = NULL;
	assert_int_equal(RUN_ALL(&out, "invitations", "create", account, "zed@example.com", "--as",
	                         owner_email, "--role", "boss"),
	                 2);
	assert_string_equal(out, "usherctl: invalid --role \"boss\": must be member, moderator, admin "
	                         "or owner\n");
	free(out);
	assert_int_equal(RUN_ALL(&out, "invitations", "create", "not-a-uuid", "zed@example.com",
	                         "--as", owner_email),
	                 2);
	assert_string_equal(out, "usherctl: invalid ACCOUNT \"not-a-uuid\": must be a UUID\n");
	free(out);
	assert_int_equal(RUN_ALL(&out, "invitations", "create", account, "zed@example.com"), 2);
	assert_contains(out, "needs --as USER");
	free(out);
	assert_int_equal(RUN_ALL(&out, "invitations", "list", account, "--as", owner_email, "--limit"),
	                 2);
	assert_string_equal(out, "usherctl: --limit needs a value (--limit N)\n");
	free(out);
	assert_int_equal(RUN_ALL(&out, "members", "role", account, owner, "--as", owner_email), 2);
	assert_contains(out, "missing ROLE");
	free(out);
	assert_int_equal(RUN(NULL, "invitations", "frobnicate"), 2);
	assert_int_equal(RUN(NULL, "invitations", "create", account, "zed@example.com", "--as",
	                     owner_email, "--expires-in-hours", "0"),
	                 2);
	json_t *none = list_invitations("zed@example.com", NULL);
	assert_int_equal(json_array_size(none), 0);
	json_decref(none);

	/* A daemon's address missing from the environment is a usage error too. */
	char *env[] = {"PATH=/usr/bin:/bin", NULL};
	char *argv[] = {bin, "invitations", "list", account, "--as", owner, NULL};
	assert_int_equal(ut_run(argv, env, true, &out), 2);
	assert_contains(out, "INVITATION_RPC_URL is not set");
	free(out);

	/* Help is there for every command, and exits 0. */
	assert_int_equal(RUN(&out, "invitations", "import", "--help"), 0);
	assert_contains(out, "--report FILE.csv");
	free(out);
}

static void test_idempotency_key_makes_a_retry_safe(void **state)
{
	(void)state;
	char *out = NULL;
	/* The default key is fresh and shown by --verbose. */
	assert_int_equal(RUN_ALL(&out, "invitations", "create", account, "hal@example.com", "--as",
	                         owner_email, "--verbose"),
	                 0);
	assert_contains(out, "idempotency key usherctl-");
	free(out);

	json_t *once = RUN_JSON(0, "invitations", "create", account, "gus@example.com", "--as",
	                        owner_email, "--idempotency-key", "retry-gus-1");
	json_t *twice = RUN_JSON(0, "invitations", "create", account, "gus@example.com", "--as",
	                         owner_email, "--idempotency-key", "retry-gus-1");
	const char *id = str(json_array_get(json_object_get(once, "results"), 0), "invitationId");
	assert_int_equal(strlen(id), 36);
	assert_string_equal(str(json_array_get(json_object_get(twice, "results"), 0), "invitationId"),
	                    id);
	json_decref(once);
	json_decref(twice);
	json_t *list = list_invitations("gus@example.com", NULL);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

static void test_deliveries_show(void **state)
{
	(void)state;
	json_t *batch = RUN_JSON(0, "invitations", "create", account, "ivy@example.com", "--as",
	                         owner_email);
	char *id = us_arena_strdup(A, str(json_array_get(json_object_get(batch, "results"), 0),
	                                  "invitationId"));
	json_decref(batch);
	ut_email mail;
	assert_true(ut_wait_email(spool, A, "ivy@example.com", "Invitation", 0, MAIL_WAIT_MS, &mail));

	json_t *doc = RUN_JSON(0, "deliveries", "show", "--invitation", id);
	json_t *list = json_object_get(doc, "deliveries");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(str(json_array_get(list, 0), "recipient"), "ivy@example.com");
	assert_string_equal(str(json_array_get(list, 0), "template"), "invitation_new_user");
	assert_string_equal(str(json_array_get(list, 0), "reference"),
	                    us_arena_printf(A, "invitation:%s", id));
	json_decref(doc);

	char *out = NULL;
	assert_int_equal(RUN(&out, "deliveries", "show", "--recipient", "IVY@example.com"), 0);
	assert_contains(out, "invitation_new_user");
	assert_contains(out, "ivy@example.com");
	free(out);
}

static void test_migrate_status(void **state)
{
	(void)state;
	json_t *doc = RUN_JSON(0, "migrate", "status");
	json_t *daemons = json_object_get(doc, "daemons");
	assert_int_equal(json_array_size(daemons), 4);
	for (size_t i = 0; i < 4; i++) {
		const json_t *d = json_array_get(daemons, i);
		assert_true(strlen(str(d, "schema")) > 0);
		json_t *migrations = json_object_get(d, "migrations");
		assert_true(json_array_size(migrations) >= 2); /* the common one and its own */
		for (size_t k = 0; k < json_array_size(migrations); k++)
			assert_true(json_is_true(json_object_get(json_array_get(migrations, k), "applied")));
	}
	json_decref(doc);

	char *out = NULL;
	assert_int_equal(RUN(&out, "migrate", "status", "invitation"), 0);
	assert_contains(out, "usher-invitationd");
	assert_contains(out, "common/0001_idempotency_keys");
	assert_contains(out, "applied");
	assert_null(strstr(out, "usher-identityd"));
	free(out);
}

/* Last: it stops usher-invitationd. */
static void test_stopped_daemon_exits_5(void **state)
{
	(void)state;
	assert_true(ut_system_signal(&sys, UT_INVITATION, SIGTERM, 5000, NULL) != -1);
	char *out = NULL;
	assert_int_equal(RUN_ALL(&out, "invitations", "list", account, "--as", owner_email), 5);
	assert_contains(out, "could not connect");
	assert_contains(out, "(UNAVAILABLE)");
	free(out);
	json_t *err = RUN_JSON(5, "invitations", "list", account, "--as", owner_email);
	assert_string_equal(str(err, "code"), "UNAVAILABLE");
	json_decref(err);
	assert_int_equal(RUN(NULL, "migrate", "status"), 5);
	/* The others still answer. */
	assert_int_equal(RUN(NULL, "migrate", "status", "identity", "tenancy"), 0);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "usherctl");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s", spool);
	sys.extra_env[0] = spool_setting;
	sys.extra_env[1] = "REINVITE_MIN_INTERVAL_S=0";
	ut_system_start_all(&sys);
	ut_system_export_urls(&sys);
	ut_bin("usherctl", bin, sizeof(bin));
	owner = ut_create_user(&sys, A, owner_email, "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_users_create_for_a_first_owner),
		cmocka_unit_test(test_accounts_and_subaccounts),
		cmocka_unit_test(test_invite_list_resend_revoke),
		cmocka_unit_test(test_partial_batch_exits_3),
		cmocka_unit_test(test_import_reports_every_row_by_number),
		cmocka_unit_test(test_import_refuses_a_bad_file_whole),
		cmocka_unit_test(test_links_enable_show_delete),
		cmocka_unit_test(test_members_list_and_role),
		cmocka_unit_test(test_actor_without_rights_exits_4),
		cmocka_unit_test(test_bad_usage_exits_2_and_sends_nothing),
		cmocka_unit_test(test_idempotency_key_makes_a_retry_safe),
		cmocka_unit_test(test_deliveries_show),
		cmocka_unit_test(test_migrate_status),
		cmocka_unit_test(test_stopped_daemon_exits_5),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
