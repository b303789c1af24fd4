/* The crash matrix: each daemon is killed (SIGKILL, at a fault point: common/fault.h) at
 * each step of the operations that change something: a batch of invitations and its
 * outbox relay, email delivery, an accept by a new and by an existing user (each step of
 * the saga), a decline, a reinvite and a join through a permanent link (a new user's with
 * the confirmation of the address, an existing user's at once). The caller's request in
 * flight is sent again by the RPC client (which signs it anew) once the daemon is back, or
 * by the browser, and the caller retries it once more; then, when the system has settled:
 *
 * - no invitation, user or membership is lost or doubled;
 * - every email arrived at least once (at a real SMTP sink), and one arriving twice is the
 *   same message (the same Message-ID and the same bytes);
 * - every retried call is answered as if it had succeeded once.
 *
 * The table of steps and outcomes is written to $USHER_REPORT_DIR/crash_matrix.md, from
 * which scripts/reliability_report.py fills docs/reliability.md. A cell that fails is in
 * the table too, and fails the test after the table is written. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"

#define INV "usher.v1.InvitationService/"
#define PASSWORD "correct horse battery"
#define OWNER_EMAIL "owner@crash.example"
#define CALL_MS 60000     /* a caller waits this long, across the crash */
#define SETTLE_MS 60000   /* for the system to settle after the restart */

static ut_system sys;
static ut_sink sink;
static us_arena *A;
static char *owner, *account;
static atomic_int gateway_port; /* changes when the gateway restarts */
static size_t fault_slot; /* the extra_env entry a cell arms its fault in */

/* --- one cell's state --- */

typedef struct ctx {
	int n;                 /* the cell's number: its addresses are its own */
	char email[3][96];     /* the addresses it invites, accepts or joins with */
	size_t n_emails;
	char key[64];          /* the idempotency key of a keyed call */
	char token[128];       /* the invitation's or the link's */
	char invitation_id[64];
	char link_id[64];
	char session[128];     /* the existing user's */
	bool via_gateway;      /* the call goes through the gateway's HTTP API */
	/* what the answers said */
	char user_id[64];
	char membership_id[64];
	char batch_id[64];
} ctx;

typedef struct count {
	long expected, found;
} count;

/* The outcome of one cell: what the table shows. */
typedef struct outcome {
	const char *first;     /* the answer to the request in flight at the crash */
	const char *retry;     /* the answer to the caller's retry */
	bool retry_as_once;    /* the retry's answer is the success, with the same result */
	count invitations, users, memberships;
	long emails_expected;  /* distinct emails that must arrive */
	long emails_distinct;  /* distinct Message-IDs that did */
	long emails_copies;    /* messages the sink accepted for them */
	bool copies_identical; /* each duplicate has its original's bytes */
	int64_t recovered_ms;  /* from the restart until the system settled */
	char problem[256];
} outcome;

typedef struct operation {
	const char *name;
	void (*prepare)(ctx *c);
	/* One attempt of the caller's request (the same each time); sets what it answered. */
	us_err (*call)(ctx *c, uint32_t timeout_ms);
	/* Counts what must exist now, and how many emails must have arrived. */
	void (*check)(ctx *c, outcome *o);
} operation;

/* --- helpers --- */

/* A number from the database of schema. */
#define sql_number(schema, ...) ut_db_number(ut_system_db_of(&sys, schema), __VA_ARGS__)

