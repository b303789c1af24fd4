/* Sign-up and the user reads against a real usher-identityd and Postgres: passwords are
 * stored as argon2id, emails are unique after normalisation even under a race, a key
 * replays its reply, and GetUsers/LookupEmails answer batches in one call. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "common/timestamp.h"

static ut_system *sys;
static us_rpc_client *client;

static Usher__V1__CreateUserReply *create_as(us_arena *a, const char *email, const char *key,
                                             bool verified, us_err expect)
{
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = (char *)email;
	req.email_verified = verified;
	req.name = "Ada Lovelace";
	req.phone = "+14155550123";
	req.password = IDT_PASSWORD;
	idt_opts o = {.key = key};
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = idt_call(client, IDT("CreateUser"), &o, &req.base,
	                     &usher__v1__create_user_reply__descriptor, a, &reply, &st);
	if (rc != expect)
		fail_msg("CreateUser %s: expected %s, got %s \"%s\"", email, us_err_name(expect),
		         us_err_name(rc), st.message);
	us_status_clear(&st);
	return (Usher__V1__CreateUserReply *)reply;
}

static Usher__V1__CreateUserReply *create(us_arena *a, const char *email, const char *key,
                                          us_err expect)
{
	return create_as(a, email, key, false, expect);
}

static void test_create_user_stores_argon2id_and_normalised_email(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = create(a, "  Ada.Lovelace@Example.COM ", idt_key(a), US_OK)->user;
	assert_string_equal(u->email, "ada.lovelace@example.com");
	assert_string_equal(u->name, "Ada Lovelace");
	assert_string_equal(u->phone, "+14155550123");
	assert_false(u->email_verified);
	assert_int_equal(u->status, USHER__V1__USER_STATUS__USER_ACTIVE);
	assert_int_equal(strlen(u->id), 36);
	assert_null(us_timestamp_check(u->created_at)); /* 2024-01-02T03:04:05.678Z */

	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT password_hash FROM identity.users WHERE id = '%s'", u->id);
	char *hash = idt_query(sys, sql);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_null(strstr(hash, IDT_PASSWORD));
	free(hash);

	/* The same person read back. */
	Usher__V1__GetUserRequest get = USHER__V1__GET_USER_REQUEST__INIT;
	get.user_id = u->id;
	ProtobufCMessage *reply = NULL;
	assert_int_equal(idt_call(client, IDT("GetUser"), NULL, &get.base,
	                          &usher__v1__get_user_reply__descriptor, a, &reply, NULL),
	                 US_OK);
	Usher__V1__User *back = ((Usher__V1__GetUserReply *)reply)->user;
	assert_string_equal(back->email, u->email);
	assert_string_equal(back->created_at, u->created_at);

	get.user_id = "00000000-0000-4000-8000-000000000000";
	assert_int_equal(idt_call(client, IDT("GetUser"), NULL, &get.base,
	                          &usher__v1__get_user_reply__descriptor, a, NULL, NULL),
	                 US_ENOTFOUND);
	us_arena_free(a);
}

static void test_taken_email_is_already_exists_whatever_its_case(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	create_as(a, "grace@example.com", idt_key(a), true, US_OK);
	create(a, " GRACE@Example.com", idt_key(a), US_EEXISTS);
	create_as(a, " GRACE@Example.com", idt_key(a), true, US_EEXISTS);
	assert_int_equal(idt_count(sys, "SELECT count(*) FROM identity.users "
	                                "WHERE email = 'grace@example.com'"),
	                 1);
	us_arena_free(a);
}

/* Issue 11, hole 5: a claim (an unverified address) never blocks the address's owner.
 * Whoever proves it (or claims it anew) takes it; the claimant's user loses the address
 * and its sessions, and can no longer sign in by it. */
