/* Every method of a real usher-identityd refuses malformed input with INVALID_ARGUMENT
 * naming the field (or UNAUTHENTICATED without an actor) and changes nothing: no row,
 * and not even the idempotency key is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"

#define GOOD_TOKEN "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define NOBODY "00000000-0000-4000-8000-000000000000"

static ut_system *sys;
static us_rpc_client *client;
static us_arena *arena;
static char *actor; /* a real user */
static char *long_name, *long_email, *long_password;

/* Everything a bad request could have touched. */
static char *snapshot(void)
{
	return idt_query(sys, "SELECT concat_ws('|', "
	                      "(SELECT string_agg(concat_ws(',', id, email, name, phone, "
	                      "password_hash), ';') FROM identity.users), "
	                      "(SELECT count(*) FROM identity.sessions), "
	                      "(SELECT count(*) FROM identity.email_changes), "
	                      "(SELECT count(*) FROM identity.login_throttle), "
	                      "(SELECT count(*) FROM identity.idempotency_keys))");
}

/* Calls method with request as actor, expects code and, for INVALID_ARGUMENT, a
 * violation on each of fields; the stored state must not move. */
static void expect_refusal(const char *method, const char *who, const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *reply_type, us_err code,
                           const char *const *fields)
{
	char *before = snapshot();
	idt_opts o = {.actor = who, .key = idt_key(arena)};
	us_status st;
	us_err rc = idt_call(client, method, &o, request, reply_type, arena, NULL, &st);
	if (rc != code)
		fail_msg("%s: expected %s, got %s \"%s\"", method, us_err_name(code), us_err_name(rc),
		         st.message);
	for (size_t i = 0; fields != NULL && fields[i] != NULL; i++)
		idt_assert_violation(&st, fields[i]);
	us_status_clear(&st);
	char *after = snapshot();
	assert_string_equal(before, after);
	free(before);
	free(after);
}

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void create_user(const char *email, const char *name, const char *phone,
                        const char *password, const char *const *fields)
{
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = (char *)email;
	req.name = (char *)name;
	req.phone = (char *)phone;
	req.password = (char *)password;
	expect_refusal(IDT("CreateUser"), NULL, &req.base, &usher__v1__create_user_reply__descriptor,
	               US_EINVAL, fields);
}

static void test_create_user(void **state)
{
	(void)state;
	create_user("not-an-email", "Ann", "", IDT_PASSWORD, FIELDS("email"));
	create_user("ann@example", "Ann", "", IDT_PASSWORD, FIELDS("email"));
	create_user("<ann@example.com>", "Ann", "", IDT_PASSWORD, FIELDS("email"));
	create_user(long_email, "Ann", "", IDT_PASSWORD, FIELDS("email"));
	create_user("ann@example.com", "", "", IDT_PASSWORD, FIELDS("name"));
	create_user("ann@example.com", "   ", "", IDT_PASSWORD, FIELDS("name"));
	create_user("ann@example.com", long_name, "", IDT_PASSWORD, FIELDS("name"));
	create_user("ann@example.com", "Ann", "555-0123", IDT_PASSWORD, FIELDS("phone"));
	create_user("ann@example.com", "Ann", "+0123456789", IDT_PASSWORD, FIELDS("phone"));
	create_user("ann@example.com", "Ann", "", "short", FIELDS("password"));
	create_user("ann@example.com", "Ann", "", long_password, FIELDS("password"));
	create_user("bad", "", "12", "", FIELDS("email", "name", "phone", "password"));
	/* A user with all of it right still goes through: nothing above stuck. */
	idt_create_user(client, arena, "ann@example.com");
}