/* One call on a client of its own (a daemon may be down: UNAVAILABLE, not a failed test). */
static us_err call(int daemon, const char *method, const char *actor, const char *key,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type,
                   uint32_t timeout_ms, us_arena *a, ProtobufCMessage **reply)
{
	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts opts = {.url = sys.daemons[daemon].url, .caller = "crash-matrix"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		return US_EUNAVAILABLE;
	us_rpc_call_opts o = {.timeout_ms = timeout_ms, .idempotency_key = key, .actor_user_id = actor};
	us_status st;
	ProtobufCMessage *ignored;
	us_err rc = us_rpc_call(c, method, &o, req, type, a, reply ? reply : &ignored, &st);
	us_status_clear(&st);
	us_rpc_client_close(c);
	return rc;
}

/* POSTs JSON to the gateway; the HTTP status, or 0 when the connection failed. */
static long http_post(const char *path, const char *json, uint32_t timeout_ms, json_t **out)
{
	CURL *curl = curl_easy_init();
	assert_non_null(curl);
	char url[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", atomic_load(&gateway_port), path);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	char *body = NULL;
	size_t len = 0;
	FILE *sinkf = open_memstream(&body, &len);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, sinkf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	long status = 0;
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	fclose(sinkf);
	if (out != NULL)
		*out = status != 0 ? json_loads(body, 0, NULL) : NULL;
	free(body);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return status;
}

/* The gateway's status as an RPC code, for the table. */
static us_err from_http(long status)
{
	switch (status) {
	case 200:
	case 202: return US_OK;
	case 404: return US_ENOTFOUND;
	case 0: return US_EUNAVAILABLE;
	case 400: return US_EPRECONDITION;
	case 409: return US_EABORTED;
	case 503: return US_EUNAVAILABLE;
	case 504: return US_EDEADLINE;
	default: return US_EINTERNAL;
	}
}

static void expect_mails(outcome *o, const char *rcpt, const char *needle, long n)
{
	long copies = 0;
	long distinct = ut_sink_count(&sink, rcpt, needle, &copies, &o->copies_identical);
	o->emails_expected += n;
	o->emails_distinct += distinct;
	o->emails_copies += copies;
}

static long invitations_of(const char *email)
{
	return sql_number("invitation",
	                  "SELECT count(*) FROM invitation.invitations WHERE account_id = '%s'"
	                  " AND email = '%s'",
	                  account, email);
}

static long users_of(const char *email)
{
	return sql_number("identity", "SELECT count(*) FROM identity.users WHERE email = '%s'",
	                  email);
}

static long memberships_of(const char *email)
{
	/* The users in identityd's database, their memberships in tenancyd's (maybe another
	 * cluster). */
	PGconn *c = ut_db_admin(ut_system_db(&sys, UT_IDENTITY));
	const char *params[] = {email};
	PGresult *res = PQexecParams(c,
	                             "SELECT coalesce(string_agg(quote_literal(id::text), ','),"
	                             " 'NULL') FROM identity.users WHERE email = $1",
	                             1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s", PQresultErrorMessage(res));
	char ids[4096];
	snprintf(ids, sizeof(ids), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return sql_number("tenancy",
	                  "SELECT count(*) FROM tenancy.memberships m"
	                  " WHERE m.account_id = '%s' AND m.user_id::text IN (%s)",
	                  account, ids);
}

/* Invites c's addresses as the owner with c's key; the answer's batch id is kept. */
static us_err invite(ctx *c, uint32_t timeout_ms)
{
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	char *emails[3];
	for (size_t i = 0; i < c->n_emails; i++)
		emails[i] = c->email[i];
	req.account_id = account;
	req.scope = &org;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.emails = emails;
	req.n_emails = c->n_emails;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "CreateInvitations", owner, c->key, &req.base,
	                 &usher__v1__create_invitations_reply__descriptor, timeout_ms, A, &out);
	if (rc == US_OK) {
		Usher__V1__CreateInvitationsReply *r = (Usher__V1__CreateInvitationsReply *)out;
		if (r->created != c->n_emails)
			return US_EINTERNAL;
		snprintf(c->batch_id, sizeof(c->batch_id), "%s", r->batch_id);
		if (c->n_emails == 1)
			snprintf(c->invitation_id, sizeof(c->invitation_id), "%s", r->results[0]->invitation_id);
	}
	return rc;
}

static void must_invite(ctx *c)
{
	snprintf(c->key, sizeof(c->key), "crash-prepare-%d", c->n);
	if (invite(c, CALL_MS) != US_OK)
		fail_msg("could not invite %s", c->email[0]);
	c->key[0] = '\0';
	ut_sink_wait_token(&sink, c->email[0], 0, SETTLE_MS, c->token, sizeof(c->token));
}

/* --- the operations --- */

static void prepare_batch(ctx *c)
{
	c->n_emails = 3;
	snprintf(c->key, sizeof(c->key), "crash-batch-%d", c->n);
}

static void check_batch(ctx *c, outcome *o)
{
	for (size_t i = 0; i < c->n_emails; i++) {
		o->invitations.expected++;
		o->invitations.found += invitations_of(c->email[i]);
		expect_mails(o, c->email[i], "Invitation", 1);
	}
	/* Its retry answered with the batch that was written. */
	o->retry_as_once = sql_number("invitation",
	                              "SELECT count(*) FROM invitation.invitations"
	                              " WHERE batch_id::text = '%s'",
	                              c->batch_id) == (long)c->n_emails;
}

static const operation batch_op = {"batch of invitations", prepare_batch, invite, check_batch};

static void prepare_accept_new(ctx *c)
{
	c->n_emails = 1;
	must_invite(c);
}

static us_err accept_new(ctx *c, uint32_t timeout_ms)
{
	if (c->via_gateway) {
		char path[256];
		snprintf(path, sizeof(path), "/i/%s/accept", c->token);
		json_t *out = NULL;
		long status = http_post(path, "{\"name\":\"Nina New\",\"phone\":\"+14155550100\","
		                              "\"password\":\"" PASSWORD "\"}",
		                        timeout_ms, &out);
		json_t *user = json_object_get(json_object_get(out, "accepted"), "user");
		if (status == 200 && user != NULL)
			snprintf(c->user_id, sizeof(c->user_id), "%s",
			         json_string_value(json_object_get(user, "id")));
		json_decref(out);
		return from_http(status);
	}
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	profile.name = "Nina New";
	profile.phone = "+14155550100";
	profile.password = PASSWORD;
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = c->token;
	req.new_user = &profile;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	                 &usher__v1__accept_reply__descriptor, timeout_ms, A, &out);
	if (rc == US_OK) {
		Usher__V1__AcceptReply *r = (Usher__V1__AcceptReply *)out;
		if (!r->user_created || strcmp(r->user->email, c->email[0]) != 0 ||
		    strcmp(r->membership->account_id, account) != 0)
			return US_EINTERNAL;
		snprintf(c->user_id, sizeof(c->user_id), "%s", r->user->id);
	}
	return rc;
}

static void check_accept(ctx *c, outcome *o)
{
	o->invitations = (count){1, invitations_of(c->email[0])};
	o->users = (count){1, users_of(c->email[0])};
	o->memberships = (count){1, memberships_of(c->email[0])};
	char needle[128];
	snprintf(needle, sizeof(needle), "%s accepted", c->email[0]);
	expect_mails(o, OWNER_EMAIL, needle, 1);
	expect_mails(o, c->email[0], "Invitation", 1);
	o->retry_as_once =
	        sql_number("invitation",
	                   "SELECT count(*) FROM invitation.invitations WHERE id::text = '%s'"
	                   " AND state = 'accepted' AND accepted_user_id::text = '%s'",
	                   c->invitation_id, c->user_id) == 1;
}

static const operation accept_new_op = {"accept (new user)", prepare_accept_new, accept_new,
                                        check_accept};

static void prepare_accept_existing(ctx *c)
{
	c->n_emails = 1;
	char *id = ut_create_user(&sys, A, c->email[0], "Erin Existing", PASSWORD);
	snprintf(c->user_id, sizeof(c->user_id), "%s", id);
	snprintf(c->session, sizeof(c->session), "%s", ut_login(&sys, A, c->email[0], PASSWORD));
	must_invite(c);
}

static us_err accept_existing(ctx *c, uint32_t timeout_ms)
{
	Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
	req.token = c->token;
	req.session_token = c->session;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "Accept", NULL, NULL, &req.base,
	                 &usher__v1__accept_reply__descriptor, timeout_ms, A, &out);
	if (rc == US_OK) {
		Usher__V1__AcceptReply *r = (Usher__V1__AcceptReply *)out;
		if (r->user_created || strcmp(r->user->id, c->user_id) != 0)
			return US_EINTERNAL;
	}
	return rc;
}

static const operation accept_existing_op = {"accept (existing user)", prepare_accept_existing,
                                             accept_existing, check_accept};

static void prepare_decline(ctx *c)
{
	c->n_emails = 1;
	must_invite(c);
}

static us_err decline(ctx *c, uint32_t timeout_ms)
{
	Usher__V1__DeclineRequest req = USHER__V1__DECLINE_REQUEST__INIT;
	req.token = c->token;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "Decline", NULL, NULL, &req.base,
	                 &usher__v1__decline_reply__descriptor, timeout_ms, A, &out);
	if (rc == US_OK && ((Usher__V1__DeclineReply *)out)->invitation->state !=
	                           USHER__V1__INVITATION_STATE__INVITATION_DECLINED)
		return US_EINTERNAL;
	return rc;
}

