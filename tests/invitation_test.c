/* Invitations end to end across the four daemons, Postgres and the mail spool: batch
 * outcomes, the right email, preview, accept as a new or an existing user, decline,
 * reinvite, revoke, expiry, permissions, concurrency and a crash in the middle of an
 * accept. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"

#define INV "usher.v1.InvitationService/"
#define PASSWORD "correct horse battery"
#define MAIL_WAIT_MS 30000
#define FAULT_SLOT 3 /* the extra_env entry a test arms a crash point in */

static ut_system sys;
static char spool[200];
static us_arena *A;

/* The people and accounts most tests share. */
static char *owner, *owner_email = "owner@acme.example";
static char *account;

static const char *outcome_name(Usher__V1__AddressOutcome o)
{
	return protobuf_c_enum_descriptor_get_value(&usher__v1__address_outcome__descriptor, o)->name;
}

static Usher__V1__PreviewReply *preview(const char *token, us_err *rc, us_status *st)
{
	Usher__V1__PreviewRequest req = USHER__V1__PREVIEW_REQUEST__INIT;
	req.token = (char *)token;
	ProtobufCMessage *reply = NULL;
	*rc = ut_call(&sys, UT_INVITATION, INV "Preview", NULL, NULL, &req.base,
	              &usher__v1__preview_reply__descriptor, A, &reply, st);
	return (Usher__V1__PreviewReply *)reply;
}

static us_err accept_new(const char *token, const char *name, Usher__V1__AcceptReply **out,
                         us_status *st)
{
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = (char *)name;
	profile.phone = "+14155550123";
	profile.password = PASSWORD;
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = (char *)token;
	req.new_user = &profile;
	return ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	               &usher__v1__accept_reply__descriptor, A, (ProtobufCMessage **)out, st);
}

static us_err accept_existing(const char *token, const char *session, Usher__V1__AcceptReply **out,
                              us_status *st)
{
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = (char *)token;
	req.session_token = (char *)session;
	return ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	               &usher__v1__accept_reply__descriptor, A, (ProtobufCMessage **)out, st);
}

static Usher__V1__Invitation *get_invitation(const char *actor, const char *id, us_err *rc,
                                             us_status *st)
{
	Usher__V1__InvitationRef req = USHER__V1__INVITATION_REF__INIT;
	req.invitation_id = (char *)id;
	ProtobufCMessage *reply = NULL;
	*rc = ut_call(&sys, UT_INVITATION, INV "GetInvitation", actor, NULL, &req.base,
	              &usher__v1__get_invitation_reply__descriptor, A, &reply, st);
	return *rc == US_OK ? ((Usher__V1__GetInvitationReply *)reply)->invitation : NULL;
}

/* Invites one address as the owner and returns the invitation id and the emailed token. */
/* Invites one address as the owner at organization level with role, products and flags
 * (products and flags may be NULL); returns the invitation id and the emailed token. */
