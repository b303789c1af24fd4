/* One timestamp format in every reply (docs/api.md, common/timestamp.h): the whole system
 * runs, and one reply of each daemon that carries a timestamp, and the gateway's JSON, is
 * read with us_timestamp_check(). Each daemon is its own test, so a failure names the
 * daemon whose format differs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "common/clock.h"
#include "common/timestamp.h"
#include "harness.h"
#include "http.h"
#include "usher/v1/notification.pb-c.h"

#define PASSWORD "correct horse battery"
#define OWNER_EMAIL "owner@timestamps.example"
#define INVITEE_EMAIL "invitee@timestamps.example"
/* A deadline for a condition, not a speed goal: generous on a busy machine. */
#define DELIVERY_WAIT_MS 60000

static ut_system sys;
static us_arena *A;
static char *owner, *account;

/* Every timestamp of a test that is not in the one format, named by daemon and field
 * with its value: all of them, not just the first. */
static char wrong[4096];

static void expect_timestamp(const char *what, const char *ts)
{
	const char *why = us_timestamp_check(ts != NULL ? ts : "");
	size_t used = strlen(wrong);
	if (why != NULL)
		snprintf(wrong + used, sizeof(wrong) - used, "\n  %s: \"%s\" %s", what,
		         ts != NULL ? ts : "(absent)", why);
}

/* Fails the test when any of its timestamps was wrong. */
static void expect_all_right(void)
{
	if (wrong[0] != '\0') {
		char copy[sizeof(wrong)];
		snprintf(copy, sizeof(copy), "%s", wrong);
		wrong[0] = '\0';
		fail_msg("timestamps not in the one format:%s", copy);
	}
}

static ProtobufCMessage *call(int daemon, const char *method, const char *actor,
                              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type)
{
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = ut_call(&sys, daemon, method, actor, NULL, req, type, A, &reply, &st);
	if (rc != US_OK)
		fail_msg("%s: %s: %s", method, us_err_name(rc), st.message);
	us_status_clear(&st);
	return reply;
}

static void test_identity_user_and_session(void **state)
{
	(void)state;
	Usher__V1__GetUserRequest get = USHER__V1__GET_USER_REQUEST__INIT;
	get.user_id = owner;
	Usher__V1__GetUserReply *u = (Usher__V1__GetUserReply *)call(
	        UT_IDENTITY, "usher.v1.IdentityService/GetUser", NULL, &get.base,
	        &usher__v1__get_user_reply__descriptor);
	expect_timestamp("identityd GetUser user.created_at", u->user->created_at);

	Usher__V1__LoginRequest login = USHER__V1__LOGIN_REQUEST__INIT;
	login.email = OWNER_EMAIL;
	login.password = PASSWORD;
	Usher__V1__LoginReply *l = (Usher__V1__LoginReply *)call(
	        UT_IDENTITY, "usher.v1.IdentityService/Login", NULL, &login.base,
	        &usher__v1__login_reply__descriptor);
	expect_timestamp("identityd Login expires_at", l->expires_at);
	expect_all_right();
}

static void test_tenancy_account_and_membership(void **state)
{
	(void)state;
	Usher__V1__GetAccountRequest get = USHER__V1__GET_ACCOUNT_REQUEST__INIT;
	get.account_id = account;
	Usher__V1__GetAccountReply *a = (Usher__V1__GetAccountReply *)call(
	        UT_TENANCY, "usher.v1.TenancyService/GetAccount", owner, &get.base,
	        &usher__v1__get_account_reply__descriptor);
	expect_timestamp("tenancyd GetAccount account.created_at", a->account->created_at);

	Usher__V1__ListMembersRequest list = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	list.account_id = account;
	Usher__V1__ListMembersReply *m = (Usher__V1__ListMembersReply *)call(
	        UT_TENANCY, "usher.v1.TenancyService/ListMembers", owner, &list.base,
	        &usher__v1__list_members_reply__descriptor);
	assert_int_equal(m->n_members, 1);
	expect_timestamp("tenancyd ListMembers membership.created_at", m->members[0]->created_at);
	expect_timestamp("tenancyd ListMembers membership.updated_at", m->members[0]->updated_at);
	expect_all_right();
}