static void check_decline(ctx *c, outcome *o)
{
	o->invitations = (count){1, invitations_of(c->email[0])};
	char needle[128];
	snprintf(needle, sizeof(needle), "%s declined", c->email[0]);
	expect_mails(o, OWNER_EMAIL, needle, 1);
	expect_mails(o, c->email[0], "Invitation", 1);
	o->retry_as_once =
	        sql_number("invitation",
	                   "SELECT count(*) FROM invitation.invitations WHERE id::text = '%s'"
	                   " AND state = 'declined'",
	                   c->invitation_id) == 1;
}

static const operation decline_op = {"decline", prepare_decline, decline, check_decline};

static void prepare_reinvite(ctx *c)
{
	c->n_emails = 1;
	must_invite(c);
	snprintf(c->key, sizeof(c->key), "crash-reinvite-%d", c->n);
}

static us_err reinvite(ctx *c, uint32_t timeout_ms)
{
	Usher__V1__InvitationRef req = USHER__V1__INVITATION_REF__INIT;
	req.invitation_id = c->invitation_id;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "Reinvite", owner, c->key, &req.base,
	                 &usher__v1__reinvite_reply__descriptor, timeout_ms, A, &out);
	if (rc == US_OK && ((Usher__V1__ReinviteReply *)out)->invitation->send_count != 2)
		return US_EINTERNAL;
	return rc;
}