static char *invite_as(const char *email, Usher__V1__Role role, const char *product,
                       const char *flag, char **token)
{
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	char *emails[] = {(char *)email}, *products[] = {(char *)product}, *flags[] = {(char *)flag};
	req.account_id = account;
	req.scope = &org;
	req.role = role;
	req.emails = emails;
	req.n_emails = 1;
	req.products = products;
	req.n_products = product != NULL;
	req.flags = flags;
	req.n_flags = flag != NULL;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = ut_call(&sys, UT_INVITATION, INV "CreateInvitations", owner, ut_key(A), &req.base,
	                    &usher__v1__create_invitations_reply__descriptor, A, &out, &st);
	if (rc != US_OK)
		fail_msg("invite %s: %s", email, st.message);
	us_status_clear(&st);
	Usher__V1__CreateInvitationsReply *r = (Usher__V1__CreateInvitationsReply *)out;
	assert_int_equal(r->results[0]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	ut_email mail;
	if (!ut_wait_email(spool, A, email, "Invitation", 0, MAIL_WAIT_MS, &mail))
		fail_msg("no invitation email reached %s", email);
	assert_non_null(mail.token);
	*token = mail.token;
	return r->results[0]->invitation_id;
}

static char *invite_one(const char *email, char **token)
{
	return invite_as(email, USHER__V1__ROLE__ROLE_MEMBER, NULL, NULL, token);
}

static void test_batch_outcomes_and_the_right_email(void **state)
{
	(void)state;
	char *existing = ut_create_user(&sys, A, "xavier@example.com", "Xavier", PASSWORD);
	char *member = ut_create_user(&sys, A, "mia@example.com", "Mia", PASSWORD);
	ut_grant(&sys, A, account, member, USHER__V1__ROLE__ROLE_MEMBER, NULL);
	(void)existing;

	const char *emails[] = {
		"new.person@example.com", "not-an-email", "mia@example.com", "NEW.person@example.com ",
		"xavier@example.com", "<angle@example.com>", "burner@mailinator.com",
	};
	const Usher__V1__AddressOutcome expect[] = {
		USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED,
		USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID,
		USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_MEMBER,
		USHER__V1__ADDRESS_OUTCOME__OUTCOME_DUPLICATE_IN_BATCH,
		USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED,
		USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID,
		USHER__V1__ADDRESS_OUTCOME__OUTCOME_DISPOSABLE_DOMAIN,
	};
	Usher__V1__CreateInvitationsReply *r;
	us_status st;
	assert_int_equal(ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails,
	                           7, &r, &st),
	                 US_OK);
	assert_int_equal(r->n_results, 7);
	for (size_t i = 0; i < 7; i++) {
		if (r->results[i]->outcome != expect[i])
			fail_msg("%s: got %s, expected %s", emails[i], outcome_name(r->results[i]->outcome),
			         outcome_name(expect[i]));
		assert_int_equal(r->results[i]->index, i);
	}
	assert_string_equal(r->results[5]->reason, "must not contain < or >");
	assert_true(r->results[4]->existing_user);
	assert_false(r->results[0]->existing_user);
	assert_int_equal(r->created, 2);
	assert_int_equal(r->invalid, 2);

	/* A new address gets "Invitation", a user "Invitation for <Account Name>". */
	ut_email to_new, to_user;
	assert_true(ut_wait_email(spool, A, "new.person@example.com", NULL, 0, MAIL_WAIT_MS, &to_new));
	assert_string_equal(to_new.subject, "Invitation");
	assert_true(ut_wait_email(spool, A, "xavier@example.com", NULL, 0, MAIL_WAIT_MS, &to_user));
	assert_string_equal(to_user.subject, "Invitation for Acme Team");

	/* Each link works: the preview names the account, the inviter and the role. */
	us_err rc;
	Usher__V1__PreviewReply *p = preview(to_new.token, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_string_equal(p->account_name, "Acme Team");
	assert_string_equal(p->inviter_name, "Olivia Owner");
	assert_int_equal(p->role, USHER__V1__ROLE__ROLE_MEMBER);
	assert_int_equal(p->state, USHER__V1__INVITATION_STATE__INVITATION_PENDING);
	assert_false(p->existing_user);
	p = preview(to_user.token, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_true(p->existing_user);

	/* Previewing never consumes; the address is now pending for a second batch. */
	const char *again[] = {"new.person@example.com"};
	assert_int_equal(ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, again,
	                           1, &r, &st),
	                 US_OK);
	assert_int_equal(r->results[0]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_PENDING);
	assert_int_equal(ut_count_emails(spool, "new.person@example.com"), 1);

	/* Nothing is written on a dry run. */
	Usher__V1__CreateInvitationsRequest dry = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	const char *dry_emails[] = {"dry.run@example.com"};
	dry.account_id = account;
	dry.role = USHER__V1__ROLE__ROLE_MEMBER;
	dry.scope = &org;
	dry.emails = (char **)dry_emails;
	dry.n_emails = 1;
	dry.dry_run = true;
	ProtobufCMessage *out;
	assert_int_equal(ut_call(&sys, UT_INVITATION, INV "CreateInvitations", owner, ut_key(A),
	                         &dry.base, &usher__v1__create_invitations_reply__descriptor, A, &out,
	                         &st),
	                 US_OK);
	r = (Usher__V1__CreateInvitationsReply *)out;
	assert_int_equal(r->results[0]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	assert_string_equal(r->results[0]->invitation_id, "");
	dry.dry_run = false;
	assert_int_equal(ut_call(&sys, UT_INVITATION, INV "CreateInvitations", owner, ut_key(A),
	                         &dry.base, &usher__v1__create_invitations_reply__descriptor, A, &out,
	                         &st),
	                 US_OK);
	assert_int_equal(((Usher__V1__CreateInvitationsReply *)out)->results[0]->outcome,
	                 USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
}

static void test_domain_policy(void **state)
{
	(void)state;
	Usher__V1__UpdateAccountSettingsRequest req = USHER__V1__UPDATE_ACCOUNT_SETTINGS_REQUEST__INIT;
	char *other = ut_create_account(&sys, A, owner, "Closed Shop", "");
	char *domains[] = {"closed.example"};
	req.account_id = other;
	req.name = "Closed Shop";
	req.invitation_expiry_hours = 168;
	req.allowed_email_domains = domains;
	req.n_allowed_email_domains = 1;
	us_status st;
	us_err rc = ut_call(&sys, UT_TENANCY, "usher.v1.TenancyService/UpdateAccountSettings", owner,
	                    ut_key(A), &req.base, &usher__v1__update_account_settings_reply__descriptor,
	                    A, NULL, &st);
	if (rc != US_OK)
		fail_msg("UpdateAccountSettings: %s", st.message);
	const char *emails[] = {"in@closed.example", "out@elsewhere.example"};
	Usher__V1__CreateInvitationsReply *r;
	assert_int_equal(ut_invite(&sys, A, owner, other, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, 2,
	                           &r, &st),
	                 US_OK);
	assert_int_equal(r->results[0]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	assert_int_equal(r->results[1]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED);

	/* The allow-list comes first, even for a member outside it: not "already a member",
	 * and not told an existing user. */
	char *outside = ut_create_user(&sys, A, "member@elsewhere.example", "Outside", PASSWORD);
	ut_grant(&sys, A, other, outside, USHER__V1__ROLE__ROLE_MEMBER, NULL);
	const char *member[] = {"member@elsewhere.example"};
	assert_int_equal(ut_invite(&sys, A, owner, other, USHER__V1__ROLE__ROLE_MEMBER, NULL, member, 1,
	                           &r, &st),
	                 US_OK);
	assert_int_equal(r->results[0]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED);
	assert_false(r->results[0]->existing_user);
}

/* A pending invitation that lapsed unseen (not yet marked expired) leaves its address free:
 * a new batch invites it afresh and marks the old one expired. */
static void test_lapsed_invitation_is_invited_afresh(void **state)
{
	(void)state;
	char *token;
	char *old = invite_one("lapsed.lucy@example.com", &token);
	const ut_db *db = ut_system_db(&sys, UT_INVITATION);
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "UPDATE invitation.invitations SET expires_at = now() - interval '1 minute' "
	         "WHERE id = '%s'", old);
	ut_db_admin_exec(db, sql);
	const char *emails[] = {"lapsed.lucy@example.com"};
	Usher__V1__CreateInvitationsReply *r;
	us_status st;
	assert_int_equal(ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails,
	                           1, &r, &st),
	                 US_OK);
	assert_int_equal(r->results[0]->outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	assert_string_not_equal(r->results[0]->invitation_id, old);
	assert_int_equal(ut_db_number(db, "SELECT count(*) FROM invitation.invitations"
	                                  " WHERE id = '%s' AND state = 'expired'", old),
	                 1);
	assert_int_equal(ut_db_number(db, "SELECT count(*) FROM invitation.invitations"
	                                  " WHERE email = 'lapsed.lucy@example.com'"
	                                  " AND state = 'pending'"),
	                 1);
}

static void test_no_raw_token_in_the_schema(void **state)
{
	(void)state;
	char *token;
	invite_one("secret.keeper@example.com", &token);
	PGconn *conn = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	PGresult *tables = PQexec(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'invitation'");
	assert_int_equal(PQresultStatus(tables), PGRES_TUPLES_OK);
	assert_true(PQntuples(tables) >= 3);
	for (int i = 0; i < PQntuples(tables); i++) {
		const char *table = PQgetvalue(tables, i, 0);
		/* Every row of the table as text. */
		char *ident = PQescapeIdentifier(conn, table, strlen(table));
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM invitation.%s t",
		         ident);
		PQfreemem(ident);
		PGresult *dump = PQexec(conn, sql);
		assert_int_equal(PQresultStatus(dump), PGRES_TUPLES_OK);
		const char *text = PQgetvalue(dump, 0, 0);
		if (strstr(text, token) != NULL)
			fail_msg("the raw token is stored in invitation.%s", table);
		PQclear(dump);
	}
	PQclear(tables);
	PQfinish(conn);
}

static void test_new_user_accepts(void **state)
{
	(void)state;
	char *token;
	char *id = invite_as("nora.new@example.com", USHER__V1__ROLE__ROLE_MODERATOR, "calling",
	                     "messages.view_body", &token);
	Usher__V1__AcceptReply *r;
	us_status st;
	us_err rc = accept_new(token, "Nora New", &r, &st);
	if (rc != US_OK)
		fail_msg("accept: %s", st.message);
	assert_true(r->user_created);
	assert_string_equal(r->user->email, "nora.new@example.com");
	assert_true(r->user->email_verified);
	/* The membership carries what the invitation said. */
	assert_int_equal(r->membership->role, USHER__V1__ROLE__ROLE_MODERATOR);
	assert_true(r->membership->scope->organization);
	assert_string_equal(r->membership->account_id, account);
	assert_int_equal(r->membership->n_products, 1);
	assert_string_equal(r->membership->products[0], "calling");
	assert_int_equal(r->membership->n_flags, 1);
	assert_string_equal(r->membership->flags[0], "messages.view_body");
	assert_int_equal(r->invitation->state, USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED);
	char *user = r->user->id;

	/* The new user can sign in with the password chosen at accept. */
	assert_non_null(ut_login(&sys, A, "nora.new@example.com", PASSWORD));
	assert_int_equal(ut_count_memberships(&sys, A, account, user), 1);

	/* The same link again is refused, and nothing changes. */
	rc = accept_new(token, "Nora Again", &r, &st);
	assert_int_equal(rc, US_EPRECONDITION);
	assert_non_null(strstr(st.message, "already been accepted"));
	us_status_clear(&st);
	assert_int_equal(ut_count_memberships(&sys, A, account, user), 1);
	Usher__V1__Invitation *inv = get_invitation(owner, id, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED);
	assert_string_equal(inv->accepted_user_id, user);

	/* The inviter hears about it. */
	ut_email notice;
	assert_true(ut_wait_email(spool, A, owner_email, NULL, 0, MAIL_WAIT_MS, &notice));
	assert_non_null(strstr(notice.text, "nora.new@example.com"));
}

/* identityd owns the password rule: its word on a weak password reaches the invitee as
 * new_user.password, and the refused accept leaves the invitation to accept again. */
static void test_a_weak_password_gets_identityds_word(void **state)
{
	(void)state;
	char *token;
	char *id = invite_as("wes.weak@example.com", USHER__V1__ROLE__ROLE_MEMBER, NULL, NULL, &token);
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = "Wes Weak";
	profile.password = "short";
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = token;
	req.new_user = &profile;
	Usher__V1__AcceptReply *r;
	us_status st;
	us_err rc = ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	                    &usher__v1__accept_reply__descriptor, A, (ProtobufCMessage **)&r, &st);
	assert_int_equal(rc, US_EINVAL);
	const char *why = us_status_violation(&st, "new_user.password");
	if (why == NULL)
		fail_msg("no new_user.password violation: %s", st.message);
	assert_string_equal(why, "must be at least 8 characters");
	us_status_clear(&st);
	Usher__V1__Invitation *inv = get_invitation(owner, id, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_PENDING);

	rc = accept_new(token, "Wes Weak", &r, &st);
	if (rc != US_OK)
		fail_msg("accept: %s", st.message);
	assert_true(r->user_created);
}

static void test_existing_user_accepts_with_their_session(void **state)
{
	(void)state;
	ut_create_user(&sys, A, "erin@example.com", "Erin", PASSWORD);
	ut_create_user(&sys, A, "yusuf@example.com", "Yusuf", PASSWORD);
	char *token;
	char *id = invite_one("erin@example.com", &token);

	/* The shared computer: someone else is signed in. Nothing is consumed. */
	char *yusuf_session = ut_login(&sys, A, "yusuf@example.com", PASSWORD);
	Usher__V1__AcceptReply *r;
	us_status st;
	assert_int_equal(accept_existing(token, yusuf_session, &r, &st), US_EDENIED);
	assert_string_equal(st.message, "invited as erin@example.com, signed in as yusuf@example.com");
	us_status_clear(&st);
	us_err rc;
	Usher__V1__PreviewReply *p = preview(token, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_int_equal(p->state, USHER__V1__INVITATION_STATE__INVITATION_PENDING);

	char *erin_session = ut_login(&sys, A, "erin@example.com", PASSWORD);
	rc = accept_existing(token, erin_session, &r, &st);
	if (rc != US_OK)
		fail_msg("accept: %s", st.message);
	assert_false(r->user_created);
	assert_int_equal(ut_count_memberships(&sys, A, account, r->user->id), 1);
	char *membership = r->membership->id;

	/* Erin again (her answer was lost, or she clicked twice, from another session): the
	 * same success, nothing doubled. Yusuf is still refused. */
	rc = accept_existing(token, ut_login(&sys, A, "erin@example.com", PASSWORD), &r, &st);
	if (rc != US_OK)
		fail_msg("accept again: %s", st.message);
	assert_string_equal(r->membership->id, membership);
	assert_int_equal(r->invitation->state, USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED);
	assert_int_equal(ut_count_memberships(&sys, A, account, r->user->id), 1);
	assert_int_equal(accept_existing(token, yusuf_session, &r, &st), US_EPRECONDITION);
	assert_non_null(strstr(st.message, "already been accepted"));
	us_status_clear(&st);
	Usher__V1__Invitation *inv = get_invitation(owner, id, &rc, &st);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED);
}

/* The claim runs while identityd checks the session, and the finish while tenancyd
 * grants: neither is kept unless what it waited for went well. A session identityd does
 * not know claims nothing; a grant tenancyd refuses (the inviter was demoted meanwhile)
 * revokes the invitation, and nothing of the finish stays. */
static void test_an_accept_keeps_nothing_that_was_not_vouched_for(void **state)
{
	(void)state;
	char *ada = ut_create_user(&sys, A, "vouch.inviter@example.com", "Ada", PASSWORD);
	char *ivy = ut_create_user(&sys, A, "vouch.invitee@example.com", "Ivy", PASSWORD);
	ut_grant(&sys, A, account, ada, USHER__V1__ROLE__ROLE_OWNER, NULL);
	const char *emails[] = {"vouch.invitee@example.com"};
	Usher__V1__CreateInvitationsReply *invited;
	us_status st;
	if (ut_invite(&sys, A, ada, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails, 1,
	              &invited, &st) != US_OK)
		fail_msg("invite: %s", st.message);
	char *id = invited->results[0]->invitation_id;
	ut_email mail;
	assert_true(ut_wait_email(spool, A, "vouch.invitee@example.com", "Invitation", 0, MAIL_WAIT_MS, &mail));

	Usher__V1__AcceptReply *r;
	/* Shaped as identityd issues them, but never issued. */
	const char *unknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	assert_int_equal(accept_existing(mail.token, unknown, &r, &st),
	                 US_EUNAUTHENTICATED);
	us_status_clear(&st);
	/* Not shaped as a session token at all: refused as the bad input it is, naming it. */
	assert_int_equal(accept_existing(mail.token, "not a token!", &r, &st), US_EINVAL);
	assert_int_equal(st.n_violations, 1);
	assert_string_equal(st.violations[0].field, "session_token");
	us_status_clear(&st);
	us_err rc;
	Usher__V1__Invitation *inv = get_invitation(owner, id, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_PENDING);

	Usher__V1__ChangeRoleRequest demote = USHER__V1__CHANGE_ROLE_REQUEST__INIT;
	demote.account_id = account;
	demote.user_id = ada;
	demote.role = USHER__V1__ROLE__ROLE_MEMBER;
	ProtobufCMessage *out;
	if (ut_call(&sys, UT_TENANCY, "usher.v1.TenancyService/ChangeRole", owner, ut_key(A),
	            &demote.base, &usher__v1__change_role_reply__descriptor, A, &out, &st) != US_OK)
		fail_msg("demote: %s", st.message);
	char *session = ut_login(&sys, A, "vouch.invitee@example.com", PASSWORD);
	assert_int_equal(accept_existing(mail.token, session, &r, &st), US_EPRECONDITION);
	assert_non_null(strstr(st.message, "no longer"));
	us_status_clear(&st);
	inv = get_invitation(owner, id, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_REVOKED);
	assert_int_equal(ut_count_memberships(&sys, A, account, ivy), 0);
	/* Asked again, the same answer: the invitation stays revoked. */
	assert_int_equal(accept_existing(mail.token, session, &r, &st), US_EPRECONDITION);
	us_status_clear(&st);
}

static us_err answer_by_id(bool accept, const char *id, const char *actor, const char *session,
                           us_status *st)
{
	ProtobufCMessage *out;
	if (accept) {
		Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
		req.invitation_id = (char *)id;
		req.session_token = (char *)session;
		return ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
		               &usher__v1__accept_reply__descriptor, A, &out, st);
	}
	Usher__V1__DeclineRequest req = USHER__V1__DECLINE_REQUEST__INIT;
	req.invitation_id = (char *)id;
	return ut_call(&sys, UT_INVITATION, INV "Decline", actor, NULL, &req.base,
	               &usher__v1__decline_reply__descriptor, A, &out, st);
}

/* My accounts: the invitee answers by the invitation's id, proving who they are by their
 * session (accept) or as the actor (decline); nobody else can, and a token and an id
 * together are refused. */
static void test_the_invitee_answers_by_id_from_my_accounts(void **state)
{
	(void)state;
	char *ivy = ut_create_user(&sys, A, "ivy@example.com", "Ivy", PASSWORD);
	char *zoe = ut_create_user(&sys, A, "zoe@example.com", "Zoe", PASSWORD);
	char *token, *token2;
	char *id = invite_one("ivy@example.com", &token);
	char *id2 = invite_as("zoe@example.com", USHER__V1__ROLE__ROLE_MEMBER, NULL, NULL, &token2);
	us_status st;
	/* Someone else's invitation: refused, nothing consumed. */
	char *zoe_session = ut_login(&sys, A, "zoe@example.com", PASSWORD);
	assert_int_equal(answer_by_id(true, id, NULL, zoe_session, &st), US_EDENIED);
	us_status_clear(&st);
	assert_int_equal(answer_by_id(false, id, zoe, NULL, &st), US_ENOTFOUND);
	us_status_clear(&st);
	/* Without a session, or with the token too: refused as invalid. */
	assert_int_equal(answer_by_id(true, id, ivy, NULL, &st), US_EINVAL);
	us_status_clear(&st);
	Usher__V1__AcceptRequest both = USHER__V1__ACCEPT_REQUEST__INIT;
	both.token = token;
	both.invitation_id = id;
	both.session_token = ut_login(&sys, A, "ivy@example.com", PASSWORD);
	ProtobufCMessage *out;
	assert_int_equal(ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &both.base,
	                         &usher__v1__accept_reply__descriptor, A, &out, &st),
	                 US_EINVAL);
	us_status_clear(&st);
	us_err rc;
	assert_int_equal(get_invitation(owner, id, &rc, &st)->state,
	                 USHER__V1__INVITATION_STATE__INVITATION_PENDING);
	/* Ivy accepts hers; Zoe declines hers. */
	rc = answer_by_id(true, id, NULL, both.session_token, &st);
	if (rc != US_OK)
		fail_msg("accept by id: %s", st.message);
	assert_int_equal(ut_count_memberships(&sys, A, account, ivy), 1);
	rc = answer_by_id(false, id2, zoe, NULL, &st);
	if (rc != US_OK)
		fail_msg("decline by id: %s", st.message);
	assert_int_equal(get_invitation(owner, id2, &rc, &st)->state,
	                 USHER__V1__INVITATION_STATE__INVITATION_DECLINED);
	assert_int_equal(ut_count_memberships(&sys, A, account, zoe), 0);
}

