/* The audit log against the five real daemons: one walk through every audited action
 * (memberships, settings, invitations, links, service principals), each read back with
 * its actor, action, subject, account and time; the gateway's merged pages, filters and
 * CSV; usherctl's list and export, which must agree; who may read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "calls.h"
#include "common/caller_key.h"
#include "harness.h"
#include "http.h"
#include "usher/v1/principal.pb-c.h"

#define PASSWORD "correct horse battery"

static ut_system sys;
static us_arena *A;
static char bin[512];
static char *owner, *account, *bob, *mallory, *subaccount;
static ut_browser *admin;

/* What the walk did, in order, for the checks. */
typedef struct done {
	const char *action;
	const char *actor;   /* a user id, or NULL: the test process with no person */
	const char *subject;
	const char *email;   /* subject_email, or NULL */
	const char *caller;  /* NULL: usher-gatewayd with an actor, the test without */
} done;
static done walk[32];
static size_t n_walk;
static char started_at[48], ended_at[48];
static char *principal_id, *invitation_id, *link_id;

static void did(const char *action, const char *actor, const char *subject, const char *email)
{
	assert_true(n_walk < sizeof(walk) / sizeof(walk[0]));
	walk[n_walk++] = (done){action, actor, subject, email, NULL};
}

/* --- helpers --- */

