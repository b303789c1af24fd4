/* The signed-in user's profile against a real usher-identityd and Postgres: name and
 * phone, and the email change's guards. usher-notificationd is not started here, so a
 * request that passes its checks cannot queue its email and must leave nothing behind;
 * the confirmation is exercised with changes recorded straight in the schema (the whole
 * path through the email is identity_email_change_test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "client.h"
#include "common/token.h"

/* The deadline of the request whose email cannot be queued. */
#define EMAIL_QUEUE_DEADLINE_MS 15000

static ut_system *sys;
static us_rpc_client *client;

static Usher__V1__User *get_user(us_arena *a, const char *id)
{
	Usher__V1__GetUserRequest req = USHER__V1__GET_USER_REQUEST__INIT;
	req.user_id = (char *)id;
	ProtobufCMessage *reply = NULL;
	assert_int_equal(idt_call(client, IDT("GetUser"), NULL, &req.base,
	                          &usher__v1__get_user_reply__descriptor, a, &reply, NULL),
	                 US_OK);
	return ((Usher__V1__GetUserReply *)reply)->user;
}

static Usher__V1__User *update_profile(us_arena *a, const char *actor, const char *name,
                                       const char *phone, const char *key)
{
	Usher__V1__UpdateProfileRequest req = USHER__V1__UPDATE_PROFILE_REQUEST__INIT;
	req.name = (char *)name;
	req.phone = (char *)phone;
	idt_opts o = {.actor = actor, .key = key};
	ProtobufCMessage *reply = NULL;
	assert_int_equal(idt_call(client, IDT("UpdateProfile"), &o, &req.base,
	                          &usher__v1__update_profile_reply__descriptor, a, &reply, NULL),
	                 US_OK);
	return ((Usher__V1__UpdateProfileReply *)reply)->user;
}

static void test_update_profile_replaces_name_and_phone(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "profile@example.com");
	const char *key = idt_key(a);
	Usher__V1__User *changed = update_profile(a, u->id, "Ada King", "+447700900123", key);
	assert_string_equal(changed->name, "Ada King");
	assert_string_equal(changed->phone, "+447700900123");
	Usher__V1__User *stored = get_user(a, u->id);
	assert_string_equal(stored->name, "Ada King");
	assert_string_equal(stored->phone, "+447700900123");
	assert_string_equal(stored->email, "profile@example.com");

	/* "" removes the phone. */
	changed = update_profile(a, u->id, "Ada King", "", idt_key(a));
	assert_string_equal(changed->phone, "");
	assert_string_equal(get_user(a, u->id)->phone, "");

	/* A resend of the first request replays its reply and changes nothing. */
	changed = update_profile(a, u->id, "Ada King", "+447700900123", key);
	assert_string_equal(changed->phone, "+447700900123");
	assert_string_equal(get_user(a, u->id)->phone, "");
	us_arena_free(a);
}

static us_err request_change(us_arena *a, const char *actor, const char *email,
                             const char *password, uint32_t timeout_ms, us_status *st)
{
	Usher__V1__RequestEmailChangeRequest req = USHER__V1__REQUEST_EMAIL_CHANGE_REQUEST__INIT;
	req.new_email = (char *)email;
	req.current_password = (char *)password;
	idt_opts o = {.actor = actor, .key = idt_key(a), .timeout_ms = timeout_ms};
	return idt_call(client, IDT("RequestEmailChange"), &o, &req.base,
	                &usher__v1__request_email_change_reply__descriptor, a, NULL, st);
}

static long long pending_changes(void)
{
	return idt_count(sys, "SELECT count(*) FROM identity.email_changes");
}

static void test_email_change_requests_are_guarded(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "mover@example.com");
	idt_create_user_as(client, a, "taken@example.com", true);
	us_status st;

	assert_int_equal(request_change(a, u->id, "new@example.com", "not the password", 0, &st),
	                 US_EDENIED);
	assert_string_equal(st.message, "current password is not correct");
	us_status_clear(&st);
	assert_int_equal(request_change(a, u->id, " Taken@Example.com", IDT_PASSWORD, 0, &st),
	                 US_EEXISTS);
	us_status_clear(&st);
	assert_int_equal(request_change(a, u->id, "MOVER@example.com", IDT_PASSWORD, 0, &st),
	                 US_EINVAL);
	idt_assert_violation(&st, "new_email");
	us_status_clear(&st);

	/* All checks pass but the email cannot be queued: the caller hears so in time and
	 * nothing is recorded. identityd waits for notificationd until a second before the
	 * deadline (a quarter of it when shorter): a deadline that leaves argon2id time on a
	 * loaded machine, and the whole second of margin (2 s left 0.5 s, and the checks' hash
	 * could eat it all). */
	assert_int_equal(request_change(a, u->id, "new@example.com", IDT_PASSWORD,
	                                EMAIL_QUEUE_DEADLINE_MS, &st),
	                 US_EUNAVAILABLE);
	assert_string_equal(st.message, "could not send the verification email, try again later");
	us_status_clear(&st);
	assert_int_equal(pending_changes(), 0);
	assert_string_equal(get_user(a, u->id)->email, "mover@example.com");
	us_arena_free(a);
}