static void test_expiry_reinvite_revoke_and_decline(void **state)
{
	(void)state;
	us_status st;
	us_err rc;
	/* Expired: the link says so. */
	char *old_token;
	char *id = invite_one("late.larry@example.com", &old_token);
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "UPDATE invitation.invitations SET expires_at = now() - interval '1 minute' "
	         "WHERE id = '%s'", id);
	ut_db_admin_exec(ut_system_db(&sys, UT_INVITATION), sql);
	Usher__V1__AcceptReply *r;
	assert_int_equal(accept_new(old_token, "Larry", &r, &st), US_EPRECONDITION);
	assert_non_null(strstr(st.message, "expired"));
	us_status_clear(&st);
	Usher__V1__Invitation *inv = get_invitation(owner, id, &rc, &st);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_EXPIRED);

	/* Reinvite: a new link, the old one dead at once. */
	Usher__V1__InvitationRef ref = USHER__V1__INVITATION_REF__INIT;
	ref.invitation_id = id;
	rc = ut_call(&sys, UT_INVITATION, INV "Reinvite", owner, ut_key(A), &ref.base,
	             &usher__v1__reinvite_reply__descriptor, A, NULL, &st);
	if (rc != US_OK)
		fail_msg("reinvite: %s", st.message);
	ut_email second;
	assert_true(ut_wait_email(spool, A, "late.larry@example.com", "Invitation", 1, MAIL_WAIT_MS,
	                          &second));
	assert_string_not_equal(second.token, old_token);
	preview(old_token, &rc, &st);
	assert_int_equal(rc, US_ENOTFOUND);
	us_status_clear(&st);
	rc = accept_new(second.token, "Larry", &r, &st);
	if (rc != US_OK)
		fail_msg("accept after reinvite: %s", st.message);

	/* Revoked: refused. */
	char *revoked_token;
	char *revoked = invite_one("rita.revoked@example.com", &revoked_token);
	ref.invitation_id = revoked;
	assert_int_equal(ut_call(&sys, UT_INVITATION, INV "Revoke", owner, ut_key(A), &ref.base,
	                         &usher__v1__revoke_reply__descriptor, A, NULL, &st),
	                 US_OK);
	assert_int_equal(accept_new(revoked_token, "Rita", &r, &st), US_EPRECONDITION);
	assert_non_null(strstr(st.message, "revoked"));
	us_status_clear(&st);

	/* Declined: the inviter is told. */
	size_t notices = ut_count_emails(spool, owner_email);
	char *declined_token;
	char *declined = invite_one("dan.declines@example.com", &declined_token);
	Usher__V1__DeclineRequest dreq = USHER__V1__DECLINE_REQUEST__INIT;
	dreq.token = declined_token;
	assert_int_equal(ut_call(&sys, UT_INVITATION, INV "Decline", NULL, NULL, &dreq.base,
	                         &usher__v1__decline_reply__descriptor, A, NULL, &st),
	                 US_OK);
	ut_email notice;
	assert_true(ut_wait_email(spool, A, owner_email, NULL, notices, MAIL_WAIT_MS, &notice));
	assert_non_null(strstr(notice.text, "dan.declines@example.com"));
	inv = get_invitation(owner, declined, &rc, &st);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_DECLINED);
	/* Declining again (a retry whose answer was lost) is answered the same. */
	assert_int_equal(ut_call(&sys, UT_INVITATION, INV "Decline", NULL, NULL, &dreq.base,
	                         &usher__v1__decline_reply__descriptor, A, NULL, &st),
	                 US_OK);
	assert_int_equal(accept_new(declined_token, "Dan", &r, &st), US_EPRECONDITION);
	us_status_clear(&st);
}