static void test_reads(void **state)
{
	(void)state;
	Usher__V1__GetUserRequest get = USHER__V1__GET_USER_REQUEST__INIT;
	get.user_id = "not-a-uuid";
	expect_refusal(IDT("GetUser"), NULL, &get.base, &usher__v1__get_user_reply__descriptor,
	               US_EINVAL, FIELDS("user_id"));
	get.user_id = "00000000-0000-4000-8000-00000000000G";
	expect_refusal(IDT("GetUser"), NULL, &get.base, &usher__v1__get_user_reply__descriptor,
	               US_EINVAL, FIELDS("user_id"));

	char *ids[] = {NOBODY, "nope"};
	Usher__V1__GetUsersRequest many = USHER__V1__GET_USERS_REQUEST__INIT;
	many.user_ids = ids;
	many.n_user_ids = 2;
	expect_refusal(IDT("GetUsers"), NULL, &many.base, &usher__v1__get_users_reply__descriptor,
	               US_EINVAL, FIELDS("user_ids[1]"));
	char **lots = US_ARENA_ARRAY(arena, char *, 1001);
	for (int i = 0; i < 1001; i++)
		lots[i] = NOBODY;
	many.user_ids = lots;
	many.n_user_ids = 1001;
	expect_refusal(IDT("GetUsers"), NULL, &many.base, &usher__v1__get_users_reply__descriptor,
	               US_EINVAL, FIELDS("user_ids"));
}

static void login(const char *email, const char *password, const char *address,
                  const char *field)
{
	Usher__V1__LoginRequest req = USHER__V1__LOGIN_REQUEST__INIT;
	req.email = (char *)email;
	req.password = (char *)password;
	req.client_address = (char *)address;
	expect_refusal(IDT("Login"), NULL, &req.base, &usher__v1__login_reply__descriptor, US_EINVAL,
	               FIELDS(field));
}