static void check_reinvite(ctx *c, outcome *o)
{
	o->invitations = (count){1, invitations_of(c->email[0])};
	/* The first email and the second: two messages, the second's link the live one. */
	expect_mails(o, c->email[0], "Invitation", 2);
	o->retry_as_once =
	        sql_number("invitation",
	                   "SELECT count(*) FROM invitation.invitations WHERE id::text = '%s'"
	                   " AND send_count = 2 AND state = 'pending'",
	                   c->invitation_id) == 1;
}

static const operation reinvite_op = {"reinvite", prepare_reinvite, reinvite, check_reinvite};

static void prepare_join(ctx *c)
{
	c->n_emails = 1;
	Usher__V1__EnableLinkRequest req = USHER__V1__ENABLE_LINK_REQUEST__INIT;
	req.account_id = account;
	ProtobufCMessage *out;
	us_status st;
	if (ut_call(&sys, UT_INVITATION, INV "EnableLink", owner, ut_key(A), &req.base,
	            &usher__v1__link_reply__descriptor, A, &out, &st) != US_OK)
		fail_msg("EnableLink: %s", st.message);
	Usher__V1__InvitationLink *link = ((Usher__V1__LinkReply *)out)->link;
	snprintf(c->link_id, sizeof(c->link_id), "%s", link->id);
	snprintf(c->token, sizeof(c->token), "%s", strstr(link->url, "/l/") + 3);
}

static void prepare_join_existing(ctx *c)
{
	prepare_join(c);
	char *id = ut_create_user(&sys, A, c->email[0], "Vera Verified", PASSWORD);
	snprintf(c->user_id, sizeof(c->user_id), "%s", id);
	snprintf(c->session, sizeof(c->session), "%s", ut_login(&sys, A, c->email[0], PASSWORD));
}

/* AcceptLink, as a new user (its profile) or signed in; *awaiting when the address is
 * to be confirmed first. */
static us_err accept_link(ctx *c, uint32_t timeout_ms, bool *awaiting)
{
	*awaiting = false;
	if (c->via_gateway) {
		char path[256], body[512];
		snprintf(path, sizeof(path), "/l/%s/accept", c->token);
		snprintf(body, sizeof(body),
		         "{\"email\":\"%s\",\"name\":\"Jo Joiner\",\"password\":\"" PASSWORD "\"}",
		         c->email[0]);
		json_t *out = NULL;
		long status = http_post(path, body, timeout_ms, &out);
		json_t *joined = json_object_get(out, "joined");
		json_t *m = json_object_get(joined, "membership");
		if (status == 200 && m != NULL)
			snprintf(c->membership_id, sizeof(c->membership_id), "%s",
			         json_string_value(json_object_get(m, "id")));
		*awaiting = status == 202 && json_is_true(json_object_get(joined, "awaitingConfirmation"));
		json_decref(out);
		return from_http(status);
	}
	Usher__V1__LinkNewUser u = USHER__V1__LINK_NEW_USER__INIT;
	u.email = c->email[0];
	u.name = "Jo Joiner";
	u.password = PASSWORD;
	Usher__V1__AcceptLinkRequest req = USHER__V1__ACCEPT_LINK_REQUEST__INIT;
	req.token = c->token;
	if (c->session[0] != '\0')
		req.session_token = c->session;
	else
		req.new_user = &u;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "AcceptLink", NULL, NULL, &req.base,
	                 &usher__v1__accept_link_reply__descriptor, timeout_ms, A, &out);
	if (rc == US_OK) {
		Usher__V1__AcceptLinkReply *r = (Usher__V1__AcceptLinkReply *)out;
		*awaiting = r->awaiting_confirmation;
		if (r->membership != NULL)
			snprintf(c->membership_id, sizeof(c->membership_id), "%s", r->membership->id);
		if (*awaiting == (r->membership != NULL))
			return US_EINTERNAL;
	}
	return rc;
}

