#define _GNU_SOURCE /* memmem */
/* No raw token at rest (issue 11, "Done when"): full pg_dumps of the test database, taken
 * while a 1,500-invitation batch is relayed, while its emails wait in the queue, and after
 * links, joins, password resets, an email change and a service principal have been used,
 * hold none of the secrets the test saw: invitation tokens from the emails, permanent-link
 * tokens, join confirmation, password reset and email change tokens, session tokens, the
 * service principal's secrets (created, used over NNG and as an API key, rotated) and
 * every RPC signing key (each daemon's and the test's own). Each is searched as written,
 * as the hex, standard base64 and base64url of its 32 bytes, and as the hex and base64 of
 * its text (how it would show inside a bytea or an encoded blob). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "common/caller_key.h"
#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"
#include "common/token.h"
#include "usher/v1/tenancy.pb-c.h"

#define PASSWORD "correct horse battery"
#define BATCH 1500
#define JOINS 3
#define WAIT_MS 120000

static ut_system sys;
static char spool[200];
static us_arena *A;
static char *owner, *account, *sub;

/* --- the secrets seen --- */

#define SECRET_BYTES 32

typedef struct seen {
	const char *kind;
	char *text;                /* as it was handed out */
	uint8_t raw[SECRET_BYTES]; /* the random bytes it stands for */
} seen;

static seen *tokens;
static size_t n_tokens, cap_tokens;

static void remember(const char *kind, const char *text, const uint8_t raw[SECRET_BYTES])
{
	if (n_tokens == cap_tokens) {
		cap_tokens = cap_tokens ? cap_tokens * 2 : 2048;
		tokens = realloc(tokens, cap_tokens * sizeof(*tokens));
	}
	seen *t = &tokens[n_tokens++];
	*t = (seen){kind, us_arena_strdup(A, text), {0}};
	memcpy(t->raw, raw, SECRET_BYTES);
}