typedef struct racer {
	const char *token;
	char password[64]; /* one each: 50 people, not one request sent 50 times */
	us_err rc;
} racer;

static void *race_accept(void *arg)
{
	racer *r = arg;
	us_arena *a = us_arena_new();
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = "Racer";
	profile.password = r->password;
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = (char *)r->token;
	req.new_user = &profile;
	us_status st;
	r->rc = ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	                &usher__v1__accept_reply__descriptor, a, NULL, &st);
	us_status_clear(&st);
	us_arena_free(a);
	return NULL;
}

static void test_fifty_concurrent_accepts_make_one_membership(void **state)
{
	(void)state;
	char *token;
	invite_one("rachel.race@example.com", &token);
	enum { N = 50 };
	pthread_t threads[N];
	racer racers[N];
	for (int i = 0; i < N; i++) {
		racers[i].token = token;
		snprintf(racers[i].password, sizeof(racers[i].password), "racer number %d", i);
		pthread_create(&threads[i], NULL, race_accept, &racers[i]);
	}
	int ok = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(threads[i], NULL);
		ok += racers[i].rc == US_OK;
	}
	assert_int_equal(ok, 1);
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	char *email = "rachel.race@example.com";
	req.emails = &email;
	req.n_emails = 1;
	ProtobufCMessage *out;
	us_status st;
	assert_int_equal(ut_call(&sys, UT_IDENTITY, "usher.v1.IdentityService/LookupEmails", NULL, NULL,
	                         &req.base, &usher__v1__lookup_emails_reply__descriptor, A, &out, &st),
	                 US_OK);
	Usher__V1__LookupEmailsReply *users = (Usher__V1__LookupEmailsReply *)out;
	assert_int_equal(users->n_matches, 1);
	assert_int_equal(ut_count_memberships(&sys, A, account, users->matches[0]->user_id), 1);
}

/* The accept the crash test sends: it waits as long as the accept may take (argon2 under
 * sanitizers is slow), across the crash: the RPC client sends the request again to the
 * restarted daemon. */