/* Records a pending change as RequestEmailChange does, and returns its token. */
static const char *record_change(us_arena *a, const char *user_id, const char *email,
                                 const char *expires)
{
	char *token = us_arena_alloc(a, US_TOKEN_TEXT_LEN + 1);
	us_token_new(token);
	uint8_t key[US_TOKEN_KEY_BYTES], hash[US_TOKEN_HASH_BYTES];
	assert_int_equal(us_token_key_from_hex(sys->identity_token_key, key), 0);
	assert_int_equal(us_token_hash(token, key, hash), US_OK);
	char hex[2 * US_TOKEN_HASH_BYTES + 1];
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO identity.email_changes (user_id, new_email, token_hash, expires_at) "
	         "VALUES ('%s', '%s', '\\x%s', now() + interval '%s')",
	         user_id, email, hex, expires);
	idt_exec(sys, sql);
	return token;
}

static us_err confirm(us_arena *a, const char *token, const char *key, Usher__V1__User **user)
{
	Usher__V1__ConfirmEmailChangeRequest req = USHER__V1__CONFIRM_EMAIL_CHANGE_REQUEST__INIT;
	req.token = (char *)token;
	idt_opts o = {.key = key};
	ProtobufCMessage *reply = NULL;
	us_err rc = idt_call(client, IDT("ConfirmEmailChange"), &o, &req.base,
	                     &usher__v1__confirm_email_change_reply__descriptor, a, &reply, NULL);
	if (rc == US_OK && user != NULL)
		*user = ((Usher__V1__ConfirmEmailChangeReply *)reply)->user;
	return rc;
}

static void test_an_email_change_takes_effect_only_when_confirmed(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "before@example.com");
	const char *token = record_change(a, u->id, "after@example.com", "1 day");

	/* Pending: nothing has changed yet. */
	assert_string_equal(get_user(a, u->id)->email, "before@example.com");
	assert_int_equal(idt_login(client, a, "after@example.com", IDT_PASSWORD, NULL, NULL, NULL),
	                 US_EUNAUTHENTICATED);

	const char *key = idt_key(a);
	Usher__V1__User *changed = NULL;
	assert_int_equal(confirm(a, token, key, &changed), US_OK);
	assert_string_equal(changed->email, "after@example.com");
	assert_true(changed->email_verified);
	assert_string_equal(get_user(a, u->id)->email, "after@example.com");
	assert_int_equal(idt_login(client, a, "after@example.com", IDT_PASSWORD, NULL, NULL, NULL),
	                 US_OK);
	assert_int_equal(idt_login(client, a, "before@example.com", IDT_PASSWORD, NULL, NULL, NULL),
	                 US_EUNAUTHENTICATED);

	/* The link works once; a resend of the same confirmation replays its answer. */
	assert_int_equal(confirm(a, token, idt_key(a), NULL), US_ENOTFOUND);
	assert_int_equal(confirm(a, token, key, NULL), US_OK);
	us_arena_free(a);
}

static void test_expired_or_contested_changes_do_nothing(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "stays@example.com");
	const char *stale = record_change(a, u->id, "stale@example.com", "-1 second");
	assert_int_equal(confirm(a, stale, idt_key(a), NULL), US_ENOTFOUND);

	/* Someone else took the address while the link sat in the inbox. */
	const char *contested = record_change(a, u->id, "contested@example.com", "1 day");
	idt_create_user_as(client, a, "contested@example.com", true);
	assert_int_equal(confirm(a, contested, idt_key(a), NULL), US_EEXISTS);
	assert_string_equal(get_user(a, u->id)->email, "stays@example.com");

	/* A mere claim on the address does not stop its owner's change: the link proves it. */
	const char *claimed = record_change(a, u->id, "claimed@example.com", "1 day");
	Usher__V1__User *squatter = idt_create_user(client, a, "claimed@example.com");
	assert_int_equal(confirm(a, claimed, idt_key(a), NULL), US_OK);
	assert_string_equal(get_user(a, u->id)->email, "claimed@example.com");
	assert_string_equal(get_user(a, squatter->id)->email, "");
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "identity_profile");
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
		cmocka_unit_test(test_update_profile_replaces_name_and_phone),
		cmocka_unit_test(test_email_change_requests_are_guarded),
		cmocka_unit_test(test_an_email_change_takes_effect_only_when_confirmed),
		cmocka_unit_test(test_expired_or_contested_changes_do_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