static void test_an_unverified_claim_never_blocks(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *squatter = create(a, "owner.of.this@example.com", idt_key(a), US_OK)->user;
	Usher__V1__LoginReply *session = NULL;
	assert_int_equal(idt_login(client, a, "owner.of.this@example.com", IDT_PASSWORD, NULL,
	                           &session, NULL),
	                 US_OK);
	/* The owner proves the address (an invitation's link was followed). */
	Usher__V1__User *owner =
	        create_as(a, "owner.of.this@example.com", idt_key(a), true, US_OK)->user;
	assert_true(owner->email_verified);
	assert_string_not_equal(owner->id, squatter->id);
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM identity.users WHERE id = '%s' AND email IS NULL "
	         "AND NOT email_verified AND email_released_at IS NOT NULL",
	         squatter->id);
	assert_int_equal(idt_count(sys, sql), 1);
	assert_int_equal(idt_resolve(client, a, session->session_token), US_EUNAUTHENTICATED);
	/* Signing in by the address is the owner's now. */
	Usher__V1__LoginReply *in = NULL;
	assert_int_equal(idt_login(client, a, "owner.of.this@example.com", IDT_PASSWORD, NULL, &in,
	                           NULL),
	                 US_OK);
	assert_string_equal(in->user->id, owner->id);
	/* A verified address is no longer anyone's to claim. */
	create(a, "owner.of.this@example.com", idt_key(a), US_EEXISTS);

	/* Between claims, the newest wins: neither proved anything. */
	Usher__V1__User *first = create(a, "unproven@example.com", idt_key(a), US_OK)->user;
	Usher__V1__User *second = create(a, "unproven@example.com", idt_key(a), US_OK)->user;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM identity.users WHERE id = '%s' AND email IS NULL",
	         first->id);
	assert_int_equal(idt_count(sys, sql), 1);
	assert_string_equal(second->email, "unproven@example.com");
	us_arena_free(a);
}

/* ConfirmEmailOwnership: the caller proved the address; only while it is the user's. */
static void test_confirm_email_ownership(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = create(a, "proving@example.com", idt_key(a), US_OK)->user;
	Usher__V1__ConfirmEmailOwnershipRequest req = USHER__V1__CONFIRM_EMAIL_OWNERSHIP_REQUEST__INIT;
	req.user_id = u->id;
	req.email = "someone.else@example.com";
	idt_opts o = {.key = idt_key(a)};
	ProtobufCMessage *reply = NULL;
	assert_int_equal(idt_call(client, IDT("ConfirmEmailOwnership"), &o, &req.base,
	                          &usher__v1__confirm_email_ownership_reply__descriptor, a, &reply,
	                          NULL),
	                 US_EPRECONDITION);
	req.email = " Proving@Example.com";
	o.key = idt_key(a);
	assert_int_equal(idt_call(client, IDT("ConfirmEmailOwnership"), &o, &req.base,
	                          &usher__v1__confirm_email_ownership_reply__descriptor, a, &reply,
	                          NULL),
	                 US_OK);
	assert_true(((Usher__V1__ConfirmEmailOwnershipReply *)reply)->user->email_verified);
	us_arena_free(a);
}

#define RACERS 20

typedef struct racer {
	char key[32];
	us_err rc;
	char user_id[40];
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	us_arena *a = us_arena_new();
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = "race@example.com";
	req.name = "Racer";
	req.password = IDT_PASSWORD;
	req.email_verified = true; /* proven addresses: exactly one user may have it */
	idt_opts o = {.key = r->key};
	ProtobufCMessage *reply = NULL;
	r->rc = idt_call(client, IDT("CreateUser"), &o, &req.base,
	                 &usher__v1__create_user_reply__descriptor, a, &reply, NULL);
	if (r->rc == US_OK)
		snprintf(r->user_id, sizeof(r->user_id), "%s",
		         ((Usher__V1__CreateUserReply *)reply)->user->id);
	us_arena_free(a);
	return NULL;
}