static void test_sessions(void **state)
{
	(void)state;
	login("not-an-email", IDT_PASSWORD, "", "email");
	login(long_email, IDT_PASSWORD, "", "email");
	login("ann@example.com", "", "", "password");
	login("ann@example.com", long_password, "", "password");
	login("ann@example.com", IDT_PASSWORD, "localhost", "client_address");
	login("ann@example.com", IDT_PASSWORD, "300.1.2.3", "client_address");

	const char *bad_tokens[] = {"", "short", GOOD_TOKEN "A",
	                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"};
	for (size_t i = 0; i < 4; i++) {
		Usher__V1__ResolveSessionRequest r = USHER__V1__RESOLVE_SESSION_REQUEST__INIT;
		r.session_token = (char *)bad_tokens[i];
		expect_refusal(IDT("ResolveSession"), NULL, &r.base,
		               &usher__v1__resolve_session_reply__descriptor, US_EINVAL,
		               FIELDS("session_token"));
		Usher__V1__LogoutRequest l = USHER__V1__LOGOUT_REQUEST__INIT;
		l.session_token = (char *)bad_tokens[i];
		expect_refusal(IDT("Logout"), NULL, &l.base, &usher__v1__logout_reply__descriptor,
		               US_EINVAL, FIELDS("session_token"));
	}
	/* Well formed but unknown is a different answer. */
	Usher__V1__ResolveSessionRequest r = USHER__V1__RESOLVE_SESSION_REQUEST__INIT;
	r.session_token = GOOD_TOKEN;
	expect_refusal(IDT("ResolveSession"), NULL, &r.base,
	               &usher__v1__resolve_session_reply__descriptor, US_EUNAUTHENTICATED, NULL);
}

static void update_profile(const char *who, const char *name, const char *phone, us_err code,
                           const char *const *fields)
{
	Usher__V1__UpdateProfileRequest req = USHER__V1__UPDATE_PROFILE_REQUEST__INIT;
	req.name = (char *)name;
	req.phone = (char *)phone;
	expect_refusal(IDT("UpdateProfile"), who, &req.base,
	               &usher__v1__update_profile_reply__descriptor, code, fields);
}

static void change_password(const char *who, const char *current, const char *next,
                            const char *keep, us_err code, const char *const *fields)
{
	Usher__V1__ChangePasswordRequest req = USHER__V1__CHANGE_PASSWORD_REQUEST__INIT;
	req.current_password = (char *)current;
	req.new_password = (char *)next;
	req.keep_session_token = (char *)keep;
	expect_refusal(IDT("ChangePassword"), who, &req.base,
	               &usher__v1__change_password_reply__descriptor, code, fields);
}

static void request_email_change(const char *who, const char *email, const char *password,
                                 us_err code, const char *const *fields)
{
	Usher__V1__RequestEmailChangeRequest req = USHER__V1__REQUEST_EMAIL_CHANGE_REQUEST__INIT;
	req.new_email = (char *)email;
	req.current_password = (char *)password;
	expect_refusal(IDT("RequestEmailChange"), who, &req.base,
	               &usher__v1__request_email_change_reply__descriptor, code, fields);
}

static void test_profile(void **state)
{
	(void)state;
	update_profile(NULL, "Ann", "", US_EUNAUTHENTICATED, NULL);
	update_profile("not-a-uuid", "Ann", "", US_EINVAL, FIELDS("actor.user_id"));
	update_profile(actor, "", "", US_EINVAL, FIELDS("name"));
	update_profile(actor, long_name, "", US_EINVAL, FIELDS("name"));
	update_profile(actor, "Ann\x01", "", US_EINVAL, FIELDS("name"));
	update_profile(actor, "Ann", "+1 415 555 0123", US_EINVAL, FIELDS("phone"));
	update_profile(actor, "Ann", "+1234567890123456", US_EINVAL, FIELDS("phone"));

	change_password(NULL, IDT_PASSWORD, "new password", "", US_EUNAUTHENTICATED, NULL);
	change_password("NOT-A-UUID", IDT_PASSWORD, "new password", "", US_EINVAL,
	                FIELDS("actor.user_id"));
	change_password(actor, "", "new password", "", US_EINVAL, FIELDS("current_password"));
	change_password(actor, IDT_PASSWORD, "short", "", US_EINVAL, FIELDS("new_password"));
	change_password(actor, IDT_PASSWORD, long_password, "", US_EINVAL, FIELDS("new_password"));
	change_password(actor, IDT_PASSWORD, "new password", "stale-cookie", US_EINVAL,
	                FIELDS("keep_session_token"));

	request_email_change(NULL, "new@example.com", IDT_PASSWORD, US_EUNAUTHENTICATED, NULL);
	request_email_change(actor, "new@", IDT_PASSWORD, US_EINVAL, FIELDS("new_email"));
	request_email_change(actor, long_email, IDT_PASSWORD, US_EINVAL, FIELDS("new_email"));
	request_email_change(actor, "new@example.com", "", US_EINVAL, FIELDS("current_password"));
	request_email_change(actor, "new@example.com", long_password, US_EINVAL,
	                     FIELDS("current_password"));

	Usher__V1__ConfirmEmailChangeRequest confirm = USHER__V1__CONFIRM_EMAIL_CHANGE_REQUEST__INIT;
	confirm.token = "not a token";
	expect_refusal(IDT("ConfirmEmailChange"), NULL, &confirm.base,
	               &usher__v1__confirm_email_change_reply__descriptor, US_EINVAL,
	               FIELDS("token"));
	confirm.token = "";
	expect_refusal(IDT("ConfirmEmailChange"), NULL, &confirm.base,
	               &usher__v1__confirm_email_change_reply__descriptor, US_EINVAL,
	               FIELDS("token"));
}

static char *repeat(char c, size_t n, const char *suffix)
{
	char *s = us_arena_alloc(arena, n + strlen(suffix) + 1);
	memset(s, c, n);
	strcpy(s + n, suffix);
	return s;
}

static int setup(void **state)
{
	(void)state;
	sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "identity_validation");
	ut_system_start(sys, UT_IDENTITY);
	client = idt_connect(sys);
	arena = us_arena_new();
	actor = idt_create_user(client, arena, "actor@example.com")->id;
	long_name = repeat('n', 201, "");
	long_email = repeat('e', 250, "@example.com");
	long_password = repeat('p', 1025, "");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_arena_free(arena);
	us_rpc_client_close(client);
	ut_system_teardown(sys);
	free(sys);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_user),
		cmocka_unit_test(test_reads),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_profile),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