static void now_text(char *out, size_t size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%.19s.%03uZ", base, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

static void expect(const ut_reply *r, long status)
{
	if (r->status != status)
		fail_msg("expected HTTP %ld, got %ld: %s", status, r->status, r->body);
}

static json_t *post(ut_browser *b, const char *method, json_t *body)
{
	char path[200];
	snprintf(path, sizeof(path), "/rpc/usher.v1.%s", method);
	char *text = json_dumps(body, JSON_COMPACT);
	ut_reply r;
	ut_http(b, "POST", path, text, strlen(text), NULL, &r);
	free(text);
	json_decref(body);
	expect(&r, 200);
	json_t *doc = json_incref(r.json);
	ut_reply_free(&r);
	return doc;
}

static const char *jstr(const json_t *doc, const char *a, const char *b)
{
	const json_t *v = json_object_get(doc, a);
	if (b != NULL)
		v = json_object_get(v, b);
	const char *s = json_string_value(v);
	return s != NULL ? s : "";
}

static ut_browser *signed_in(const char *email)
{
	ut_browser *b = ut_browser_new(&sys);
	json_t *body = json_pack("{s:s, s:s}", "email", email, "password", PASSWORD);
	char *text = json_dumps(body, 0);
	json_decref(body);
	ut_reply r;
	ut_http(b, "POST", "/login", text, strlen(text), NULL, &r);
	free(text);
	expect(&r, 200);
	ut_browser_set_csrf(b, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return b;
}

static char *public_key_hex(void)
{
	us_caller_key key;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&key, secret);
	sodium_memzero(secret, sizeof(secret));
	char *hex = us_arena_alloc(A, US_PUBLIC_KEY_HEX_LEN + 1);
	us_public_key_hex(key.public_key, hex);
	us_caller_key_wipe(&key);
	return hex;
}

static Usher__V1__Principal *principal_call(const char *method, const ProtobufCMessage *req)
{
	char full[120];
	snprintf(full, sizeof(full), "usher.v1.PrincipalService/%s", method);
	ProtobufCMessage *reply;
	us_status st;
	us_err rc = ut_call(&sys, UT_IDENTITY, full, NULL, ut_key(A), req,
	                    &usher__v1__principal_reply__descriptor, A, &reply, &st);
	if (rc != US_OK)
		fail_msg("%s: %s", method, st.message);
	us_status_clear(&st);
	return ((Usher__V1__PrincipalReply *)reply)->principal;
}

/* GET path as b; the reply's JSON (new reference) or, with csv, NULL and the body in *csv. */
static json_t *get(ut_browser *b, const char *path, long status, char **csv)
{
	ut_reply r;
	ut_http(b, "GET", path, NULL, 0, NULL, &r);
	expect(&r, status);
	json_t *doc = r.json != NULL ? json_incref(r.json) : NULL;
	if (csv != NULL)
		*csv = strdup(r.body);
	ut_reply_free(&r);
	return doc;
}

/* usherctl ARGS...; its stdout in *out (free it); returns the exit status. */
static int ctl(char **out, const char *first, ...)
{
	char *argv[32];
	size_t n = 0;
	argv[n++] = bin;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return ut_run(argv, NULL, false, out);
}

/* The CSV's lines after the header, split into cells (our writer quotes every cell and
 * has no commas or quotes in the ids checked here). */
static size_t csv_column(const char *csv, int col, char out[][64], size_t max)
{
	const char *line = strstr(csv, "\r\n");
	size_t n = 0;
	while (line != NULL && line[2] != '\0' && n < max) {
		line += 2;
		const char *p = line;
		for (int c = 0; c < col; c++) {
			/* skip one quoted cell and its comma */
			p++;
			while (!(p[0] == '"' && p[1] != '"'))
				p += p[0] == '"' ? 2 : 1;
			p += 2;
		}
		const char *end = strchr(p + 1, '"');
		snprintf(out[n++], 64, "%.*s", (int)(end - p - 1), p + 1);
		line = strstr(line, "\r\n");
	}
	return n;
}

/* --- the walk --- */

static void test_every_action_is_recorded(void **state)
{
	(void)state;
	now_text(started_at, sizeof(started_at));
	/* The owner creates the account (here as the test, naming them) and a subaccount. */
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	did("account.create", owner, account, NULL);
	walk[n_walk - 1].caller = "test";
	json_t *sub = post(admin, "TenancyService/CreateSubaccount",
	                   json_pack("{s:s, s:s}", "accountId", account, "name", "East"));
	subaccount = us_arena_strdup(A, jstr(sub, "subaccount", "id"));
	json_decref(sub);
	did("subaccount.create", owner, subaccount, NULL);
	ut_grant(&sys, A, account, mallory, USHER__V1__ROLE__ROLE_MEMBER, NULL);
	did("member.add", NULL, mallory, NULL);
	ut_grant(&sys, A, account, bob, USHER__V1__ROLE__ROLE_MEMBER, NULL);
	did("member.add", NULL, bob, NULL);

	json_decref(post(admin, "TenancyService/ChangeRole",
	                 json_pack("{s:s, s:s, s:s}", "accountId", account, "userId", bob, "role",
	                           "ROLE_MODERATOR")));
	did("member.role.change", owner, bob, NULL);
	json_decref(post(admin, "TenancyService/SetScope",
	                 json_pack("{s:s, s:s, s:{s:[s]}, s:[s]}", "accountId", account, "userId",
	                           bob, "scope", "subaccountIds", subaccount, "products",
	                           "texting")));
	did("member.scope.change", owner, bob, NULL);
	json_decref(post(admin, "TenancyService/SetFlags",
	                 json_pack("{s:s, s:s, s:[s]}", "accountId", account, "userId", bob, "flags",
	                           "messages.view_body")));
	did("member.flags.change", owner, bob, NULL);
	json_decref(post(admin, "TenancyService/Deactivate",
	                 json_pack("{s:s, s:s}", "accountId", account, "userId", bob)));
	did("member.deactivate", owner, bob, NULL);
	json_decref(post(admin, "TenancyService/Reactivate",
	                 json_pack("{s:s, s:s}", "accountId", account, "userId", bob)));
	did("member.reactivate", owner, bob, NULL);
	json_decref(post(admin, "TenancyService/UpdateAccountSettings",
	                 json_pack("{s:s, s:s, s:i}", "accountId", account, "name", "Acme Renamed",
	                           "invitationExpiryHours", 48)));
	did("settings.update", owner, account, NULL);

	json_t *inv = post(admin, "InvitationService/CreateInvitations",
	                   json_pack("{s:s, s:{s:b}, s:s, s:[s]}", "accountId", account, "scope",
	                             "organization", 1, "role", "ROLE_MEMBER", "emails",
	                             "carol@example.org"));
	invitation_id = us_arena_strdup(
	        A, jstr(json_array_get(json_object_get(inv, "results"), 0), "invitationId", NULL));
	json_decref(inv);
	assert_string_not_equal(invitation_id, "");
	did("invitation.create", owner, invitation_id, "carol@example.org");
	json_decref(post(admin, "InvitationService/Reinvite",
	                 json_pack("{s:s}", "invitationId", invitation_id)));
	did("invitation.resend", owner, invitation_id, "carol@example.org");
	json_decref(post(admin, "InvitationService/Revoke",
	                 json_pack("{s:s}", "invitationId", invitation_id)));
	did("invitation.revoke", owner, invitation_id, "carol@example.org");

	json_t *link = post(admin, "InvitationService/EnableLink",
	                    json_pack("{s:s}", "accountId", account));
	link_id = us_arena_strdup(A, jstr(link, "link", "id"));
	json_decref(link);
	did("link.enable", owner, link_id, NULL);
	json_decref(post(admin, "InvitationService/DeleteLink", json_pack("{s:s}", "accountId", account)));
	did("link.delete", owner, link_id, NULL);

	Usher__V1__CreatePrincipalRequest cp = USHER__V1__CREATE_PRINCIPAL_REQUEST__INIT;
	cp.name = "billing-sync";
	cp.account_ids = &account;
	cp.n_account_ids = 1;
	char *methods[] = {"usher.v1.TenancyService/Check"};
	cp.methods = methods;
	cp.n_methods = 1;
	cp.public_key = public_key_hex();
	principal_id = principal_call("CreatePrincipal", &cp.base)->id;
	did("principal.create", NULL, principal_id, NULL);
	Usher__V1__RotatePrincipalKeyRequest rk = USHER__V1__ROTATE_PRINCIPAL_KEY_REQUEST__INIT;
	rk.principal = principal_id;
	rk.public_key = public_key_hex();
	principal_call("RotatePrincipalKey", &rk.base);
	did("principal.key.add", NULL, principal_id, NULL);
	Usher__V1__PrincipalRef ref = USHER__V1__PRINCIPAL_REF__INIT;
	ref.principal = principal_id;
	principal_call("FinishKeyRotation", &ref.base);
	did("principal.key.retire", NULL, principal_id, NULL);
	principal_call("RevokePrincipal", &ref.base);
	did("principal.revoke", NULL, principal_id, NULL);

	json_decref(post(admin, "TenancyService/Remove",
	                 json_pack("{s:s, s:s}", "accountId", account, "userId", bob)));
	did("member.remove", owner, bob, NULL);
	assert_int_equal(ut_count_memberships(&sys, A, account, bob), 0);
	now_text(ended_at, sizeof(ended_at));

	/* Every daemon's part, merged: usherctl reads all three (as the operator). */
	char *out = NULL;
	assert_int_equal(ctl(&out, "--json", "audit", "list", account, "--limit", "500", NULL), 0);
	json_error_t jerr;
	json_t *doc = json_loads(out, 0, &jerr);
	free(out);
	assert_non_null(doc);
	json_t *entries = json_object_get(doc, "entries");
	assert_int_equal(json_array_size(entries), n_walk);
	/* Newest first: the walk read backwards (two changes in the same millisecond are
	 * ordered by id, so either may come first). */
	for (size_t i = 0; i < n_walk; i++) {
		const done *w = &walk[i];
		const json_t *e = json_array_get(entries, n_walk - 1 - i);
		const char *at = jstr(e, "createdAt", NULL);
		for (size_t k = 0; k < n_walk && strcmp(jstr(e, "action", NULL), w->action) != 0; k++) {
			const json_t *other = json_array_get(entries, k);
			if (strcmp(jstr(other, "createdAt", NULL), at) == 0 &&
			    strcmp(jstr(other, "action", NULL), w->action) == 0 &&
			    strcmp(jstr(other, "subjectId", NULL), w->subject) == 0)
				e = other;
		}
		if (strcmp(jstr(e, "action", NULL), w->action) != 0)
			fail_msg("entry %zu: action %s, expected %s", i, jstr(e, "action", NULL), w->action);
		assert_string_equal(jstr(e, "accountId", NULL), account);
		assert_string_equal(jstr(e, "subjectId", NULL), w->subject);
		assert_string_equal(jstr(e, "actorUserId", NULL), w->actor ? w->actor : "");
		/* A person acts through the gateway; the walk's other changes are the test's own. */
		assert_string_equal(jstr(e, "actorCaller", NULL),
		                    w->caller ? w->caller : w->actor ? "usher-gatewayd" : "test");
		assert_string_equal(jstr(e, "subjectEmail", NULL), w->email ? w->email : "");
		at = jstr(e, "createdAt", NULL);
		if (strcmp(at, started_at) < 0 || strcmp(at, ended_at) > 0)
			fail_msg("%s at %s, outside the walk (%s to %s)", w->action, at, started_at,
			         ended_at);
	}
	/* The role change says what changed. */
	const char *detail = NULL;
	for (size_t k = 0; k < n_walk; k++)
		if (strcmp(jstr(json_array_get(entries, k), "action", NULL), "member.role.change") == 0)
			detail = jstr(json_array_get(entries, k), "detail", NULL);
	assert_non_null(detail);
	assert_string_equal(detail, "role member -> moderator");
	json_decref(doc);
}

/* The HTTP API: the owner reads tenancyd's and invitationd's rows (not the principals',
 * which are operators' business), page by page, filtered, and as CSV. */
static void test_gateway_pages_filters_and_csv(void **state)
{
	(void)state;
	size_t want = 0;
	for (size_t i = 0; i < n_walk; i++)
		want += strncmp(walk[i].action, "principal.", 10) != 0;
	char path[400];
	snprintf(path, sizeof(path), "/accounts/%s/audit?page_size=500", account);
	json_t *all = get(admin, path, 200, NULL);
	json_t *entries = json_object_get(all, "entries");
	assert_int_equal(json_array_size(entries), want);

	/* Pages of three, followed by token, give the same list. */
	size_t seen = 0;
	const char *token = "";
	json_t *page = NULL;
	for (int guard = 0; guard < 20; guard++) {
		snprintf(path, sizeof(path), "/accounts/%s/audit?page_size=3&page_token=%s", account,
		         token);
		json_t *next = get(admin, path, 200, NULL);
		json_t *items = json_object_get(next, "entries");
		for (size_t i = 0; i < json_array_size(items); i++, seen++)
			assert_string_equal(jstr(json_array_get(items, i), "id", NULL),
			                    jstr(json_array_get(entries, seen), "id", NULL));
		json_decref(page);
		page = next;
		token = jstr(page, "nextPageToken", NULL);
		if (token[0] == '\0')
			break;
	}
	json_decref(page);
	assert_int_equal(seen, want);

	/* Filters: by action prefix, by subject, by time. */
	snprintf(path, sizeof(path), "/accounts/%s/audit?action=member.&subject=%s", account, bob);
	json_t *f = get(admin, path, 200, NULL);
	assert_int_equal(json_array_size(json_object_get(f, "entries")), 7);
	json_decref(f);
	snprintf(path, sizeof(path), "/accounts/%s/audit?action=invitation.revoke", account);
	f = get(admin, path, 200, NULL);
	assert_int_equal(json_array_size(json_object_get(f, "entries")), 1);
	json_decref(f);
	snprintf(path, sizeof(path), "/accounts/%s/audit?actor=%s", account, owner);
	f = get(admin, path, 200, NULL);
	assert_int_equal(json_array_size(json_object_get(f, "entries")), want - 2);
	json_decref(f);
	snprintf(path, sizeof(path), "/accounts/%s/audit?until=%s", account, started_at);
	f = get(admin, path, 200, NULL);
	assert_int_equal(json_array_size(json_object_get(f, "entries")), 0);
	json_decref(f);
	snprintf(path, sizeof(path), "/accounts/%s/audit?since=tomorrow", account);
	json_decref(get(admin, path, 400, NULL));

	/* CSV: the same entries in the same order. */
	char *csv;
	snprintf(path, sizeof(path), "/accounts/%s/audit?format=csv", account);
	get(admin, path, 200, &csv);
	assert_true(strncmp(csv, "created_at,account_id,action,", 29) == 0);
	char ids[64][64];
	size_t n = csv_column(csv, 11, ids, 64);
	free(csv);
	assert_int_equal(n, want);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(ids[i], jstr(json_array_get(entries, i), "id", NULL));
	json_decref(all);

	/* A plain member may not read it; a stranger learns nothing either. */
	ut_browser *m = signed_in("mallory@acme.example");
	snprintf(path, sizeof(path), "/accounts/%s/audit", account);
	json_decref(get(m, path, 403, NULL));
	ut_browser_free(m);
}

/* usherctl's export is its list, as CSV, principals included. */
static void test_usherctl_export_matches_list(void **state)
{
	(void)state;
	char *out = NULL;
	assert_int_equal(ctl(&out, "--json", "audit", "list", account, "--limit", "500", NULL), 0);
	json_t *doc = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(doc);
	json_t *entries = json_object_get(doc, "entries");
	char *csv = NULL;
	assert_int_equal(ctl(&csv, "audit", "export", account, NULL), 0);
	char ids[64][64], actions[64][64];
	size_t n = csv_column(csv, 11, ids, 64);
	assert_int_equal(csv_column(csv, 2, actions, 64), n);
	free(csv);
	assert_int_equal(n, json_array_size(entries));
	assert_int_equal(n, n_walk);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(ids[i], jstr(json_array_get(entries, i), "id", NULL));
		assert_string_equal(actions[i], jstr(json_array_get(entries, i), "action", NULL));
	}
	json_decref(doc);
	/* The log is read as Usher itself: naming a person is a usage error. */
	assert_int_equal(ctl(&out, "--as", owner, "audit", "list", account, NULL), 2);
	free(out);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "audit");
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s/mail", sys.dir);
	sys.extra_env[0] = spool_setting;
	sys.extra_env[1] = "REINVITE_MIN_INTERVAL_S=0";
	ut_system_start_all(&sys);
	ut_system_export_urls(&sys);
	ut_bin("usherctl", bin, sizeof(bin));
	owner = ut_create_user(&sys, A, "olivia@acme.example", "Olivia Owner", PASSWORD);
	bob = ut_create_user(&sys, A, "bob@acme.example", "Bob Builder", PASSWORD);
	mallory = ut_create_user(&sys, A, "mallory@acme.example", "Mallory Member", PASSWORD);
	admin = signed_in("olivia@acme.example");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_browser_free(admin);
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_action_is_recorded),
		cmocka_unit_test(test_gateway_pages_filters_and_csv),
		cmocka_unit_test(test_usherctl_export_matches_list),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
