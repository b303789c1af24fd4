/* Logging in against a real usher-identityd and Postgres: unknown emails and wrong
 * passwords look alike, repeated failures wait a doubling backoff per email and client
 * network (a stranger elsewhere cannot lock the owner out), per network and per email
 * (networks that signed in before exempt), tokens never reach the database in clear, sessions end on logout, expiry and
 * password change, and stronger hashing parameters upgrade stored hashes at login. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "client.h"
#include "common/timestamp.h"
#include "common/token.h"

#define WRONG "not the password"
#define TOO_MANY "too many failed logins; try again in"

/* SIGTERM to exit, for a sanitized daemon on a loaded machine (the harness's own). */
#define RESTART_STOP_MS 60000

static ut_system *sys;
static us_rpc_client *client;

static void expect_login(const char *email, const char *password, const char *address,
                         us_err expect, const char *message)
{
	us_arena *a = us_arena_new();
	us_status st;
	us_err rc = idt_login(client, a, email, password, address, NULL, &st);
	if (rc != expect)
		fail_msg("login %s: expected %s, got %s \"%s\"", email, us_err_name(expect),
		         us_err_name(rc), st.message);
	if (message != NULL && strstr(st.message, message) == NULL)
		fail_msg("login %s: expected a message with \"%s\", got \"%s\"", email, message,
		         st.message);
	us_status_clear(&st);
	us_arena_free(a);
}

static const char *login(us_arena *a, const char *email, const char *password)
{
	Usher__V1__LoginReply *r = NULL;
	us_err rc = idt_login(client, a, email, password, NULL, &r, NULL);
	if (rc != US_OK)
		fail_msg("login %s: %s", email, us_err_name(rc));
	return r->session_token;
}

static void test_unknown_email_and_wrong_password_look_alike(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "known@example.com");
	us_status wrong, unknown;
	assert_int_equal(idt_login(client, a, "known@example.com", WRONG, NULL, NULL, &wrong),
	                 US_EUNAUTHENTICATED);
	assert_int_equal(idt_login(client, a, "unknown@example.com", WRONG, NULL, NULL, &unknown),
	                 US_EUNAUTHENTICATED);
	assert_string_equal(wrong.message, "invalid email or password");
	assert_string_equal(unknown.message, wrong.message);
	assert_int_equal(wrong.n_violations, 0);
	assert_int_equal(unknown.n_violations, 0);
	us_status_clear(&wrong);
	us_status_clear(&unknown);

	/* The right password, in any case of the address, opens a session. */
	Usher__V1__LoginReply *r = NULL;
	assert_int_equal(idt_login(client, a, " Known@Example.com", IDT_PASSWORD, NULL, &r, NULL),
	                 US_OK);
	assert_int_equal(strlen(r->session_token), 43);
	assert_string_equal(r->user->email, "known@example.com");
	us_arena_free(a);
}

/* Moves every failure seconds into the past. */
static void age_login_failures(int seconds)
{
	char sql[160];
	snprintf(sql, sizeof(sql),
	         "UPDATE identity.login_throttle SET last_failure_at = last_failure_at - "
	         "make_interval(secs => %d)", seconds);
	idt_exec(sys, sql);
}

/* Issue 11, hole 14: five wrong passwords lock that email for that network only; the
 * owner elsewhere is not locked out by them. */
static void test_failures_throttle_the_email_from_that_network_only(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "target@example.com");
	idt_create_user(client, a, "bystander@example.com");
	for (int i = 0; i < 5; i++)
		expect_login("target@example.com", WRONG, "203.0.113.50", US_EUNAUTHENTICATED, NULL);
	/* From there even the right password is refused, without saying whether it was right. */
	expect_login("target@example.com", IDT_PASSWORD, "203.0.113.50", US_EEXHAUSTED, TOO_MANY);
	expect_login("TARGET@example.com", WRONG, "203.0.113.50", US_EEXHAUSTED, TOO_MANY);
	/* The owner, elsewhere, gets in; so does anyone else from that network. */
	expect_login("target@example.com", IDT_PASSWORD, "198.51.100.20", US_OK, NULL);
	expect_login("bystander@example.com", IDT_PASSWORD, "203.0.113.50", US_OK, NULL);

	/* Guesses at an address nobody has are throttled the same. */
	for (int i = 0; i < 5; i++)
		expect_login("ghost@example.com", WRONG, "203.0.113.51", US_EUNAUTHENTICATED, NULL);
	expect_login("ghost@example.com", WRONG, "203.0.113.51", US_EEXHAUSTED, TOO_MANY);

	/* Once the backoff has passed, the owner gets in from there too. */
	age_login_failures(3600);
	expect_login("target@example.com", IDT_PASSWORD, "203.0.113.50", US_OK, NULL);
	us_arena_free(a);
}