static void test_concurrent_sign_ups_for_one_email_make_one_user(void **state)
{
	(void)state;
	racer racers[RACERS];
	pthread_t threads[RACERS];
	for (int i = 0; i < RACERS; i++) {
		memset(&racers[i], 0, sizeof(racers[i]));
		snprintf(racers[i].key, sizeof(racers[i].key), "race-%d", i);
		pthread_create(&threads[i], NULL, race, &racers[i]);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(threads[i], NULL);
	int ok = 0, exists = 0, winner = -1;
	for (int i = 0; i < RACERS; i++) {
		if (racers[i].rc == US_OK) {
			ok++;
			winner = i;
		} else if (racers[i].rc == US_EEXISTS) {
			exists++;
		} else {
			fail_msg("racer %d got %s", i, us_err_name(racers[i].rc));
		}
	}
	assert_int_equal(ok, 1);
	assert_int_equal(exists, RACERS - 1);
	assert_int_equal(idt_count(sys, "SELECT count(*) FROM identity.users "
	                                "WHERE email = 'race@example.com'"),
	                 1);

	/* The winner's key replays its reply; a loser's key stored nothing. */
	racer again = racers[winner];
	race(&again);
	assert_int_equal(again.rc, US_OK);
	assert_string_equal(again.user_id, racers[winner].user_id);
	racer loser = racers[winner == 0 ? 1 : 0];
	race(&loser);
	assert_int_equal(loser.rc, US_EEXISTS);
}

static void test_get_users_keeps_order_and_leaves_out_unknown_ids(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *x = idt_create_user(client, a, "x@example.com");
	Usher__V1__User *y = idt_create_user(client, a, "y@example.com");
	char *ids[] = {y->id, "00000000-0000-4000-8000-000000000000", x->id, y->id};
	Usher__V1__GetUsersRequest req = USHER__V1__GET_USERS_REQUEST__INIT;
	req.user_ids = ids;
	req.n_user_ids = 4;
	ProtobufCMessage *reply = NULL;
	assert_int_equal(idt_call(client, IDT("GetUsers"), NULL, &req.base,
	                          &usher__v1__get_users_reply__descriptor, a, &reply, NULL),
	                 US_OK);
	Usher__V1__GetUsersReply *r = (Usher__V1__GetUsersReply *)reply;
	assert_int_equal(r->n_users, 2);
	assert_string_equal(r->users[0]->id, y->id);
	assert_string_equal(r->users[1]->id, x->id);
	us_arena_free(a);
}

static Usher__V1__LookupEmailsReply *lookup(us_arena *a, char **emails, size_t n, us_err expect)
{
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = emails;
	req.n_emails = n;
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = idt_call(client, IDT("LookupEmails"), NULL, &req.base,
	                     &usher__v1__lookup_emails_reply__descriptor, a, &reply, &st);
	if (rc != expect)
		fail_msg("LookupEmails: expected %s, got %s \"%s\"", us_err_name(expect),
		         us_err_name(rc), st.message);
	if (rc == US_EINVAL)
		idt_assert_violation(&st, "emails");
	us_status_clear(&st);
	return (Usher__V1__LookupEmailsReply *)reply;
}

static void test_lookup_emails_matches_normalised_addresses_as_given(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *alice = idt_create_user(client, a, "alice@example.com");
	Usher__V1__User *bob = idt_create_user(client, a, "bob@example.com");
	char *emails[] = {"  ALICE@example.com", "nobody@example.com", "not an email",
	                  "bob@example.com", "alice@example.com", ""};
	Usher__V1__LookupEmailsReply *r = lookup(a, emails, 6, US_OK);
	assert_int_equal(r->n_matches, 3);
	assert_string_equal(r->matches[0]->email, "  ALICE@example.com");
	assert_string_equal(r->matches[0]->user_id, alice->id);
	assert_string_equal(r->matches[0]->name, "Test Person");
	assert_false(r->matches[0]->email_verified);
	assert_string_equal(r->matches[1]->email, "bob@example.com");
	assert_string_equal(r->matches[1]->user_id, bob->id);
	assert_string_equal(r->matches[2]->email, "alice@example.com");
	assert_string_equal(r->matches[2]->user_id, alice->id);
	us_arena_free(a);
}

#define LOOKUP_MAX 50000

static void test_lookup_emails_takes_50000_addresses_in_one_call(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *first = idt_create_user(client, a, "first@example.com");
	Usher__V1__User *last = idt_create_user(client, a, "last@example.com");
	char **emails = US_ARENA_ARRAY(a, char *, LOOKUP_MAX + 1);
	for (int i = 0; i <= LOOKUP_MAX; i++)
		emails[i] = us_arena_printf(a, "invitee%d@bulk.example.com", i);
	emails[0] = "First@Example.com";
	emails[LOOKUP_MAX - 1] = "last@example.com";

	Usher__V1__LookupEmailsReply *r = lookup(a, emails, LOOKUP_MAX, US_OK);
	assert_int_equal(r->n_matches, 2);
	assert_string_equal(r->matches[0]->user_id, first->id);
	assert_string_equal(r->matches[0]->email, "First@Example.com");
	assert_string_equal(r->matches[1]->user_id, last->id);

	/* One more is refused whole. */
	lookup(a, emails, LOOKUP_MAX + 1, US_EINVAL);
	us_arena_free(a);
}

/* LookupEmails naming a user answers GetUser's question too, in the same call. */
static void test_lookup_emails_with_a_user(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *inviter = idt_create_user(client, a, "inviter@example.com");
	Usher__V1__User *carol = idt_create_user(client, a, "carol@example.com");
	char *emails[] = {"carol@example.com", "nobody.else@example.com"};
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = emails;
	req.n_emails = 2;
	req.user_id = inviter->id;
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = idt_call(client, IDT("LookupEmails"), NULL, &req.base,
	                     &usher__v1__lookup_emails_reply__descriptor, a, &reply, &st);
	if (rc != US_OK)
		fail_msg("LookupEmails with a user: %s", st.message);
	us_status_clear(&st);
	Usher__V1__LookupEmailsReply *r = (Usher__V1__LookupEmailsReply *)reply;
	assert_non_null(r->user);
	assert_string_equal(r->user->id, inviter->id);
	assert_string_equal(r->user->email, "inviter@example.com");
	assert_int_equal(r->n_matches, 1);
	assert_string_equal(r->matches[0]->user_id, carol->id);

	/* The user alone, no addresses. */
	req.n_emails = 0;
	rc = idt_call(client, IDT("LookupEmails"), NULL, &req.base,
	              &usher__v1__lookup_emails_reply__descriptor, a, &reply, &st);
	if (rc != US_OK)
		fail_msg("LookupEmails of a user alone: %s", st.message);
	us_status_clear(&st);
	r = (Usher__V1__LookupEmailsReply *)reply;
	assert_string_equal(r->user->id, inviter->id);
	assert_int_equal(r->n_matches, 0);

	/* Without user_id, no user: the old question's answer. */
	req.user_id = "";
	req.n_emails = 2;
	rc = idt_call(client, IDT("LookupEmails"), NULL, &req.base,
	              &usher__v1__lookup_emails_reply__descriptor, a, &reply, &st);
	assert_int_equal(rc, US_OK);
	us_status_clear(&st);
	assert_null(((Usher__V1__LookupEmailsReply *)reply)->user);

	/* An unknown user is GetUser's NOT_FOUND; a malformed one a violation. */
	req.user_id = "00000000-0000-4000-8000-000000000000";
	rc = idt_call(client, IDT("LookupEmails"), NULL, &req.base,
	              &usher__v1__lookup_emails_reply__descriptor, a, &reply, &st);
	assert_int_equal(rc, US_ENOTFOUND);
	assert_string_equal(st.message, "user not found");
	us_status_clear(&st);
	req.user_id = "not-a-uuid";
	rc = idt_call(client, IDT("LookupEmails"), NULL, &req.base,
	              &usher__v1__lookup_emails_reply__descriptor, a, &reply, &st);
	assert_int_equal(rc, US_EINVAL);
	idt_assert_violation(&st, "user_id");
	us_status_clear(&st);
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "identity_users");
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
		cmocka_unit_test(test_create_user_stores_argon2id_and_normalised_email),
		cmocka_unit_test(test_taken_email_is_already_exists_whatever_its_case),
		cmocka_unit_test(test_an_unverified_claim_never_blocks),
		cmocka_unit_test(test_confirm_email_ownership),
		cmocka_unit_test(test_concurrent_sign_ups_for_one_email_make_one_user),
		cmocka_unit_test(test_get_users_keeps_order_and_leaves_out_unknown_ids),
		cmocka_unit_test(test_lookup_emails_matches_normalised_addresses_as_given),
		cmocka_unit_test(test_lookup_emails_takes_50000_addresses_in_one_call),
		cmocka_unit_test(test_lookup_emails_with_a_user),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