/* A token handed to a person: 32 bytes in base64url. */
static void saw(const char *kind, const char *token)
{
	uint8_t raw[SECRET_BYTES];
	size_t raw_len = 0;
	if (token == NULL || strlen(token) != US_TOKEN_TEXT_LEN ||
	    sodium_base642bin(raw, sizeof(raw), token, strlen(token), NULL, &raw_len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    raw_len != SECRET_BYTES)
		fail_msg("not a token (%s): %s", kind, token ? token : "(null)");
	remember(kind, token, raw);
}

/* A caller key's secret: its 32-byte seed in hex, after "usk_" or not. */
static void saw_key(const char *kind, const char *secret)
{
	const char *hex = secret != NULL && strncmp(secret, US_CALLER_SECRET_PREFIX,
	                                            strlen(US_CALLER_SECRET_PREFIX)) == 0
	                          ? secret + strlen(US_CALLER_SECRET_PREFIX)
	                          : secret;
	uint8_t raw[SECRET_BYTES];
	size_t raw_len = 0;
	if (hex == NULL || strlen(hex) != 2 * SECRET_BYTES ||
	    sodium_hex2bin(raw, sizeof(raw), hex, strlen(hex), NULL, &raw_len, NULL) != 0 ||
	    raw_len != SECRET_BYTES)
		fail_msg("not a key (%s)", kind);
	remember(kind, secret, raw);
}

/* --- the dumps --- */

typedef struct dump {
	const char *when;
	char *text;
	size_t len;
} dump;

static dump dumps[3];
static size_t n_dumps;

/* A dump of every service's database (one per cluster, or the one they share), one
 * after the other. */
static void take_dump(const char *when)
{
	char *all = NULL;
	size_t len = 0;
	for (int i = UT_IDENTITY; i <= UT_NOTIFICATION; i++) {
		if (!ut_system_db_first(&sys, i))
			continue;
		const ut_db *db = ut_system_db(&sys, i);
		char url[512];
		snprintf(url, sizeof(url), "postgresql://usher_admin:%s@/%s?host=%s&port=%s",
		         db->admin_password, db->name, db->host, db->port);
		char *argv[] = {"/usr/bin/env", "pg_dump", "--no-owner", "--dbname", url, NULL};
		char *out = NULL;
		int status = ut_run(argv, NULL, false, &out);
		if (status != 0 || out == NULL)
			fail_msg("pg_dump failed (%d)", status);
		size_t n = strlen(out);
		all = realloc(all, len + n + 1);
		assert_non_null(all);
		memcpy(all + len, out, n + 1);
		len += n;
		free(out);
	}
	dumps[n_dumps++] = (dump){when, all, len};
}

/* --- searching: every needle of one length in one pass (Rabin-Karp) --- */

typedef struct needle {
	uint64_t hash;
	const char *text;
	size_t token; /* index into tokens */
	const char *form;
} needle;

static int by_hash(const void *a, const void *b)
{
	const needle *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

#define BASE 1099511628211ULL

static uint64_t hash_of(const char *s, size_t len)
{
	uint64_t h = 0;
	for (size_t i = 0; i < len; i++)
		h = h * BASE + (unsigned char)s[i];
	return h;
}

/* The first needle with hash h (needles sorted), or n. */
static size_t lower_bound(const needle *needles, size_t n, uint64_t h)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (needles[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Reports every needle of length len found in the dump (a rolling hash over its windows,
 * each candidate compared in full); returns how many were found. */
static size_t scan(const dump *d, needle *needles, size_t n, size_t len)
{
	if (d->len < len || n == 0)
		return 0;
	qsort(needles, n, sizeof(needle), by_hash);
	uint64_t top = 1; /* BASE^(len-1) */
	for (size_t i = 1; i < len; i++)
		top *= BASE;
	size_t hits = 0;
	uint64_t h = hash_of(d->text, len);
	for (size_t at = 0;; at++) {
		for (size_t i = lower_bound(needles, n, h); i < n && needles[i].hash == h; i++) {
			if (memcmp(d->text + at, needles[i].text, len) != 0)
				continue;
			size_t from = at > 100 ? at - 100 : 0;
			print_error("the %s dump holds a %s secret (%s) at byte %zu: ...%.*s...\n", d->when,
			            tokens[needles[i].token].kind, needles[i].form, at,
			            (int)(at - from + len + 40), d->text + from);
			hits++;
		}
		if (at + len >= d->len)
			break;
		h = (h - (unsigned char)d->text[at] * top) * BASE + (unsigned char)d->text[at + len];
	}
	return hits;
}

static char *hex_of(const void *bytes, size_t n)
{
	char *out = us_arena_alloc(A, 2 * n + 1);
	sodium_bin2hex(out, 2 * n + 1, bytes, n);
	return out;
}

static char *b64_of(const void *bytes, size_t n, int variant)
{
	size_t len = sodium_base64_ENCODED_LEN(n, variant);
	char *out = us_arena_alloc(A, len);
	sodium_bin2base64(out, len, bytes, n, variant);
	return out;
}

/* Every form of every secret, grouped by length, searched in every dump; the hits. */
static size_t search_all(void)
{
	enum { FORMS = 7, LENGTHS_MAX = 16 };
	struct group {
		size_t len, n;
		needle *needles;
	} groups[LENGTHS_MAX] = {{0}};
	size_t n_groups = 0;
	for (size_t i = 0; i < n_tokens; i++) {
		const char *t = tokens[i].text;
		const uint8_t *raw = tokens[i].raw;
		const char *forms[FORMS][2] = {
			{"as written", t},
			{"hex of its bytes", hex_of(raw, SECRET_BYTES)},
			{"base64 of its bytes", b64_of(raw, SECRET_BYTES, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)},
			{"base64url of its bytes", b64_of(raw, SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)},
			{"hex of its text", hex_of(t, strlen(t))},
			{"base64 of its text", b64_of(t, strlen(t), sodium_base64_VARIANT_ORIGINAL_NO_PADDING)},
			{"base64url of its text", b64_of(t, strlen(t), sodium_base64_VARIANT_URLSAFE_NO_PADDING)},
		};
		for (int f = 0; f < FORMS; f++) {
			/* A token as written is base64url of its bytes: search each text once. */
			bool again = false;
			for (int e = 0; e < f && !again; e++)
				again = strcmp(forms[e][1], forms[f][1]) == 0;
			if (again)
				continue;
			size_t len = strlen(forms[f][1]), g = 0;
			while (g < n_groups && groups[g].len != len)
				g++;
			if (g == n_groups) {
				assert_true(n_groups < LENGTHS_MAX);
				groups[n_groups++] = (struct group){len, 0, calloc(n_tokens * FORMS, sizeof(needle))};
			}
			groups[g].needles[groups[g].n++] =
			        (needle){hash_of(forms[f][1], len), forms[f][1], i, forms[f][0]};
		}
	}
	size_t hits = 0;
	for (size_t d = 0; d < n_dumps; d++) {
		for (size_t g = 0; g < n_groups; g++)
			hits += scan(&dumps[d], groups[g].needles, groups[g].n, groups[g].len);
	}
	for (size_t g = 0; g < n_groups; g++)
		free(groups[g].needles);
	return hits;
}

/* --- driving the system --- */

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

/* The session token a reply set in its cookie, recorded; NULL when none. */
static char *session_cookie(const ut_reply *r)
{
	const char *p = strstr(r->headers, "usher_session=");
	if (p == NULL || p[14] == ';')
		return NULL;
	p += strlen("usher_session=");
	char *token = us_arena_strndup(A, p, strcspn(p, ";\r\n"));
	saw("session", token);
	return token;
}

static ut_browser *sign_in(const char *email, const char *password)
{
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	post_json(b, "/login", json_pack("{s:s, s:s}", "email", email, "password", password), &r);
	expect(&r, 200);
	session_cookie(&r);
	ut_browser_set_csrf(b, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return b;
}

/* The token in the nth email to recipient (subject prefix) linking to /<path>/. */
static char *mailed_token(const char *recipient, const char *subject, const char *path,
                          size_t nth)
{
	ut_email mail;
	if (!ut_wait_email(spool, A, recipient, subject, nth, WAIT_MS, &mail))
		fail_msg("no email #%zu to %s", nth, recipient);
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
	char needle_text[64];
	snprintf(needle_text, sizeof(needle_text), "/%s/", path);
	const char *p = strstr(flat, needle_text);
	if (p == NULL)
		fail_msg("the email to %s has no %s link", recipient, needle_text);
	return us_arena_strndup(A, p + strlen(needle_text), US_TOKEN_TEXT_LEN);
}

static char *enable_link(ut_browser *b, const char *subaccount)
{
	json_t *body = json_pack("{s:s}", "accountId", account);
	if (subaccount != NULL)
		json_object_set_new(body, "subaccountId", json_string(subaccount));
	ut_reply r;
	post_json(b, "/rpc/usher.v1.InvitationService/EnableLink", body, &r);
	expect(&r, 200);
	const char *url = json_string_value(json_object_get(json_object_get(r.json, "link"), "url"));
	char *token = us_arena_strdup(A, strstr(url, "/l/") + 3);
	ut_reply_free(&r);
	saw("permanent link", token);
	return token;
}

/* --- the service principal --- */

#define PRINCIPAL "at-rest-sync"

/* Runs usherctl --json with args (NULL-terminated) as the operator (this process's
 * key); its output. */
static json_t *usherctl_json(const char *const *args)
{
	char bin[512];
	ut_bin("usherctl", bin, sizeof(bin));
	char *argv[16] = {bin, "--json"};
	size_t n = 2;
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	char *out = NULL;
	int status = ut_run(argv, NULL, false, &out);
	if (status != 0)
		fail_msg("usherctl %s: exit %d: %s", args[0], status, out);
	json_t *doc = json_loads(out, 0, NULL);
	if (doc == NULL)
		fail_msg("usherctl %s: not JSON", args[0]);
	free(out);
	return doc;
}

/* The secret a "principals create" or "rotate" showed, recorded; its key into *key. */
static char *principal_secret(json_t *doc, us_caller_key *key)
{
	const char *secret = json_string_value(json_object_get(doc, "secret"));
	if (secret == NULL || us_caller_key_parse(secret, key) != 0)
		fail_msg("usherctl showed no secret");
	char *kept = us_arena_strdup(A, secret);
	json_decref(doc);
	saw_key("service principal", kept);
	return kept;
}

/* The principal at work with key (secret): Check over NNG, signed with the key, and an
 * invitation of invitee over HTTP, with the secret as API key. */
static void use_principal(const us_caller_key *key, const char *secret, const char *invitee)
{
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts opts = {.url = sys.daemons[UT_TENANCY].url, .caller = "tokens_at_rest_test",
	                           .key = key};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	Usher__V1__CheckRequest check = USHER__V1__CHECK_REQUEST__INIT;
	check.user_id = owner;
	check.account_id = account;
	check.action = "member.invite";
	us_rpc_call_opts call = {.timeout_ms = 20000};
	ProtobufCMessage *out;
	us_status st;
	us_err rc = us_rpc_call(c, "usher.v1.TenancyService/Check", &call, &check.base,
	                        &usher__v1__check_reply__descriptor, A, &out, &st);
	us_rpc_client_close(c);
	if (rc != US_OK || !((Usher__V1__CheckReply *)out)->allowed)
		fail_msg("Check as the principal: %s %s", us_err_name(rc), st.message);
	us_status_clear(&st);

	ut_browser *b = ut_browser_new(&sys);
	char *bearer = us_arena_printf(A, "Authorization: Bearer %s", secret);
	ut_browser_add_header(b, bearer);
	ut_reply r;
	post_json(b, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          json_pack("{s:s, s:{s:b}, s:s, s:[s]}", "accountId", account, "scope",
	                    "organization", 1, "role", "ROLE_MEMBER", "emails", invitee),
	          &r);
	expect(&r, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "created")), 1);
	ut_reply_free(&r);
	ut_browser_free(b);
}

static long long sql_number(const char *sql)
{
	PGconn *c = ut_db_admin(ut_system_db(&sys, UT_NOTIFICATION)); /* the emails */
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	long long n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return n;
}

static void wait_for(const char *what, const char *sql, long long at_least)
{
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	while (sql_number(sql) < at_least) {
		if (us_monotonic_ms() > deadline)
			fail_msg("waited in vain for %s (%lld of %lld)", what, sql_number(sql), at_least);
		usleep(100 * 1000);
	}
}

static void test_no_raw_token_at_rest(void **state)
{
	(void)state;
	/* The scanner finds what is there, in each form. */
	char probe_token[US_TOKEN_TEXT_LEN + 1];
	us_token_new(probe_token);
	saw("self-check", probe_token);
	us_caller_key probe_key;
	char probe_secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&probe_key, probe_secret);
	us_caller_key_wipe(&probe_key);
	saw_key("self-check key", probe_secret);
	char *probe = us_arena_printf(A, "x %s y \\x%s z \\x%s w", probe_token,
	                              hex_of(probe_token, strlen(probe_token)),
	                              probe_secret + strlen(US_CALLER_SECRET_PREFIX));
	dumps[0] = (dump){"self-check", probe, strlen(probe)};
	n_dumps = 1;
	print_message("(the self-check below must find the token twice and the key once)\n");
	assert_true(search_all() >= 3);
	n_dumps = 0;
	n_tokens = 0;

	/* The keys every RPC is signed with: each daemon's, and this process's (the operator). */
	for (int i = 0; i < UT_N_DAEMONS; i++)
		saw_key("RPC signing key", sys.signing_keys[i]);
	saw_key("operator's caller key", getenv("USHER_CALLER_KEY"));

	ut_browser *owner_b = sign_in("owner@rest.example", PASSWORD);
	char *org_link = enable_link(owner_b, NULL);
	enable_link(owner_b, sub);

	/* A service principal, at work before the batch. */
	us_caller_key first_key, second_key;
	const char *create[] = {"principals", "create", PRINCIPAL, "--accounts", account,
	                        "--methods", "usher.v1.TenancyService/Check,"
	                                     "usher.v1.InvitationService/CreateInvitations",
	                        "--max-role", "member", NULL};
	char *first_secret = principal_secret(usherctl_json(create), &first_key);
	use_principal(&first_key, first_secret, "service0@principal.example");

	/* The batch: 1,500 addresses, relayed to a notificationd that only queues for now. */
	json_t *emails = json_array();
	for (int i = 0; i < BATCH; i++) {
		char email[64];
		snprintf(email, sizeof(email), "person%d@batch.example", i);
		json_array_append_new(emails, json_string(email));
	}
	ut_reply r;
	post_json(owner_b, "/rpc/usher.v1.InvitationService/CreateInvitations",
	          json_pack("{s:s, s:{s:b}, s:s, s:o}", "accountId", account, "scope", "organization",
	                    1, "role", "ROLE_MEMBER", "emails", emails),
	          &r);
	expect(&r, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "created")), BATCH);
	ut_reply_free(&r);
	take_dump("mid-batch");

	/* Joins through the link, password resets and an email change, all mailing links. */
	for (int i = 0; i < JOINS; i++) {
		char email[64], path[128];
		snprintf(email, sizeof(email), "joiner%d@join.example", i);
		snprintf(path, sizeof(path), "/l/%s/accept", org_link);
		ut_browser *b = ut_browser_new(&sys);
		post_json(b, path, json_pack("{s:s, s:s, s:s}", "email", email, "name", "Joiner",
		                             "password", PASSWORD),
		          &r);
		expect(&r, 202);
		ut_reply_free(&r);
		ut_browser_free(b);
	}
	ut_create_user(&sys, A, "forgetful@rest.example", "Forgetful", PASSWORD);
	const char *resets[] = {"forgetful@rest.example", "owner@rest.example"};
	for (int i = 0; i < 2; i++) {
		ut_browser *b = ut_browser_new(&sys);
		post_json(b, "/password-reset", json_pack("{s:s}", "email", resets[i]), &r);
		expect(&r, 200);
		ut_reply_free(&r);
		ut_browser_free(b);
	}
	post_json(owner_b, "/rpc/usher.v1.IdentityService/RequestEmailChange",
	          json_pack("{s:s, s:s}", "newEmail", "owner.moved@rest.example", "currentPassword",
	                    PASSWORD),
	          &r);
	expect(&r, 200);
	ut_reply_free(&r);

	/* Every email waits in the queue: links and all. */
	wait_for("the queued emails",
	         "SELECT count(*) FROM notification.messages WHERE state = 'queued'",
	         BATCH + JOINS + 2 + 1 + 1);
	take_dump("queued");

	/* Now deliver, and read every link from the spool. */
	assert_int_not_equal(ut_system_signal(&sys, UT_NOTIFICATION, SIGTERM, 20000, NULL), -1);
	sys.extra_env[0] = "DELIVERY_WORKERS=4";
	ut_system_start(&sys, UT_NOTIFICATION);
	wait_for("the delivered emails", "SELECT count(*) FROM notification.messages WHERE state = 'sent'",
	         BATCH + JOINS + 2 + 1 + 1);
	ut_email *invitations = US_ARENA_ARRAY(A, ut_email, BATCH);
	assert_int_equal(ut_list_emails(spool, A, "@batch.example", "Invitation", invitations, BATCH),
	                 BATCH);
	for (int i = 0; i < BATCH; i++)
		saw("invitation", invitations[i].token);
	char *joins[JOINS], *reset_tokens[2];
	for (int i = 0; i < JOINS; i++) {
		char email[64];
		snprintf(email, sizeof(email), "joiner%d@join.example", i);
		joins[i] = mailed_token(email, "Confirm your email address", "j", 0);
		saw("join confirmation", joins[i]);
	}
	for (int i = 0; i < 2; i++) {
		reset_tokens[i] = mailed_token(resets[i], "Reset your password", "password-reset", 0);
		saw("password reset", reset_tokens[i]);
	}
	char *change = mailed_token("owner.moved@rest.example", NULL, "email-change", 0);
	saw("email change", change);
	saw("invitation", mailed_token("service0@principal.example", "Invitation", "i", 0));

	/* The principal's key rotated: the new one at work, the old one retired. */
	const char *rotate[] = {"principals", "rotate", PRINCIPAL, "--overlap-hours", "1", NULL};
	char *second_secret = principal_secret(usherctl_json(rotate), &second_key);
	use_principal(&second_key, second_secret, "service1@principal.example");
	const char *finish[] = {"principals", "finish-rotation", PRINCIPAL, NULL};
	json_decref(usherctl_json(finish));
	saw("invitation", mailed_token("service1@principal.example", "Invitation", "i", 0));
	us_caller_key_wipe(&first_key);
	us_caller_key_wipe(&second_key);

	/* Use them: accepts (new users, signed in), declines, joins, resets, the change. */
	for (int i = 0; i < 5; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/i/%s/accept", invitations[i].token);
		ut_browser *b = ut_browser_new(&sys);
		post_json(b, path, json_pack("{s:s, s:s}", "name", "Newcomer", "password", PASSWORD), &r);
		expect(&r, 200);
		session_cookie(&r);
		ut_reply_free(&r);
		snprintf(path, sizeof(path), "/i/%s/decline", invitations[BATCH - 1 - i].token);
		ut_http(b, "POST", path, "", 0, NULL, &r);
		expect(&r, 200);
		ut_reply_free(&r);
		ut_browser_free(b);
	}
	for (int i = 0; i < JOINS; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/j/%s/confirm", joins[i]);
		ut_browser *b = ut_browser_new(&sys);
		post_json(b, path, json_object(), &r);
		expect(&r, 200);
		ut_reply_free(&r);
		ut_browser_free(b);
	}
	for (int i = 0; i < 2; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/password-reset/%s", reset_tokens[i]);
		ut_browser *b = ut_browser_new(&sys);
		post_json(b, path, json_pack("{s:s}", "password", "a fresh passphrase"), &r);
		expect(&r, 200);
		ut_reply_free(&r);
		ut_browser_free(b);
	}
	ut_browser *b = ut_browser_new(&sys);
	post_json(b, "/rpc/usher.v1.IdentityService/ConfirmEmailChange",
	          json_pack("{s:s}", "token", change), &r);
	expect(&r, 200);
	ut_reply_free(&r);
	ut_browser_free(b);
	ut_browser_free(sign_in("owner.moved@rest.example", "a fresh passphrase"));
	ut_browser_free(sign_in("forgetful@rest.example", "a fresh passphrase"));
	ut_browser_free(sign_in("joiner0@join.example", PASSWORD));
	take_dump("after");

	/* The dumps do hold the data around the tokens. */
	for (size_t d = 0; d < n_dumps; d++)
		assert_non_null(memmem(dumps[d].text, dumps[d].len, "person1499@batch.example", 24));
	print_message("%zu secrets, %zu dumps (%zu, %zu, %zu bytes)\n", n_tokens, n_dumps,
	              dumps[0].len, dumps[1].len, dumps[2].len);
	assert_int_equal(search_all(), 0);
	ut_browser_free(owner_b);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "at_rest");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	sys.extra_env[0] = "DELIVERY_WORKERS=0";
	ut_system_start_all(&sys);
	ut_system_export_urls(&sys);
	owner = ut_create_user(&sys, A, "owner@rest.example", "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "At Rest", "texting");
	sub = ut_create_subaccount(&sys, A, owner, account, "North");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t d = 0; d < n_dumps; d++)
		free(dumps[d].text);
	free(tokens);
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_raw_token_at_rest),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