typedef struct crash_accept {
	const char *token;
	us_err rc;
	char user_id[64];
	bool user_created;
} crash_accept;

static void *accept_during_crash(void *arg)
{
	crash_accept *c = arg;
	us_arena *a = us_arena_new();
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = "Carl";
	profile.phone = "+14155550123";
	profile.password = PASSWORD;
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = (char *)c->token;
	req.new_user = &profile;
	us_rpc_client *client;
	char err[128];
	c->rc = US_EUNAVAILABLE;
	us_rpc_client_opts copts = {.url = sys.daemons[UT_INVITATION].url, .caller = "test"};
	if (us_rpc_client_open(&copts, &client, err, sizeof(err)) == US_OK) {
		us_rpc_call_opts call = {.timeout_ms = 60000};
		us_status st;
		ProtobufCMessage *out = NULL;
		c->rc = us_rpc_call(client, INV "Accept", &call, &req.base,
		                    &usher__v1__accept_reply__descriptor, a, &out, &st);
		if (c->rc == US_OK) {
			Usher__V1__AcceptReply *r = (Usher__V1__AcceptReply *)out;
			snprintf(c->user_id, sizeof(c->user_id), "%s", r->user->id);
			c->user_created = r->user_created;
		}
		us_status_clear(&st);
		us_rpc_client_close(client);
	}
	us_arena_free(a);
	return NULL;
}

/* invitationd dies at the fault point during an accept; the caller's request, sent again,
 * and a retry of it are answered with the success, and one user, one membership result. */
static void crash_during_accept(const char *email, const char *fault)
{
	char *token;
	char *id = invite_one(email, &token);

	/* Restart invitationd armed to die at the point. */
	assert_int_not_equal(ut_system_signal(&sys, UT_INVITATION, SIGTERM, 60000, NULL), -1);
	sys.extra_env[FAULT_SLOT] = fault;
	ut_system_start(&sys, UT_INVITATION);
	sys.extra_env[FAULT_SLOT] = NULL;

	crash_accept first = {.token = token};
	pthread_t t;
	pthread_create(&t, NULL, accept_during_crash, &first);
	int status = ut_system_wait(&sys, UT_INVITATION, 60000);
	assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Back up without the fault: the request the client sends again is answered as if the
	 * accept had gone through at once (the recovery loop may have finished it first). */
	ut_system_start(&sys, UT_INVITATION);
	pthread_join(t, NULL);
	if (first.rc != US_OK)
		fail_msg("the accept in flight at the crash got %s", us_err_name(first.rc));
	assert_true(first.user_created);

	/* The caller retries the same request: the same success. */
	Usher__V1__AcceptReply *r;
	us_status st;
	us_err rc = accept_new(token, "Carl", &r, &st);
	if (rc != US_OK)
		fail_msg("the retried accept got %s: %s", us_err_name(rc), st.message);
	assert_true(r->user_created);
	assert_string_equal(r->user->id, first.user_id);
	assert_string_equal(r->membership->account_id, account);
	assert_int_equal(r->invitation->state, USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED);

	/* Someone else with the link (another password) is still refused. */
	Usher__V1__NewUserProfile other = USHER__V1__NEW_USER_PROFILE__INIT;
	other.name = "Carl";
	other.phone = "+14155550123";
	other.password = "someone else's password";
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = token;
	req.new_user = &other;
	assert_int_equal(ut_call(&sys, UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	                         &usher__v1__accept_reply__descriptor, A, NULL, &st),
	                 US_EPRECONDITION);
	assert_non_null(strstr(st.message, "already been accepted"));
	us_status_clear(&st);

	Usher__V1__Invitation *inv = get_invitation(owner, id, &rc, &st);
	assert_int_equal(rc, US_OK);
	assert_int_equal(inv->state, USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED);
	assert_string_equal(inv->accepted_user_id, first.user_id);
	assert_int_equal(ut_count_memberships(&sys, A, account, inv->accepted_user_id), 1);
	assert_non_null(ut_login(&sys, A, email, PASSWORD));
}

static void test_crash_between_identity_and_membership_recovers(void **state)
{
	(void)state;
	crash_during_accept("carl.crash@example.com", "USHER_FAULT=accept.after_identity");
}

static void test_crash_before_the_user_is_created_recovers(void **state)
{
	(void)state;
	crash_during_accept("cora.crash@example.com", "USHER_FAULT=accept.after_claim");
}

/* --- permanent links --- */

/* Enables a link on the account (max_uses 0: unlimited) and returns its token. */
static char *enable_link(unsigned max_uses, char **link_id)
{
	Usher__V1__EnableLinkRequest req = USHER__V1__ENABLE_LINK_REQUEST__INIT;
	req.account_id = account;
	req.max_uses = max_uses;
	ProtobufCMessage *out;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, INV "EnableLink", owner, ut_key(A), &req.base,
	            &usher__v1__link_reply__descriptor, A, &out, &st) != US_OK)
		fail_msg("EnableLink: %s", st.message);
	Usher__V1__InvitationLink *link = ((Usher__V1__LinkReply *)out)->link;
	if (link_id != NULL)
		*link_id = link->id;
	return strstr(link->url, "/l/") + 3;
}

typedef struct joiner {
	const char *token;
	char email[64];
	char password[64];
	us_err rc;
	char user_id[64];
	char membership_id[64]; /* "" while the join awaits its confirmation */
	bool awaiting;
	uint32_t timeout_ms; /* 0: the harness's default */
} joiner;

static void *join_link(void *arg)
{
	joiner *j = arg;
	us_arena *a = us_arena_new();
	Usher__V1__LinkNewUser u = USHER__V1__LINK_NEW_USER__INIT;
	u.email = j->email;
	u.name = "Joiner";
	u.password = j->password;
	Usher__V1__AcceptLinkRequest req = USHER__V1__ACCEPT_LINK_REQUEST__INIT;
	req.token = (char *)j->token;
	req.new_user = &u;
	us_rpc_client *client;
	char err[128];
	j->rc = US_EUNAVAILABLE;
	j->user_id[0] = j->membership_id[0] = '\0';
	j->awaiting = false;
	us_rpc_client_opts copts = {.url = sys.daemons[UT_INVITATION].url, .caller = "test"};
	if (us_rpc_client_open(&copts, &client, err, sizeof(err)) == US_OK) {
		us_rpc_call_opts call = {.timeout_ms = j->timeout_ms ? j->timeout_ms : 60000};
		us_status st;
		ProtobufCMessage *out = NULL;
		j->rc = us_rpc_call(client, INV "AcceptLink", &call, &req.base,
		                    &usher__v1__accept_link_reply__descriptor, a, &out, &st);
		if (j->rc == US_OK) {
			Usher__V1__AcceptLinkReply *r = (Usher__V1__AcceptLinkReply *)out;
			snprintf(j->user_id, sizeof(j->user_id), "%s", r->user->id);
			if (r->membership != NULL)
				snprintf(j->membership_id, sizeof(j->membership_id), "%s", r->membership->id);
			j->awaiting = r->awaiting_confirmation;
		}
		us_status_clear(&st);
		us_rpc_client_close(client);
	}
	us_arena_free(a);
	return NULL;
}

/* The token of the nth confirmation emailed to a link's joiner. */
static char *confirmation_token(const char *email, size_t nth)
{
	ut_email mail;
	if (!ut_wait_email(spool, A, email, "Confirm your email address", nth, MAIL_WAIT_MS, &mail) ||
	    mail.token == NULL)
		fail_msg("no confirmation #%zu reached %s", nth, email);
	return mail.token;
}