/* Follows the join's confirmation link, from the email the joiner got. */
static us_err confirm_link_join(ctx *c, uint32_t timeout_ms)
{
	char token[128];
	if (!ut_sink_wait_link(&sink, c->email[0], "Confirm your email address", 'j', 0,
	                       (int)timeout_ms, token, sizeof(token)))
		return US_EDEADLINE;
	if (c->via_gateway) {
		char path[256];
		snprintf(path, sizeof(path), "/j/%s/confirm", token);
		json_t *out = NULL;
		long status = http_post(path, "{}", timeout_ms, &out);
		json_t *m = json_object_get(json_object_get(out, "joined"), "membership");
		if (status == 200 && m != NULL)
			snprintf(c->membership_id, sizeof(c->membership_id), "%s",
			         json_string_value(json_object_get(m, "id")));
		json_decref(out);
		return from_http(status);
	}
	Usher__V1__ConfirmLinkJoinRequest req = USHER__V1__CONFIRM_LINK_JOIN_REQUEST__INIT;
	req.token = token;
	ProtobufCMessage *out = NULL;
	us_err rc = call(UT_INVITATION, INV "ConfirmLinkJoin", NULL, NULL, &req.base,
	                 &usher__v1__accept_link_reply__descriptor, timeout_ms, A, &out);
	if (rc == US_OK)
		snprintf(c->membership_id, sizeof(c->membership_id), "%s",
		         ((Usher__V1__AcceptLinkReply *)out)->membership->id);
	return rc;
}

/* A join as a person does it: the sign-up, then (its address not proven yet) the link
 * mailed to it, followed. A retry starts again from the sign-up, which answers with the
 * join's state: awaiting the confirmation, or joined. */
static us_err join(ctx *c, uint32_t timeout_ms)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	bool awaiting;
	us_err rc = accept_link(c, timeout_ms, &awaiting);
	if (rc != US_OK || !awaiting)
		return rc;
	int64_t left = deadline - us_monotonic_ms();
	return confirm_link_join(c, left > 0 ? (uint32_t)left : 1);
}

static void check_join(ctx *c, outcome *o)
{
	o->users = (count){1, users_of(c->email[0])};
	o->memberships = (count){1, memberships_of(c->email[0])};
	if (c->session[0] == '\0') /* a new user proves the address */
		expect_mails(o, c->email[0], "Confirm your email address", 1);
	/* One use taken, one join recorded, for the membership its answer named. */
	o->retry_as_once =
	        sql_number(
	                "invitation",
	                "SELECT coalesce(sum(uses), 0) FROM invitation.links WHERE id::text = '%s'",
	                c->link_id) == 1 &&
	        sql_number("invitation",
	                   "SELECT count(*) FROM invitation.link_joins WHERE link_id::text = '%s'"
	                   " AND membership_id::text = '%s'",
	                   c->link_id, c->membership_id) == 1;
}

static const operation join_op = {"link join (new user)", prepare_join, join, check_join};
static const operation join_existing_op = {"link join (existing user)", prepare_join_existing,
                                           join, check_join};

/* --- the matrix --- */

typedef struct cell {
	const operation *op;
	int daemon;
	const char *fault;
	const char *step; /* in words, for the table */
	bool via_gateway;
} cell;