static void test_invitation(void **state)
{
	(void)state;
	Usher__V1__ListInvitationsRequest list = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	list.account_id = account;
	Usher__V1__ListInvitationsReply *r = (Usher__V1__ListInvitationsReply *)call(
	        UT_INVITATION, "usher.v1.InvitationService/ListInvitations", owner, &list.base,
	        &usher__v1__list_invitations_reply__descriptor);
	assert_int_equal(r->n_invitations, 1);
	expect_timestamp("invitationd ListInvitations invitation.created_at",
	                 r->invitations[0]->created_at);
	expect_timestamp("invitationd ListInvitations invitation.expires_at",
	                 r->invitations[0]->expires_at);
	expect_all_right();
}

/* The invitation's email, once usher-notificationd has delivered it (to the spool). */
static void test_notification_delivery(void **state)
{
	(void)state;
	Usher__V1__GetDeliveriesRequest req = USHER__V1__GET_DELIVERIES_REQUEST__INIT;
	req.recipient = INVITEE_EMAIL;
	Usher__V1__Delivery *d = NULL;
	int64_t deadline = us_monotonic_ms() + DELIVERY_WAIT_MS;
	while (d == NULL || d->state != USHER__V1__DELIVERY_STATE__DELIVERY_SENT) {
		if (us_monotonic_ms() > deadline)
			fail_msg("the invitation email to %s was not delivered", INVITEE_EMAIL);
		if (d != NULL)
			usleep(100 * 1000);
		Usher__V1__GetDeliveriesReply *r = (Usher__V1__GetDeliveriesReply *)call(
		        UT_NOTIFICATION, "usher.v1.NotificationService/GetDeliveries", NULL, &req.base,
		        &usher__v1__get_deliveries_reply__descriptor);
		d = r->n_deliveries > 0 ? r->deliveries[0] : NULL;
		if (d == NULL)
			usleep(100 * 1000);
	}
	expect_timestamp("notificationd GetDeliveries delivery.created_at", d->created_at);
	expect_timestamp("notificationd GetDeliveries delivery.updated_at", d->updated_at);
	expect_timestamp("notificationd GetDeliveries delivery.sent_at", d->sent_at);
	assert_true(d->n_attempt_log > 0);
	expect_timestamp("notificationd GetDeliveries attempt_log[0].at", d->attempt_log[0]->at);
	expect_all_right();
}

static const char *json_text(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* What the gateway passes on from the daemons, in its JSON. */
static void test_gateway_json(void **state)
{
	(void)state;
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	json_t *body = json_pack("{s:s, s:s}", "email", OWNER_EMAIL, "password", PASSWORD);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	ut_http(b, "POST", "/login", text, strlen(text), NULL, &r);
	free(text);
	if (r.status != 200 || r.json == NULL)
		fail_msg("POST /login: HTTP %ld: %s", r.status, r.body);
	expect_timestamp("gateway POST /login expiresAt", json_text(r.json, "expiresAt"));
	ut_reply_free(&r);

	ut_http(b, "GET", "/me", NULL, 0, NULL, &r);
	if (r.status != 200 || r.json == NULL)
		fail_msg("GET /me: HTTP %ld: %s", r.status, r.body);
	expect_timestamp("gateway GET /me user.createdAt",
	                 json_text(json_object_get(r.json, "user"), "createdAt"));
	json_t *m = json_array_get(json_object_get(r.json, "memberships"), 0);
	expect_timestamp("gateway GET /me memberships[0].createdAt", json_text(m, "createdAt"));
	expect_timestamp("gateway GET /me memberships[0].updatedAt", json_text(m, "updatedAt"));
	ut_reply_free(&r);
	ut_browser_free(b);
	expect_all_right();
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "timestamps");
	ut_system_start_all(&sys);
	owner = ut_create_user(&sys, A, OWNER_EMAIL, "Olive Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Timestamp Team", "");
	const char *emails[] = {INVITEE_EMAIL};
	Usher__V1__CreateInvitationsReply *reply;
	us_status st;
	if (ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, 1, &reply,
	              &st) != US_OK)
		fail_msg("CreateInvitations: %s", st.message);
	us_status_clear(&st);
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
		cmocka_unit_test(test_identity_user_and_session),
		cmocka_unit_test(test_tenancy_account_and_membership),
		cmocka_unit_test(test_invitation),
		cmocka_unit_test(test_notification_delivery),
		cmocka_unit_test(test_gateway_json),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