/* Follows a join's confirmation link; the membership's id into membership_id. */
static us_err confirm_join(const char *token, char membership_id[64], us_status *st)
{
	Usher__V1__ConfirmLinkJoinRequest req = USHER__V1__CONFIRM_LINK_JOIN_REQUEST__INIT;
	req.token = (char *)token;
	ProtobufCMessage *out = NULL;
	us_err rc = ut_call(&sys, UT_INVITATION, INV "ConfirmLinkJoin", NULL, NULL, &req.base,
	                    &usher__v1__accept_link_reply__descriptor, A, &out, st);
	if (rc == US_OK)
		snprintf(membership_id, 64, "%s", ((Usher__V1__AcceptLinkReply *)out)->membership->id);
	return rc;
}

/* How many users identityd has at these addresses. */
static size_t users_among(char **emails, size_t n)
{
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = emails;
	req.n_emails = n;
	ProtobufCMessage *out;
	us_status st;
	assert_int_equal(ut_call(&sys, UT_IDENTITY, "usher.v1.IdentityService/LookupEmails", NULL, NULL,
	                         &req.base, &usher__v1__lookup_emails_reply__descriptor, A, &out, &st),
	                 US_OK);
	return ((Usher__V1__LookupEmailsReply *)out)->n_matches;
}

static long link_uses(const char *link_id)
{
	return ut_db_number(ut_system_db(&sys, UT_INVITATION),
	                    "SELECT uses FROM invitation.links WHERE id = '%s'", link_id);
}

/* Fifty people sign up at once on a link with five uses: five users, each asked to
 * confirm the address, and nobody created who cannot get in (the use is taken before the
 * user is created, and held until the confirmation); the five confirm and join. */
static void test_fifty_sign_ups_on_a_five_use_link_make_five_members(void **state)
{
	(void)state;
	enum { N = 50, USES = 5 };
	char *link_id;
	char *token = enable_link(USES, &link_id);
	joiner joiners[N];
	pthread_t threads[N];
	char *emails[N];
	for (int i = 0; i < N; i++) {
		joiners[i] = (joiner){.token = token};
		snprintf(joiners[i].email, sizeof(joiners[i].email), "crowd%d@example.com", i);
		snprintf(joiners[i].password, sizeof(joiners[i].password), "crowd password %d", i);
		emails[i] = joiners[i].email;
		pthread_create(&threads[i], NULL, join_link, &joiners[i]);
	}
	int ok = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(threads[i], NULL);
		if (joiners[i].rc == US_OK) {
			ok++;
			assert_true(joiners[i].awaiting);
			assert_int_equal(ut_count_memberships(&sys, A, account, joiners[i].user_id), 0);
		} else if (joiners[i].rc != US_EPRECONDITION) {
			fail_msg("%s got %s", joiners[i].email, us_err_name(joiners[i].rc));
		}
	}
	assert_int_equal(ok, USES);
	assert_int_equal(users_among(emails, N), USES);
	assert_int_equal(link_uses(link_id), USES);
	for (int i = 0; i < N; i++) {
		if (joiners[i].rc != US_OK)
			continue;
		char membership[64];
		us_status st;
		if (confirm_join(confirmation_token(joiners[i].email, 0), membership, &st) != US_OK)
			fail_msg("%s could not confirm: %s", joiners[i].email, st.message);
		assert_int_equal(ut_count_memberships(&sys, A, account, joiners[i].user_id), 1);
	}
	assert_int_equal(users_among(emails, N), USES);
	assert_int_equal(link_uses(link_id), USES);
}

/* A join whose answer was lost is answered again with its success: awaiting the
 * confirmation before it, the membership after. Its confirmation followed twice joins
 * once. The same address with another password, once proven, is not that request. */
static void test_a_retried_link_join_gets_its_success(void **state)
{
	(void)state;
	char *link_id;
	char *token = enable_link(0, &link_id);
	long uses = link_uses(link_id);
	joiner first = {.token = token, .email = "jo.again@example.com", .password = PASSWORD};
	join_link(&first);
	assert_int_equal(first.rc, US_OK);
	assert_true(first.awaiting);
	joiner again = first;
	join_link(&again);
	if (again.rc != US_OK)
		fail_msg("the retried join got %s", us_err_name(again.rc));
	assert_true(again.awaiting);
	assert_string_equal(again.user_id, first.user_id);

	char *confirmation = confirmation_token(first.email, 0);
	char membership[64], replayed[64];
	us_status st;
	assert_int_equal(confirm_join(confirmation, membership, &st), US_OK);
	assert_int_equal(confirm_join(confirmation, replayed, &st), US_OK);
	assert_string_equal(replayed, membership);
	join_link(&again);
	assert_int_equal(again.rc, US_OK);
	assert_false(again.awaiting);
	assert_string_equal(again.user_id, first.user_id);
	assert_string_equal(again.membership_id, membership);

	joiner other = {.token = token, .email = "jo.again@example.com", .password = "not the same one"};
	join_link(&other);
	assert_int_equal(other.rc, US_EPRECONDITION);
	assert_int_equal(link_uses(link_id), uses + 1);
	assert_int_equal(ut_count_memberships(&sys, A, account, first.user_id), 1);
	assert_int_equal(ut_count_emails(spool, first.email), 1);
}

/* A newer sign-up with an address whose join awaits its confirmation replaces it: the
 * link's last use passes to it (max_uses holds), the older confirmation link stops
 * working, and the newer one joins. */
static void test_a_newer_join_replaces_one_awaiting_confirmation(void **state)
{
	(void)state;
	char *link_id;
	char *token = enable_link(1, &link_id);
	joiner older = {.token = token, .email = "twice.typed@example.com", .password = "an older one"};
	join_link(&older);
	assert_int_equal(older.rc, US_OK);
	char *older_confirmation = confirmation_token(older.email, 0);
	joiner newer = {.token = token, .email = "twice.typed@example.com", .password = "a newer one"};
	join_link(&newer);
	if (newer.rc != US_OK)
		fail_msg("the newer join got %s", us_err_name(newer.rc));
	assert_true(newer.awaiting);
	assert_string_not_equal(newer.user_id, older.user_id);
	assert_int_equal(link_uses(link_id), 1);
	joiner stranger = {.token = token, .email = "someone.else@example.com", .password = PASSWORD};
	join_link(&stranger);
	assert_int_equal(stranger.rc, US_EPRECONDITION); /* used up */

	char membership[64];
	us_status st;
	assert_int_equal(confirm_join(older_confirmation, membership, &st), US_ENOTFOUND);
	us_status_clear(&st);
	assert_int_equal(confirm_join(confirmation_token(newer.email, 1), membership, &st), US_OK);
	assert_int_equal(ut_count_memberships(&sys, A, account, newer.user_id), 1);
	assert_int_equal(ut_count_memberships(&sys, A, account, older.user_id), 0);
	assert_int_equal(link_uses(link_id), 1);
}

/* invitationd dies after the joiner's user is created and before the confirmation is
 * asked for: the request sent again, and a retry, get the success; one user, one
 * confirmation, one use, and the membership once it is followed. */