static const cell cells[] = {
	{&batch_op, UT_INVITATION, "CreateInvitations.before_commit", "batch written, not committed", false},
	{&batch_op, UT_INVITATION, "CreateInvitations.before_reply", "batch committed, no reply", false},
	{&batch_op, UT_IDENTITY, "LookupEmails.before_reply", "looking up the addresses", false},
	{&batch_op, UT_TENANCY, "CheckInvite.before_reply", "checking the inviter's right", false},
	{&batch_op, UT_INVITATION, "outbox.after_take", "relay took the outbox rows", false},
	{&batch_op, UT_INVITATION, "outbox.after_send", "relay handed them over, not committed", false},
	{&batch_op, UT_NOTIFICATION, "SendEmails.before_reply", "emails queued, no reply", false},
	{&batch_op, UT_NOTIFICATION, "delivery.after_claim", "delivery claimed, not sent", false},
	{&batch_op, UT_NOTIFICATION, "delivery.after_send", "SMTP 250, not recorded", false},
	{&accept_new_op, UT_INVITATION, "accept.after_claim", "claimed, no user yet", false},
	{&accept_new_op, UT_INVITATION, "accept.after_identity", "user created, no membership", false},
	{&accept_new_op, UT_INVITATION, "accept.after_membership", "membership granted, not finished", false},
	{&accept_new_op, UT_INVITATION, "Accept.before_reply", "accepted, no reply", false},
	{&accept_new_op, UT_IDENTITY, "CreateUser.before_commit", "user written, not committed", false},
	{&accept_new_op, UT_IDENTITY, "CreateUser.before_reply", "user committed, no reply", false},
	{&accept_new_op, UT_TENANCY, "GrantMembership.before_commit", "membership written, not committed", false},
	{&accept_new_op, UT_TENANCY, "GrantMembership.before_reply", "membership committed, no reply", false},
	{&accept_new_op, UT_GATEWAY, "Accept.after_backend", "accepted, browser not answered", true},
	{&accept_existing_op, UT_INVITATION, "accept.after_claim", "claimed, no membership", false},
	{&accept_existing_op, UT_INVITATION, "accept.after_membership", "membership granted, not finished", false},
	{&accept_existing_op, UT_INVITATION, "Accept.before_reply", "accepted, no reply", false},
	{&accept_existing_op, UT_IDENTITY, "ResolveSession.before_reply", "checking the session", false},
	{&accept_existing_op, UT_TENANCY, "GrantMembership.before_reply", "membership committed, no reply", false},
	{&decline_op, UT_INVITATION, "Decline.before_reply", "declined, no reply", false},
	{&decline_op, UT_NOTIFICATION, "SendEmails.before_reply", "notice queued, no reply", false},
	{&reinvite_op, UT_INVITATION, "Reinvite.before_commit", "new link written, not committed", false},
	{&reinvite_op, UT_INVITATION, "Reinvite.before_reply", "new link committed, no reply", false},
	{&join_op, UT_INVITATION, "link.after_use", "use taken, no user yet", false},
	{&join_op, UT_INVITATION, "link.after_user", "user created, no confirmation asked", false},
	{&join_op, UT_INVITATION, "link.after_request", "confirmation asked, not mailed", false},
	{&join_op, UT_INVITATION, "link.after_mail", "confirmation mailed, not recorded", false},
	{&join_op, UT_INVITATION, "AcceptLink.before_reply", "awaiting confirmation, no reply", false},
	{&join_op, UT_IDENTITY, "CreateUser.before_reply", "user committed, no reply", false},
	{&join_op, UT_NOTIFICATION, "SendEmail.before_reply", "confirmation queued, no reply", false},
	{&join_op, UT_INVITATION, "link.after_verify", "address proven, no membership", false},
	{&join_op, UT_INVITATION, "link.after_membership", "membership granted, join not recorded", false},
	{&join_op, UT_INVITATION, "ConfirmLinkJoin.before_reply", "joined, no reply", false},
	{&join_op, UT_IDENTITY, "ConfirmEmailOwnership.before_commit", "address proven, not committed", false},
	{&join_op, UT_IDENTITY, "ConfirmEmailOwnership.before_reply", "address proven, no reply", false},
	{&join_op, UT_TENANCY, "GrantMembership.before_reply", "membership committed, no reply", false},
	{&join_op, UT_GATEWAY, "AcceptLink.after_backend", "awaiting confirmation, browser not answered", true},
	{&join_op, UT_GATEWAY, "ConfirmLinkJoin.after_backend", "joined, browser not answered", true},
	{&join_existing_op, UT_INVITATION, "link.after_use", "use taken, no membership", false},
	{&join_existing_op, UT_INVITATION, "link.after_membership", "membership granted, join not recorded", false},
	{&join_existing_op, UT_INVITATION, "AcceptLink.before_reply", "joined, no reply", false},
	{&join_existing_op, UT_TENANCY, "GrantMembership.before_reply", "membership committed, no reply", false},
};
#define N_CELLS (sizeof(cells) / sizeof(cells[0]))

static outcome outcomes[N_CELLS];

typedef struct in_flight {
	const operation *op;
	ctx *c;
	us_err rc;
} in_flight;

static void *run_in_flight(void *arg)
{
	in_flight *f = arg;
	f->rc = f->op->call(f->c, CALL_MS);
	return NULL;
}

static bool retryable(us_err rc)
{
	return rc == US_EUNAVAILABLE || rc == US_EDEADLINE || rc == US_EABORTED;
}

/* Quiet: nothing left in an outbox, a queue, a claim or an accept in progress. */
static bool settled(void)
{
	return sql_number("invitation",
	                  "SELECT (SELECT count(*) FROM invitation.outbox)"
	                  " + (SELECT count(*) FROM invitation.link_claims)"
	                  " + (SELECT count(*) FROM invitation.invitations WHERE state = 'accepting')") +
	               sql_number("notification", "SELECT count(*) FROM notification.messages"
	                                          " WHERE state = 'queued'") ==
	       0;
}