/* Past the limit each failure doubles the wait (LOGIN_BACKOFF_BASE_MS=60000 here). */
static void test_the_backoff_doubles(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "doubling@example.com");
	for (int i = 0; i < 5; i++)
		expect_login("doubling@example.com", WRONG, "203.0.113.60", US_EUNAUTHENTICATED, NULL);
	expect_login("doubling@example.com", WRONG, "203.0.113.60", US_EEXHAUSTED, TOO_MANY);
	age_login_failures(61);
	/* A minute on, one more guess is allowed; it fails, and now two minutes must pass. */
	expect_login("doubling@example.com", WRONG, "203.0.113.60", US_EUNAUTHENTICATED, NULL);
	expect_login("doubling@example.com", IDT_PASSWORD, "203.0.113.60", US_EEXHAUSTED, TOO_MANY);
	age_login_failures(61);
	expect_login("doubling@example.com", IDT_PASSWORD, "203.0.113.60", US_EEXHAUSTED, TOO_MANY);
	age_login_failures(60);
	expect_login("doubling@example.com", IDT_PASSWORD, "203.0.113.60", US_OK, NULL);
	us_arena_free(a);
}

/* Many networks guessing one email (LOGIN_MAX_FAILURES_PER_EMAIL=12 here) slow down
 * strangers, not a network the owner signed in from before. */
static void test_many_networks_at_one_email_spare_known_networks(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "popular@example.com");
	expect_login("popular@example.com", IDT_PASSWORD, "192.0.2.10", US_OK, NULL);
	for (int i = 0; i < 12; i++) {
		char address[32];
		snprintf(address, sizeof(address), "10.0.%d.1", i);
		expect_login("popular@example.com", WRONG, address, US_EUNAUTHENTICATED, NULL);
	}
	expect_login("popular@example.com", IDT_PASSWORD, "10.1.0.1", US_EEXHAUSTED, TOO_MANY);
	expect_login("popular@example.com", IDT_PASSWORD, "192.0.2.10", US_OK, NULL);
	us_arena_free(a);
}

static void test_a_successful_login_clears_the_count(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "forgetful@example.com");
	for (int i = 0; i < 4; i++)
		expect_login("forgetful@example.com", WRONG, NULL, US_EUNAUTHENTICATED, NULL);
	expect_login("forgetful@example.com", IDT_PASSWORD, NULL, US_OK, NULL);
	for (int i = 0; i < 4; i++)
		expect_login("forgetful@example.com", WRONG, NULL, US_EUNAUTHENTICATED, NULL);
	expect_login("forgetful@example.com", IDT_PASSWORD, NULL, US_OK, NULL);
	us_arena_free(a);
}

static void test_failures_from_one_client_address_are_throttled(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "shared@example.com");
	/* LOGIN_MAX_FAILURES_PER_ADDRESS=8: eight guesses, each at another address. */
	for (int i = 0; i < 8; i++) {
		char email[64];
		snprintf(email, sizeof(email), "sprayed%d@example.com", i);
		expect_login(email, WRONG, "203.0.113.7", US_EUNAUTHENTICATED, NULL);
	}
	expect_login("shared@example.com", IDT_PASSWORD, "203.0.113.7", US_EEXHAUSTED, TOO_MANY);
	expect_login("shared@example.com", IDT_PASSWORD, "203.0.113.8", US_OK, NULL);

	/* An IPv6 client is counted by its /64, however it spells its address. */
	for (int i = 0; i < 8; i++) {
		char email[64], address[64];
		snprintf(email, sizeof(email), "hopper%d@example.com", i);
		snprintf(address, sizeof(address), "2001:db8:0:7::%x", i + 1);
		expect_login(email, WRONG, address, US_EUNAUTHENTICATED, NULL);
	}
	expect_login("shared@example.com", IDT_PASSWORD, "2001:0db8:0000:0007:ffff::1", US_EEXHAUSTED,
	             TOO_MANY);
	expect_login("shared@example.com", IDT_PASSWORD, "2001:db8:0:8::1", US_OK, NULL);
	us_arena_free(a);
}