static void test_crash_during_a_link_join_recovers(void **state)
{
	(void)state;
	char *link_id;
	char *token = enable_link(0, &link_id);
	long uses = link_uses(link_id);
	assert_int_not_equal(ut_system_signal(&sys, UT_INVITATION, SIGTERM, 60000, NULL), -1);
	sys.extra_env[FAULT_SLOT] = "USHER_FAULT=link.after_user";
	ut_system_start(&sys, UT_INVITATION);
	sys.extra_env[FAULT_SLOT] = NULL;

	joiner first = {.token = token, .email = "jay.crash@example.com", .password = PASSWORD};
	pthread_t t;
	pthread_create(&t, NULL, join_link, &first);
	int status = ut_system_wait(&sys, UT_INVITATION, 60000);
	assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ut_system_start(&sys, UT_INVITATION);
	pthread_join(t, NULL);
	if (first.rc != US_OK)
		fail_msg("the join in flight at the crash got %s", us_err_name(first.rc));
	assert_true(first.awaiting);
	joiner again = first;
	join_link(&again);
	assert_int_equal(again.rc, US_OK);
	assert_string_equal(again.user_id, first.user_id);
	char membership[64];
	us_status st;
	assert_int_equal(confirm_join(confirmation_token(first.email, 0), membership, &st), US_OK);
	char *email = first.email;
	assert_int_equal(users_among(&email, 1), 1);
	assert_int_equal(ut_count_memberships(&sys, A, account, first.user_id), 1);
	assert_int_equal(link_uses(link_id), uses + 1);
	assert_int_equal(ut_count_emails(spool, first.email), 1);
}

/* Joins nobody attends to: the recovery loop gives back the use of one whose caller gave
 * up before a user was created, and asks the joiner whose user exists to confirm (who then
 * joins); a confirmation never followed gives its use back when it expires. */
static void test_abandoned_link_joins_are_given_back_or_carried_on(void **state)
{
	(void)state;
	char *link_id;
	char *token = enable_link(0, &link_id);
	const char *faults[] = {"USHER_FAULT=link.after_use", "USHER_FAULT=link.after_user"};
	for (int i = 0; i < 2; i++) {
		long uses = link_uses(link_id);
		assert_int_not_equal(ut_system_signal(&sys, UT_INVITATION, SIGTERM, 60000, NULL), -1);
		sys.extra_env[FAULT_SLOT] = faults[i];
		ut_system_start(&sys, UT_INVITATION);
		sys.extra_env[FAULT_SLOT] = NULL;
		joiner gone = {.token = token, .password = PASSWORD, .timeout_ms = 5000};
		snprintf(gone.email, sizeof(gone.email), "gone%d@example.com", i);
		pthread_t t;
		pthread_create(&t, NULL, join_link, &gone);
		int status = ut_system_wait(&sys, UT_INVITATION, 60000);
		assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		pthread_join(t, NULL); /* its deadline passed: nothing will come again */
		assert_int_not_equal(gone.rc, US_OK);
		ut_system_start(&sys, UT_INVITATION);

		char *email = gone.email;
		if (i == 0) {
			int64_t deadline = us_monotonic_ms() + 60000;
			while (!(link_uses(link_id) == uses && users_among(&email, 1) == 0 &&
			         ut_db_number(ut_system_db(&sys, UT_INVITATION),
			                      "SELECT count(*) FROM invitation.link_claims") ==
			                 0)) {
				if (us_monotonic_ms() > deadline)
					fail_msg("the join abandoned at %s was not given back in 60 s", faults[i]);
				usleep(100 * 1000);
			}
			continue;
		}
		/* The recovery loop mails the confirmation; following it joins. */
		char *confirmation = confirmation_token(gone.email, 0);
		assert_int_equal(link_uses(link_id), uses + 1);
		char membership[64];
		us_status st;
		if (confirm_join(confirmation, membership, &st) != US_OK)
			fail_msg("confirming the carried-on join: %s", st.message);
		assert_int_equal(users_among(&email, 1), 1);
		assert_int_equal(link_uses(link_id), uses + 1);
	}

	/* A confirmation that expires unfollowed gives its use back, and its link is dead. */
	long uses = link_uses(link_id);
	joiner idle = {.token = token, .email = "never.confirms@example.com", .password = PASSWORD};
	join_link(&idle);
	assert_int_equal(idle.rc, US_OK);
	char *confirmation = confirmation_token(idle.email, 0);
	assert_int_equal(link_uses(link_id), uses + 1);
	ut_db_number(ut_system_db(&sys, UT_INVITATION),
	             "WITH x AS (UPDATE invitation.link_join_requests SET expires_at = now()"
	             " WHERE email = 'never.confirms@example.com' RETURNING 1)"
	             " SELECT count(*) FROM x");
	int64_t deadline = us_monotonic_ms() + 60000;
	while (link_uses(link_id) != uses) {
		if (us_monotonic_ms() > deadline)
			fail_msg("an expired confirmation did not give its use back in 60 s");
		usleep(100 * 1000);
	}
	char membership[64];
	us_status st;
	assert_int_equal(confirm_join(confirmation, membership, &st), US_ENOTFOUND);
	us_status_clear(&st);
	assert_int_equal(ut_count_memberships(&sys, A, account, idle.user_id), 0);
}

static void test_who_may_invite_and_see(void **state)
{
	(void)state;
	char *sub = ut_create_subaccount(&sys, A, owner, account, "North");
	char *admin = ut_create_user(&sys, A, "adam.admin@example.com", "Adam", PASSWORD);
	char *mod = ut_create_user(&sys, A, "moe.mod@example.com", "Moe", PASSWORD);
	ut_grant(&sys, A, account, admin, USHER__V1__ROLE__ROLE_ADMIN, sub);
	ut_grant(&sys, A, account, mod, USHER__V1__ROLE__ROLE_MODERATOR, sub);
	const char *emails[] = {"someone.new@example.com"};
	Usher__V1__CreateInvitationsReply *r;
	us_status st;

	/* An admin cannot invite an owner (owners are organization-level), nor a member at
	 * organization level... */
	assert_int_equal(ut_invite(&sys, A, admin, account, USHER__V1__ROLE__ROLE_OWNER, NULL, emails, 1,
	                           &r, &st),
	                 US_EDENIED);
	us_status_clear(&st);
	/* ...nor above their own role in their own subaccount... */
	assert_int_equal(ut_invite(&sys, A, mod, account, USHER__V1__ROLE__ROLE_ADMIN, sub, emails, 1,
	                           &r, &st),
	                 US_EDENIED);
	us_status_clear(&st);
	assert_int_equal(ut_invite(&sys, A, admin, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails,
	                           1, &r, &st),
	                 US_EDENIED);
	us_status_clear(&st);
	/* ...but can invite into their subaccount at their level or lower. */
	assert_int_equal(ut_invite(&sys, A, admin, account, USHER__V1__ROLE__ROLE_MEMBER, sub, emails,
	                           1, &r, &st),
	                 US_OK);
	char *id = r->results[0]->invitation_id;
	/* A moderator cannot invite. */
	const char *more[] = {"another.new@example.com"};
	assert_int_equal(ut_invite(&sys, A, mod, account, USHER__V1__ROLE__ROLE_MEMBER, sub, more, 1,
	                           &r, &st),
	                 US_EDENIED);
	us_status_clear(&st);

	/* Someone from another account sees the same as for an invitation that does not
	 * exist. */
	char *stranger = ut_create_user(&sys, A, "stan.stranger@example.com", "Stan", PASSWORD);
	ut_create_account(&sys, A, stranger, "Other Co", "");
	us_err rc_theirs, rc_none;
	us_status st_theirs, st_none;
	get_invitation(stranger, id, &rc_theirs, &st_theirs);
	get_invitation(stranger, "00000000-0000-4000-8000-000000000000", &rc_none, &st_none);
	assert_int_equal(rc_theirs, US_ENOTFOUND);
	assert_int_equal(rc_none, rc_theirs);
	assert_string_equal(st_theirs.message, st_none.message);
	us_status_clear(&st_theirs);
	us_status_clear(&st_none);
}