static void set_fault(const char *fault)
{
	static char setting[128];
	if (fault == NULL) {
		sys.extra_env[fault_slot] = NULL;
		return;
	}
	snprintf(setting, sizeof(setting), "USHER_FAULT=%s", fault);
	sys.extra_env[fault_slot] = setting;
}

static void restart(int daemon, const char *fault)
{
	if (ut_system_signal(&sys, daemon, SIGTERM, 60000, NULL) == -1)
		fail_msg("usher-%sd did not stop", sys.daemons[daemon].name);
	set_fault(fault);
	ut_system_start(&sys, daemon);
	set_fault(NULL);
	if (daemon == UT_GATEWAY)
		atomic_store(&gateway_port, ut_gateway_port(&sys));
}

static void run_cell(size_t i)
{
	const cell *cl = &cells[i];
	outcome *o = &outcomes[i];
	memset(o, 0, sizeof(*o));
	o->copies_identical = true;
	ctx c = {.n = (int)i, .via_gateway = cl->via_gateway};
	for (int k = 0; k < 3; k++)
		snprintf(c.email[k], sizeof(c.email[k]), "cell%02zu.%c@crash.example", i, 'a' + k);
	cl->op->prepare(&c);

	restart(cl->daemon, cl->fault);
	long log_from = ut_log_lines(&sys.daemons[cl->daemon]);
	in_flight f = {.op = cl->op, .c = &c};
	pthread_t t;
	pthread_create(&t, NULL, run_in_flight, &f);
	int status = ut_system_wait(&sys, cl->daemon, 60000);
	if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL ||
	    ut_log_wait(&sys.daemons[cl->daemon], "fault injected", log_from, 0) == 0) {
		pthread_join(t, NULL);
		fail_msg("cell %zu: usher-%sd was not killed at %s", i, sys.daemons[cl->daemon].name,
		         cl->fault);
	}
	int64_t restarted = us_monotonic_ms();
	ut_system_start(&sys, cl->daemon);
	if (cl->daemon == UT_GATEWAY)
		atomic_store(&gateway_port, ut_gateway_port(&sys));
	pthread_join(t, NULL);
	o->first = us_err_name(f.rc);

	/* The caller retries the same request until it gets an answer that is not "try again". */
	us_err rc;
	int64_t deadline = us_monotonic_ms() + CALL_MS;
	while (retryable(rc = cl->op->call(&c, CALL_MS)) && us_monotonic_ms() < deadline)
		usleep(100 * 1000);
	o->retry = us_err_name(rc);

	int64_t settle_deadline = us_monotonic_ms() + SETTLE_MS;
	for (;;) {
		outcome now = {.copies_identical = true};
		cl->op->check(&c, &now);
		if ((settled() && now.emails_distinct >= now.emails_expected) ||
		    us_monotonic_ms() > settle_deadline)
			break;
		usleep(50 * 1000);
	}
	o->recovered_ms = us_monotonic_ms() - restarted;
	cl->op->check(&c, o);
	o->retry_as_once = o->retry_as_once && rc == US_OK && (f.rc == US_OK || retryable(f.rc));
	if (!o->retry_as_once)
		snprintf(o->problem, sizeof(o->problem), "answered %s, then %s", o->first, o->retry);
}

static bool cell_ok(const outcome *o)
{
	return o->retry_as_once && o->invitations.found == o->invitations.expected &&
	       o->users.found == o->users.expected && o->memberships.found == o->memberships.expected &&
	       o->emails_distinct == o->emails_expected && o->copies_identical;
}

static void lost_doubled(const count *k, long *lost, long *doubled)
{
	*lost += k->found < k->expected ? k->expected - k->found : 0;
	*doubled += k->found > k->expected ? k->found - k->expected : 0;
}

static const char *const daemon_label[] = {
	"identityd", "tenancyd", "invitationd", "notificationd", "gatewayd",
};