/* Every row of every table in the identity schema, as text, bytea in hex. */
static char *dump_schema(void)
{
	return idt_query(sys, "SET xmlbinary = hex; "
	                      "SELECT string_agg(d.row, E'\\n') FROM pg_tables t, "
	                      "LATERAL (SELECT x::text AS row FROM "
	                      "query_to_xml(format('SELECT * FROM identity.%I', t.tablename), "
	                      "true, false, '') AS x) d WHERE t.schemaname = 'identity'");
}

static void test_session_tokens_and_passwords_are_not_stored_in_clear(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "secretive@example.com");
	const char *token = login(a, "secretive@example.com", IDT_PASSWORD);
	uint8_t raw[32];
	size_t len = 0;
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), token, strlen(token), NULL, &len, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	                 0);
	char hex[65];
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	/* What is stored instead: the hash keyed with IDENTITY_TOKEN_KEY. */
	uint8_t key[US_TOKEN_KEY_BYTES], hash[US_TOKEN_HASH_BYTES];
	assert_int_equal(us_token_key_from_hex(sys->identity_token_key, key), 0);
	assert_int_equal(us_token_hash(token, key, hash), US_OK);
	char hash_hex[65];
	sodium_bin2hex(hash_hex, sizeof(hash_hex), hash, sizeof(hash));

	char *dump = dump_schema();
	assert_null(strstr(dump, token));
	assert_null(strstr(dump, IDT_PASSWORD));
	for (char *p = dump; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	assert_null(strstr(dump, hex));
	/* The dump does reach the session's row. */
	assert_non_null(strstr(dump, hash_hex));
	free(dump);
	assert_int_equal(idt_resolve(client, a, token), US_OK);
	us_arena_free(a);
}

static void test_resolve_session_and_logout(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "visitor@example.com");
	const char *token = login(a, "visitor@example.com", IDT_PASSWORD);

	Usher__V1__ResolveSessionRequest req = USHER__V1__RESOLVE_SESSION_REQUEST__INIT;
	req.session_token = (char *)token;
	ProtobufCMessage *reply = NULL;
	assert_int_equal(idt_call(client, IDT("ResolveSession"), NULL, &req.base,
	                          &usher__v1__resolve_session_reply__descriptor, a, &reply, NULL),
	                 US_OK);
	Usher__V1__ResolveSessionReply *r = (Usher__V1__ResolveSessionReply *)reply;
	assert_string_equal(r->user->id, u->id);
	assert_int_equal(strlen(r->session_id), 36);
	/* SESSION_TTL_HOURS defaults to 720: thirty days from now. */
	assert_null(us_timestamp_check(r->expires_at));
	struct tm tm = {0};
	assert_int_equal(sscanf(r->expires_at, "%d-%d-%dT%d:%d:%d.", &tm.tm_year, &tm.tm_mon,
	                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
	                 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	long long left = (long long)(timegm(&tm) - time(NULL));
	assert_true(left > 720 * 3600 - 120 && left <= 720 * 3600);

	Usher__V1__LogoutRequest out = USHER__V1__LOGOUT_REQUEST__INIT;
	out.session_token = (char *)token;
	assert_int_equal(idt_call(client, IDT("Logout"), NULL, &out.base,
	                          &usher__v1__logout_reply__descriptor, a, NULL, NULL),
	                 US_OK);
	assert_int_equal(idt_resolve(client, a, token), US_EUNAUTHENTICATED);
	/* Ending it again is not an error. */
	assert_int_equal(idt_call(client, IDT("Logout"), NULL, &out.base,
	                          &usher__v1__logout_reply__descriptor, a, NULL, NULL),
	                 US_OK);
	us_arena_free(a);
}

static void test_an_expired_session_is_refused(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "sleepy@example.com");
	const char *token = login(a, "sleepy@example.com", IDT_PASSWORD);
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "UPDATE identity.sessions SET expires_at = now() - interval '1 second' "
	         "WHERE user_id = '%s'",
	         u->id);
	idt_exec(sys, sql);
	assert_int_equal(idt_resolve(client, a, token), US_EUNAUTHENTICATED);
	us_arena_free(a);
}