/* The db_round_trips of the last CreateInvitations in invitationd's log. */
static long last_batch_round_trips(void)
{
	FILE *f = fopen(sys.daemons[UT_INVITATION].log_path, "r");
	assert_non_null(f);
	char line[8192];
	long trips = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *doc = json_loads(line, 0, NULL);
		if (doc == NULL)
			continue;
		const char *method = json_string_value(json_object_get(doc, "method"));
		const char *msg = json_string_value(json_object_get(doc, "msg"));
		const char *value = json_string_value(json_object_get(doc, "db_round_trips"));
		if (method && msg && value && strcmp(msg, "request handled") == 0 &&
		    strcmp(method, INV "CreateInvitations") == 0)
			trips = atol(value);
		json_decref(doc);
	}
	fclose(f);
	return trips;
}

static void test_batch_round_trips_do_not_grow_with_size(void **state)
{
	(void)state;
	long trips[2];
	const size_t sizes[2] = {10, 1000};
	for (int k = 0; k < 2; k++) {
		const char **emails = US_ARENA_ARRAY(A, const char *, sizes[k]);
		for (size_t i = 0; i < sizes[k]; i++)
			emails[i] = us_arena_printf(A, "bulk%d.%zu@example.com", k, i);
		Usher__V1__CreateInvitationsReply *r;
		us_status st;
		assert_int_equal(ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL,
		                           emails, sizes[k], &r, &st),
		                 US_OK);
		assert_int_equal(r->created, sizes[k]);
		trips[k] = last_batch_round_trips();
	}
	assert_true(trips[0] > 0);
	assert_int_equal(trips[0], trips[1]);
}

/* Invitations to email in the invitation database, whatever their state. */
static long invitations_to(const char *email)
{
	PGconn *conn = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	const char *params[] = {email};
	PGresult *res = PQexecParams(conn, "SELECT count(*) FROM invitation.invitations WHERE email = $1",
	                             1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	long n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return n;
}

/* CreateInvitations of email as the owner, with a deadline of timeout_ms. */
static us_err invite_within(const char *email, uint32_t timeout_ms, us_status *st)
{
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	char *emails[] = {(char *)email};
	req.account_id = account;
	req.scope = &org;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.emails = emails;
	req.n_emails = 1;
	us_rpc_client *client;
	char err[128];
	us_rpc_client_opts copts = {.url = sys.daemons[UT_INVITATION].url, .caller = "test"};
	if (us_rpc_client_open(&copts, &client, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	us_rpc_call_opts call = {
		.timeout_ms = timeout_ms, .idempotency_key = ut_key(A), .actor_user_id = owner};
	ProtobufCMessage *out;
	us_err rc = us_rpc_call(client, INV "CreateInvitations", &call, &req.base,
	                        &usher__v1__create_invitations_reply__descriptor, A, &out, st);
	us_rpc_client_close(client);
	return rc;
}

/* CreateInvitations asks identityd and tenancyd at once. When one of them fails or does
 * not answer, the call fails with its error whatever the other answered, writes nothing,
 * and invitationd goes on serving. */
static void test_a_failed_or_silent_peer_fails_the_invitation_and_writes_nothing(void **state)
{
	(void)state;
	/* identityd fails (the inviter is gone from it) while tenancyd allows (still the
	 * account's owner there). */
	char *ghost = ut_create_user(&sys, A, "ghost.owner@example.com", "Ghost Owner", PASSWORD);
	char *haunted = ut_create_account(&sys, A, ghost, "Haunted Co", "");
	ut_db_admin_exec(ut_system_db(&sys, UT_IDENTITY),
	                 us_arena_printf(A, "DELETE FROM identity.users WHERE id = '%s'", ghost));
	const char *boo[] = {"boo@example.com"};
	Usher__V1__CreateInvitationsReply *r;
	us_status st;
	assert_int_equal(ut_invite(&sys, A, ghost, haunted, USHER__V1__ROLE__ROLE_MEMBER, NULL, boo,
	                           1, &r, &st),
	                 US_EINTERNAL);
	us_status_clear(&st);
	assert_int_equal(invitations_to("boo@example.com"), 0);

	/* tenancyd takes the call and never answers (paused) while identityd answers: the call
	 * ends at its deadline. invitationd's deadline counts from when it received the call,
	 * a moment after ours: tenancyd resumes only once invitationd has given up too. */
	long from = ut_log_lines(&sys.daemons[UT_INVITATION]) + 1;
	assert_int_equal(kill(sys.daemons[UT_TENANCY].pid, SIGSTOP), 0);
	us_err rc = invite_within("silent@example.com", 2000, &st);
	long gave_up = ut_log_wait(&sys.daemons[UT_INVITATION], "\"code\":\"DEADLINE_EXCEEDED\"", from,
	                           10000);
	assert_int_equal(kill(sys.daemons[UT_TENANCY].pid, SIGCONT), 0);
	if (gave_up == 0)
		fail_msg("invitationd did not end the call at its deadline");
	if (rc != US_EDEADLINE)
		fail_msg("with tenancyd paused: %s (%s)", us_err_name(rc), st.message);
	us_status_clear(&st);
	assert_int_equal(invitations_to("silent@example.com"), 0);

	/* Both answer again: the same address is invited, once. */
	const char *silent[] = {"silent@example.com"};
	assert_int_equal(ut_invite(&sys, A, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL,
	                           silent, 1, &r, &st),
	                 US_OK);
	assert_int_equal(r->created, 1);
	assert_int_equal(invitations_to("silent@example.com"), 1);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "invitation");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	static char spool_setting[256];
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s", spool);
	sys.extra_env[0] = spool_setting;
	sys.extra_env[1] = "REINVITE_MIN_INTERVAL_S=0";
	/* A quick recovery loop for the crash test. */
	sys.extra_env[2] = "RECOVERY_INTERVAL_MS=200";
	for (int d = 0; d < UT_GATEWAY; d++)
		ut_system_start(&sys, d);
	owner = ut_create_user(&sys, A, owner_email, "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting,calling");
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
		cmocka_unit_test(test_batch_outcomes_and_the_right_email),
		cmocka_unit_test(test_domain_policy),
		cmocka_unit_test(test_lapsed_invitation_is_invited_afresh),
		cmocka_unit_test(test_no_raw_token_in_the_schema),
		cmocka_unit_test(test_new_user_accepts),
		cmocka_unit_test(test_the_invitee_answers_by_id_from_my_accounts),
		cmocka_unit_test(test_a_weak_password_gets_identityds_word),
		cmocka_unit_test(test_existing_user_accepts_with_their_session),
		cmocka_unit_test(test_an_accept_keeps_nothing_that_was_not_vouched_for),
		cmocka_unit_test(test_expiry_reinvite_revoke_and_decline),
		cmocka_unit_test(test_fifty_concurrent_accepts_make_one_membership),
		cmocka_unit_test(test_who_may_invite_and_see),
		cmocka_unit_test(test_batch_round_trips_do_not_grow_with_size),
		cmocka_unit_test(test_a_failed_or_silent_peer_fails_the_invitation_and_writes_nothing),
		cmocka_unit_test(test_crash_between_identity_and_membership_recovers),
		cmocka_unit_test(test_crash_before_the_user_is_created_recovers),
		cmocka_unit_test(test_fifty_sign_ups_on_a_five_use_link_make_five_members),
		cmocka_unit_test(test_a_retried_link_join_gets_its_success),
		cmocka_unit_test(test_a_newer_join_replaces_one_awaiting_confirmation),
		cmocka_unit_test(test_crash_during_a_link_join_recovers),
		cmocka_unit_test(test_abandoned_link_joins_are_given_back_or_carried_on),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