/* The table, as markdown, into $USHER_REPORT_DIR/crash_matrix.md. */
static void write_table(int64_t took_ms)
{
	const char *dir = getenv("USHER_REPORT_DIR");
	if (dir == NULL || dir[0] == '\0')
		return;
	mkdir(dir, 0755);
	char path[512];
	snprintf(path, sizeof(path), "%s/crash_matrix.md", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	long lost = 0, doubled = 0, failed = 0, mails = 0, duplicates = 0;
	fprintf(f, "| # | operation | killed | at the step | fault point | answer in flight | retry "
	           "| invitations | users | memberships | emails (copies) | recovered in |\n"
	           "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < N_CELLS; i++) {
		const cell *cl = &cells[i];
		const outcome *o = &outcomes[i];
		long l = 0, d = 0;
		lost_doubled(&o->invitations, &l, &d);
		lost_doubled(&o->users, &l, &d);
		lost_doubled(&o->memberships, &l, &d);
		count e = {o->emails_expected, o->emails_distinct};
		lost_doubled(&e, &l, &d);
		lost += l;
		doubled += d;
		failed += !cell_ok(o);
		mails += o->emails_distinct;
		duplicates += o->emails_copies - o->emails_distinct;
		fprintf(f, "| %zu | %s | %s | %s | `%s` | %s | %s%s | %ld/%ld | %ld/%ld | %ld/%ld "
		           "| %ld/%ld (%ld%s) | %.1f s |\n",
		        i + 1, cl->op->name, daemon_label[cl->daemon], cl->step, cl->fault, o->first,
		        o->retry, o->retry_as_once ? "" : " **not as once**", o->invitations.found,
		        o->invitations.expected, o->users.found, o->users.expected, o->memberships.found,
		        o->memberships.expected, o->emails_distinct, o->emails_expected, o->emails_copies,
		        o->copies_identical ? "" : ", **differing copies**", o->recovered_ms / 1000.0);
	}
	fprintf(f, "\n%zu cells: %ld lost, %ld doubled, %ld cells failed; %ld emails arrived, %ld of "
	           "them twice (the same Message-ID and bytes). Counts are found/expected. The whole "
	           "matrix took %.0f s.\n",
	        N_CELLS, lost, doubled, failed, mails, duplicates, took_ms / 1000.0);
	fclose(f);
	print_message("crash matrix written to %s\n", path);
}

static void test_crash_matrix(void **state)
{
	(void)state;
	int64_t start = us_monotonic_ms();
	for (size_t i = 0; i < N_CELLS; i++) {
		run_cell(i);
		const outcome *o = &outcomes[i];
		print_message("%2zu %-24s %-14s %-32s first %-18s retry %-8s %s %.1f s\n", i + 1,
		              cells[i].op->name, daemon_label[cells[i].daemon], cells[i].fault, o->first,
		              o->retry, cell_ok(o) ? "ok" : "FAILED", o->recovered_ms / 1000.0);
	}
	write_table(us_monotonic_ms() - start);
	for (size_t i = 0; i < N_CELLS; i++) {
		const outcome *o = &outcomes[i];
		if (!cell_ok(o))
			fail_msg("cell %zu (%s, %s at %s): %s; invitations %ld/%ld, users %ld/%ld, "
			         "memberships %ld/%ld, emails %ld/%ld%s",
			         i + 1, cells[i].op->name, daemon_label[cells[i].daemon], cells[i].fault,
			         o->problem[0] ? o->problem : "settled wrong", o->invitations.found,
			         o->invitations.expected, o->users.found, o->users.expected,
			         o->memberships.found, o->memberships.expected, o->emails_distinct,
			         o->emails_expected, o->copies_identical ? "" : ", copies differ");
	}
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_sink_start(&sink, NULL);
	ut_system_init(&sys, "crash");
	static char smtp[160];
	char url[128];
	ut_sink_url(&sink, url, sizeof(url));
	snprintf(smtp, sizeof(smtp), "SMTP_URL=%s", url);
	const char *env[] = {
		smtp, "MAIL_FROM=Usher <invites@usher.test>", "REINVITE_MIN_INTERVAL_S=0",
		/* Quick background loops, so a cell settles in moments. */
		"RECOVERY_INTERVAL_MS=100", "OUTBOX_POLL_MS=100", "DELIVERY_POLL_MS=100",
		"RETRY_BASE_MS=100", "RETRY_MAX_MS=300", "RECLAIM_INTERVAL_S=1",
		"SMTP_CONNECT_TIMEOUT_MS=5000", "SMTP_TIMEOUT_MS=10000", NULL,
	};
	for (fault_slot = 0; env[fault_slot] != NULL; fault_slot++)
		sys.extra_env[fault_slot] = env[fault_slot];
	ut_system_start_all(&sys);
	atomic_store(&gateway_port, ut_gateway_port(&sys));
	owner = ut_create_user(&sys, A, OWNER_EMAIL, "Olivia Owner", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Crash Test Dummies", "texting");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	ut_sink_teardown(&sink);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_matrix),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return failed;
}