static us_err change_password(us_arena *a, const char *actor, const char *current,
                              const char *next, const char *keep, us_status *st)
{
	Usher__V1__ChangePasswordRequest req = USHER__V1__CHANGE_PASSWORD_REQUEST__INIT;
	req.current_password = (char *)current;
	req.new_password = (char *)next;
	req.keep_session_token = (char *)keep;
	idt_opts o = {.actor = actor, .key = idt_key(a)};
	return idt_call(client, IDT("ChangePassword"), &o, &req.base,
	                &usher__v1__change_password_reply__descriptor, a, NULL, st);
}

static void test_change_password_needs_the_current_one_and_ends_other_sessions(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "mover@example.com");
	const char *laptop = login(a, "mover@example.com", IDT_PASSWORD);
	const char *phone = login(a, "mover@example.com", IDT_PASSWORD);
	const char *kiosk = login(a, "mover@example.com", IDT_PASSWORD);

	us_status st;
	assert_int_equal(change_password(a, u->id, WRONG, "a brand new secret", laptop, &st),
	                 US_EDENIED);
	assert_string_equal(st.message, "current password is not correct");
	us_status_clear(&st);
	assert_int_equal(idt_resolve(client, a, phone), US_OK);
	expect_login("mover@example.com", "a brand new secret", NULL, US_EUNAUTHENTICATED, NULL);

	assert_int_equal(change_password(a, u->id, IDT_PASSWORD, "a brand new secret", laptop, NULL),
	                 US_OK);
	assert_int_equal(idt_resolve(client, a, laptop), US_OK);
	assert_int_equal(idt_resolve(client, a, phone), US_EUNAUTHENTICATED);
	assert_int_equal(idt_resolve(client, a, kiosk), US_EUNAUTHENTICATED);
	expect_login("mover@example.com", IDT_PASSWORD, NULL, US_EUNAUTHENTICATED, NULL);
	expect_login("mover@example.com", "a brand new secret", NULL, US_OK, NULL);
	us_arena_free(a);
}

static char *stored_hash(const char *user_id)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT password_hash FROM identity.users WHERE id = '%s'",
	         user_id);
	return idt_query(sys, sql);
}

/* Last: it restarts the daemon with stronger parameters (and the test before, keys). */
static void test_login_rehashes_when_parameters_rise(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "veteran@example.com");
	const char *before = login(a, "veteran@example.com", IDT_PASSWORD);
	char *hash = stored_hash(u->id);
	assert_non_null(strstr(hash, "$m=65536,t=2,"));
	free(hash);

	us_rpc_client_close(client);
	assert_int_not_equal(ut_system_signal(sys, UT_IDENTITY, SIGTERM, RESTART_STOP_MS, NULL), -1);
	sys->extra_env[1] = "PASSWORD_OPSLIMIT=3";
	ut_system_start(sys, UT_IDENTITY);
	client = idt_connect(sys);

	expect_login("veteran@example.com", IDT_PASSWORD, NULL, US_OK, NULL);
	hash = stored_hash(u->id);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_non_null(strstr(hash, "$m=65536,t=3,"));
	free(hash);
	expect_login("veteran@example.com", IDT_PASSWORD, NULL, US_OK, NULL);
	/* The session from before the restart lives on. */
	assert_int_equal(idt_resolve(client, a, before), US_OK);
	us_arena_free(a);
}

static void restart_identity(void)
{
	us_rpc_client_close(client);
	assert_int_not_equal(ut_system_signal(sys, UT_IDENTITY, SIGTERM, RESTART_STOP_MS, NULL), -1);
	ut_system_start(sys, UT_IDENTITY);
	client = idt_connect(sys);
}

static us_err logout(us_arena *a, const char *token)
{
	Usher__V1__LogoutRequest req = USHER__V1__LOGOUT_REQUEST__INIT;
	req.session_token = (char *)token;
	return idt_call(client, IDT("Logout"), NULL, &req.base, &usher__v1__logout_reply__descriptor,
	                a, NULL, NULL);
}

/* Rotating IDENTITY_TOKEN_KEY: sessions from before stay valid while the old key is listed
 * in IDENTITY_PREVIOUS_TOKEN_KEYS with a time to come (and can be ended), new ones get the
 * new key; once that time has passed, the old sessions are refused and the new ones are
 * not. Last but one: it restarts the daemon with other keys. */
static void test_sessions_outlive_a_key_rotation_until_the_old_key_expires(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	idt_create_user(client, a, "rotating@example.com");
	const char *before = login(a, "rotating@example.com", IDT_PASSWORD);
	const char *ended = login(a, "rotating@example.com", IDT_PASSWORD);

	static char previous[200];
	snprintf(previous, sizeof(previous), "IDENTITY_PREVIOUS_TOKEN_KEYS=%s@2999-01-01T00:00:00Z",
	         sys->identity_token_key);
	sys->extra_env[4] =
	        "IDENTITY_TOKEN_KEY=a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
	sys->extra_env[5] = previous;
	restart_identity();
	assert_int_equal(idt_resolve(client, a, before), US_OK);
	const char *after = login(a, "rotating@example.com", IDT_PASSWORD);
	assert_int_equal(idt_resolve(client, a, after), US_OK);
	/* The new session's hash is the new key's: it is not found under the old key. */
	uint8_t old_key[US_TOKEN_KEY_BYTES], hash[US_TOKEN_HASH_BYTES];
	char hash_hex[65], sql[200];
	assert_int_equal(us_token_key_from_hex(sys->identity_token_key, old_key), 0);
	assert_int_equal(us_token_hash(after, old_key, hash), US_OK);
	sodium_bin2hex(hash_hex, sizeof(hash_hex), hash, sizeof(hash));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM identity.sessions WHERE token_hash = "
	                           "decode('%s', 'hex')", hash_hex);
	assert_int_equal(idt_count(sys, sql), 0);
	/* A session from before the rotation can still be ended. */
	assert_int_equal(logout(a, ended), US_OK);
	assert_int_equal(idt_resolve(client, a, ended), US_EUNAUTHENTICATED);

	/* The old key's time is up: what it hashed opens nothing any more. */
	snprintf(previous, sizeof(previous), "IDENTITY_PREVIOUS_TOKEN_KEYS=%s@2001-01-01T00:00:00Z",
	         sys->identity_token_key);
	restart_identity();
	assert_int_equal(idt_resolve(client, a, before), US_EUNAUTHENTICATED);
	assert_int_equal(idt_resolve(client, a, after), US_OK);
	us_arena_free(a); /* the daemon keeps the new key for the test after */
}

static int setup(void **state)
{
	(void)state;
	sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "identity_login");
	sys->extra_env[0] = "LOGIN_MAX_FAILURES_PER_ADDRESS=8";
	sys->extra_env[1] = "PASSWORD_OPSLIMIT=2";
	sys->extra_env[2] = "LOGIN_MAX_FAILURES_PER_EMAIL=12";
	sys->extra_env[3] = "LOGIN_BACKOFF_BASE_MS=60000";
	ut_system_start(sys, UT_IDENTITY);
	client = idt_connect(sys);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_rpc_client_close(client);
	ut_system_teardown(sys);
	free(sys);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_email_and_wrong_password_look_alike),
		cmocka_unit_test(test_failures_throttle_the_email_from_that_network_only),
		cmocka_unit_test(test_the_backoff_doubles),
		cmocka_unit_test(test_many_networks_at_one_email_spare_known_networks),
		cmocka_unit_test(test_a_successful_login_clears_the_count),
		cmocka_unit_test(test_failures_from_one_client_address_are_throttled),
		cmocka_unit_test(test_session_tokens_and_passwords_are_not_stored_in_clear),
		cmocka_unit_test(test_resolve_session_and_logout),
		cmocka_unit_test(test_an_expired_session_is_refused),
		cmocka_unit_test(test_change_password_needs_the_current_one_and_ends_other_sessions),
		cmocka_unit_test(test_sessions_outlive_a_key_rotation_until_the_old_key_expires),
		cmocka_unit_test(test_login_rehashes_when_parameters_rise),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
