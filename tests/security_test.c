/* The trust boundary against the real daemons (issue 11): every RPC is authenticated
 * (unsigned, forged and replayed requests change nothing), only callers with the right
 * may name a person or act as Usher itself, idempotency keys are one caller's and one
 * person's (hole 1, over NNG and over HTTP), no stored reply keeps a link's token, and
 * service principals stay within their accounts, methods and role ceiling, rotate with an
 * overlap, are revoked, and work over HTTP as API keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"
#include "usher/v1/health.pb-c.h"
#include "usher/v1/principal.pb-c.h"

#define PASSWORD "correct horse battery"
#define WAIT_MS 20000

static ut_system sys;
static char spool[200];
static us_arena *A;
static char *owner, *outsider, *account, *other_account;

/* --- calls --- */

static Usher__V1__RpcReply *send_raw(int daemon, const uint8_t *frame, size_t len)
{
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts opts = {.url = sys.daemons[daemon].url, .caller = "security_test"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	uint8_t *raw;
	size_t raw_len;
	assert_int_equal(us_rpc_call_raw(c, frame, len, 20000, A, &raw, &raw_len), US_OK);
	us_rpc_client_close(c);
	ProtobufCAllocator alloc = us_arena_protobuf_allocator(A);
	Usher__V1__RpcReply *reply = usher__v1__rpc_reply__unpack(&alloc, raw_len, raw);
	assert_non_null(reply);
	assert_non_null(reply->status);
	return reply;
}

/* An envelope for method with req as payload, issued now with a fresh nonce. */
static Usher__V1__RpcRequest *envelope(const char *method, const char *actor, const char *key,
                                       const ProtobufCMessage *req)
{
	Usher__V1__RpcRequest *env = US_ARENA_NEW(A, Usher__V1__RpcRequest);
	usher__v1__rpc_request__init(env);
	env->method = (char *)method;
	env->idempotency_key = (char *)(key ? key : "");
	env->timeout_ms = 20000;
	if (actor != NULL) {
		Usher__V1__Actor *a = US_ARENA_NEW(A, Usher__V1__Actor);
		usher__v1__actor__init(a);
		a->user_id = (char *)actor;
		env->actor = a;
	}
	env->payload.len = protobuf_c_message_get_packed_size(req);
	env->payload.data = us_arena_alloc(A, env->payload.len + 1);
	protobuf_c_message_pack(req, env->payload.data);
	env->issued_at_ms = us_wall_ms();
	env->nonce.len = 16;
	env->nonce.data = us_arena_alloc(A, 16);
	randombytes_buf(env->nonce.data, 16);
	return env;
}

/* One call signed with key (NULL: the test key, every right). */
static us_err call_as(const us_caller_key *key, int daemon, const char *method, const char *actor,
                      const char *idem, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *type, ProtobufCMessage **reply,
                      us_status *st)
{
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts opts = {.url = sys.daemons[daemon].url, .caller = "security_test",
	                           .key = key};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	us_rpc_call_opts call = {.timeout_ms = 20000, .idempotency_key = idem, .actor_user_id = actor};
	ProtobufCMessage *ignored;
	us_err rc = us_rpc_call(c, method, &call, req, type, A, reply ? reply : &ignored, st);
	us_rpc_client_close(c);
	return rc;
}

static void expect_code(us_err rc, us_err want, us_status *st, const char *what)
{
	if (rc != want)
		fail_msg("%s: expected %s, got %s \"%s\"", what, us_err_name(want), us_err_name(rc),
		         st->message);
	us_status_clear(st);
}

static long long scalar(const char *schema, const char *sql)
{
	PGconn *conn = ut_db_admin(ut_system_db_of(&sys, schema));
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	long long n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return n;
}

static long long count_accounts(const char *name)
{
	char *sql = us_arena_printf(A, "SELECT count(*) FROM tenancy.accounts WHERE name = '%s'", name);
	return scalar("tenancy", sql);
}

/* --- HTTP --- */

static void post_json(ut_browser *b, const char *path, json_t *body, ut_reply *out)
{
	char *text = json_dumps(body, JSON_COMPACT);
	ut_http(b, "POST", path, text, strlen(text), NULL, out);
	free(text);
	json_decref(body);
}

static void expect_http(const ut_reply *r, long status)
{
	if (r->status != status)
		fail_msg("expected HTTP %ld, got %ld: %s", status, r->status, r->body);
}

static ut_browser *signed_in(const char *email)
{
	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	post_json(b, "/login", json_pack("{s:s, s:s}", "email", email, "password", PASSWORD), &r);
	expect_http(&r, 200);
	ut_browser_set_csrf(b, json_string_value(json_object_get(r.json, "csrfToken")));
	ut_reply_free(&r);
	return b;
}

/* --- usherctl --- */

/* Runs usherctl with args (NULL-terminated) as the operator; returns its JSON output. */
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
		fail_msg("usherctl %s: not JSON: %s", args[0], out);
	free(out);
	return doc;
}

typedef struct principal {
	char id[40];
	us_caller_key key;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
} principal;

static void take_secret(json_t *doc, principal *p)
{
	const char *secret = json_string_value(json_object_get(doc, "secret"));
	const char *id = json_string_value(json_object_get(doc, "id"));
	assert_non_null(secret);
	assert_non_null(id);
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->secret, sizeof(p->secret), "%s", secret);
	assert_int_equal(us_caller_key_parse(secret, &p->key), 0);
	json_decref(doc);
}

static void create_principal(const char *name, const char *accounts, const char *methods,
                             const char *max_role, principal *p)
{
	const char *args[] = {"principals", "create", name, "--methods", methods, "--max-role",
	                      max_role, accounts ? "--accounts" : "--all-accounts", accounts, NULL};
	take_secret(usherctl_json(args), p);
}

/* Check(owner, account) signed with key; the status code. */
static us_err check_as(const us_caller_key *key, const char *in_account, us_status *st)
{
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = owner;
	req.account_id = (char *)in_account;
	req.action = "member.invite";
	return call_as(key, UT_TENANCY, "usher.v1.TenancyService/Check", NULL, NULL, &req.base,
	               &usher__v1__check_reply__descriptor, NULL, st);
}

/* Waits until Check with key gives want (a change reaches every daemon within its
 * PRINCIPAL_CACHE_TTL_S); fails after WAIT_MS. */
static void wait_check(const us_caller_key *key, us_err want, const char *what)
{
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	us_status st;
	us_err rc;
	while ((rc = check_as(key, account, &st)) != want && us_monotonic_ms() < deadline) {
		us_status_clear(&st);
		usleep(100 * 1000);
	}
	expect_code(rc, want, &st, what);
}

/* --- tests --- */

static Usher__V1__CreateAccountRequest account_request(const char *name)
{
	Usher__V1__CreateAccountRequest req = USHER__V1__CREATE_ACCOUNT_REQUEST__INIT;
	req.name = (char *)name;
	return req;
}

static void expect_refused(int daemon, const uint8_t *frame, size_t len, const char *reason)
{
	Usher__V1__RpcReply *reply = send_raw(daemon, frame, len);
	assert_int_equal(reply->status->code, USHER__V1__CODE__UNAUTHENTICATED);
	assert_string_equal(reply->status->reason, reason);
}

static void test_unsigned_forged_and_replayed_rpcs_change_nothing(void **state)
{
	(void)state;
	const char *method = "usher.v1.TenancyService/CreateAccount";
	Usher__V1__CreateAccountRequest req = account_request("Replayed Co");
	us_caller_key stranger;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&stranger, secret);

	/* Unsigned. */
	Usher__V1__RpcRequest *env = envelope(method, owner, "replay-key", &req.base);
	Usher__V1__SignedRequest frame = USHER__V1__SIGNED_REQUEST__INIT;
	frame.request.len = usher__v1__rpc_request__get_packed_size(env);
	frame.request.data = us_arena_alloc(A, frame.request.len);
	usher__v1__rpc_request__pack(env, frame.request.data);
	size_t len = usher__v1__signed_request__get_packed_size(&frame);
	uint8_t *bytes = us_arena_alloc(A, len + 1);
	usher__v1__signed_request__pack(&frame, bytes);
	expect_refused(UT_TENANCY, bytes, len, "UNSIGNED");

	/* Signed by a key nobody trusts. */
	assert_int_equal(us_rpc_sign(&stranger, envelope(method, owner, "replay-key", &req.base), A,
	                             &bytes, &len),
	                 US_OK);
	expect_refused(UT_TENANCY, bytes, len, "UNKNOWN_KEY");

	/* Forged: the stranger's signature under the test key's name. */
	ProtobufCAllocator alloc = us_arena_protobuf_allocator(A);
	Usher__V1__SignedRequest *forged = usher__v1__signed_request__unpack(&alloc, len, bytes);
	memcpy(forged->public_key.data, ut_test_key()->public_key, US_PUBLIC_KEY_BYTES);
	len = usher__v1__signed_request__get_packed_size(forged);
	bytes = us_arena_alloc(A, len);
	usher__v1__signed_request__pack(forged, bytes);
	expect_refused(UT_TENANCY, bytes, len, "BAD_SIGNATURE");
	assert_int_equal(count_accounts("Replayed Co"), 0);

	/* Signed and fresh: it runs, once; the same bytes again are a replay. */
	assert_int_equal(us_rpc_sign(ut_test_key(), envelope(method, owner, "replay-key", &req.base), A,
	                             &bytes, &len),
	                 US_OK);
	Usher__V1__RpcReply *ok = send_raw(UT_TENANCY, bytes, len);
	assert_int_equal(ok->status->code, USHER__V1__CODE__OK);
	expect_refused(UT_TENANCY, bytes, len, "REPLAYED");
	assert_int_equal(count_accounts("Replayed Co"), 1);

	/* MAC'd instead, for tenancyd's key: it runs once, its copy is a replay; a MAC for
	 * another server's key or with a byte flipped runs nothing. */
	us_caller_key tenancy;
	ut_daemon_key(&sys, UT_TENANCY, &tenancy);
	req = account_request("MACed Co");
	assert_int_equal(us_rpc_mac(ut_test_key(), stranger.public_key,
	                            envelope(method, owner, "mac-key", &req.base), A, &bytes, &len),
	                 US_OK);
	expect_refused(UT_TENANCY, bytes, len, "OTHER_SERVER_KEY");
	assert_int_equal(us_rpc_mac(ut_test_key(), tenancy.public_key,
	                            envelope(method, owner, "mac-key", &req.base), A, &bytes, &len),
	                 US_OK);
	Usher__V1__SignedRequest *maced = usher__v1__signed_request__unpack(&alloc, len, bytes);
	maced->macs[0]->mac.data[0] ^= 0x80;
	uint8_t *flipped = us_arena_alloc(A, len);
	usher__v1__signed_request__pack(maced, flipped);
	expect_refused(UT_TENANCY, flipped, len, "BAD_MAC");
	assert_int_equal(count_accounts("MACed Co"), 0);
	ok = send_raw(UT_TENANCY, bytes, len);
	assert_int_equal(ok->status->code, USHER__V1__CODE__OK);
	assert_memory_equal(ok->server_key.data, tenancy.public_key, US_PUBLIC_KEY_BYTES);
	expect_refused(UT_TENANCY, bytes, len, "REPLAYED");
	assert_int_equal(count_accounts("MACed Co"), 1);
	us_caller_key_wipe(&tenancy);
	us_caller_key_wipe(&stranger);
}

/* Hole 1 over NNG: one idempotency key from two people behind one caller is two
 * requests; before, the second got the first one's account. */
static void test_one_key_two_actors_get_their_own_results(void **state)
{
	(void)state;
	Usher__V1__CreateAccountRequest req = account_request("Shared Key Co");
	ProtobufCMessage *first, *second;
	us_status st;
	expect_code(call_as(NULL, UT_TENANCY, "usher.v1.TenancyService/CreateAccount", owner,
	                    "same-key", &req.base, &usher__v1__create_account_reply__descriptor, &first,
	                    &st),
	            US_OK, &st, "owner's CreateAccount");
	expect_code(call_as(NULL, UT_TENANCY, "usher.v1.TenancyService/CreateAccount", outsider,
	                    "same-key", &req.base, &usher__v1__create_account_reply__descriptor,
	                    &second, &st),
	            US_OK, &st, "outsider's CreateAccount");
	const Usher__V1__Account *a = ((Usher__V1__CreateAccountReply *)first)->account;
	const Usher__V1__Account *b = ((Usher__V1__CreateAccountReply *)second)->account;
	assert_string_not_equal(a->id, b->id);
	assert_string_equal(a->primary_owner_id, owner);
	assert_string_equal(b->primary_owner_id, outsider);
	assert_int_equal(count_accounts("Shared Key Co"), 2);
}

/* Hole 1 over HTTP: an outsider repeating the owner's CreateInvitations body and
 * Idempotency-Key is refused, not handed the owner's report. */
static void test_one_key_two_people_over_http(void **state)
{
	(void)state;
	ut_browser *own = signed_in("owner@acme.example");
	ut_browser *out = signed_in("outsider@else.example");
	ut_browser_add_header(own, "Idempotency-Key: invite-key-1");
	ut_browser_add_header(out, "Idempotency-Key: invite-key-1");
	json_t *body = json_pack("{s:s, s:{s:b}, s:s, s:[s]}", "accountId", account, "scope",
	                         "organization", 1, "role", "ROLE_MEMBER", "emails",
	                         "quinn@acme.example");
	ut_reply r;
	post_json(own, "/rpc/usher.v1.InvitationService/CreateInvitations", json_incref(body), &r);
	expect_http(&r, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "created")), 1);
	ut_reply_free(&r);
	post_json(out, "/rpc/usher.v1.InvitationService/CreateInvitations", json_incref(body), &r);
	expect_http(&r, 403);
	assert_null(strstr(r.body, "quinn"));
	ut_reply_free(&r);
	json_decref(body);
	ut_browser_free(own);
	ut_browser_free(out);
}

/* The token of a permanent link's URL ("…/l/<token>"). */
static const char *link_token(const char *url)
{
	const char *l = strstr(url, "/l/");
	assert_non_null(l);
	return l + 3;
}

/* Hole 1 over HTTP, and hole 7's stored reply: an outsider repeating the owner's
 * EnableLink body and Idempotency-Key gets no link; the stored reply holds no token; the
 * owner's own repeat shows the link while it is active and not once it is deleted. */
static void test_enable_link_replays_to_nobody_else_and_stores_no_token(void **state)
{
	(void)state;
	ut_browser *own = signed_in("owner@acme.example");
	ut_browser *out = signed_in("outsider@else.example");
	ut_browser_add_header(own, "Idempotency-Key: link-key-1");
	ut_browser_add_header(out, "Idempotency-Key: link-key-1");
	json_t *body = json_pack("{s:s}", "accountId", account);
	ut_reply r;
	post_json(own, "/rpc/usher.v1.InvitationService/EnableLink", json_incref(body), &r);
	expect_http(&r, 200);
	const char *url = json_string_value(json_object_get(json_object_get(r.json, "link"), "url"));
	char *token = us_arena_strdup(A, link_token(url));
	char *link_id = us_arena_strdup(
	        A, json_string_value(json_object_get(json_object_get(r.json, "link"), "id")));
	ut_reply_free(&r);

	post_json(out, "/rpc/usher.v1.InvitationService/EnableLink", json_incref(body), &r);
	expect_http(&r, 403);
	assert_null(strstr(r.body, token));
	ut_reply_free(&r);

	/* No stored reply holds the token, in any form. */
	PGconn *conn = ut_db_admin(ut_system_db(&sys, UT_INVITATION));
	PGresult *res = PQexec(conn, "SELECT encode(reply, 'escape') FROM invitation.idempotency_keys"
	                             " WHERE method = 'usher.v1.InvitationService/EnableLink'");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_true(PQntuples(res) >= 1);
	for (int i = 0; i < PQntuples(res); i++)
		assert_null(strstr(PQgetvalue(res, i, 0), token));
	PQclear(res);
	PQfinish(conn);

	/* The owner's retry shows the same link, still active. */
	post_json(own, "/rpc/usher.v1.InvitationService/EnableLink", json_incref(body), &r);
	expect_http(&r, 200);
	json_t *link = json_object_get(r.json, "link");
	assert_string_equal(json_string_value(json_object_get(link, "id")), link_id);
	assert_string_equal(link_token(json_string_value(json_object_get(link, "url"))), token);
	ut_reply_free(&r);

	/* Once deleted, a retry shows it deleted: no URL, and no new link. */
	ut_browser_clear_headers(own);
	post_json(own, "/rpc/usher.v1.InvitationService/DeleteLink", json_incref(body), &r);
	expect_http(&r, 200);
	ut_reply_free(&r);
	ut_browser_add_header(own, "Idempotency-Key: link-key-1");
	post_json(own, "/rpc/usher.v1.InvitationService/EnableLink", json_incref(body), &r);
	expect_http(&r, 200);
	link = json_object_get(r.json, "link");
	assert_string_equal(json_string_value(json_object_get(link, "id")), link_id);
	assert_string_equal(json_string_value(json_object_get(link, "state")), "LINK_DELETED");
	const char *shown = json_string_value(json_object_get(link, "url"));
	assert_true(shown == NULL || shown[0] == '\0');
	ut_reply_free(&r);
	json_decref(body);
	ut_browser_free(own);
	ut_browser_free(out);
}

/* Hole 2: the actor and the system's powers come only from callers allowed them. */
static void test_only_trusted_callers_name_people_or_act_as_usher(void **state)
{
	(void)state;
	us_caller_key gateway, notification;
	ut_daemon_key(&sys, UT_GATEWAY, &gateway);
	ut_daemon_key(&sys, UT_NOTIFICATION, &notification);
	us_status st;

	/* A verified user only from Usher itself. */
	Usher__V1__CreateUserRequest user = USHER__V1__CREATE_USER_REQUEST__INIT;
	user.email = "squatter@acme.example";
	user.name = "Squatter";
	user.password = PASSWORD;
	user.email_verified = true;
	expect_code(call_as(&gateway, UT_IDENTITY, "usher.v1.IdentityService/CreateUser", NULL, "u-1",
	                    &user.base, &usher__v1__create_user_reply__descriptor, NULL, &st),
	            US_EDENIED, &st, "a verified user from the gateway");
	assert_int_equal(scalar("identity", "SELECT count(*) FROM identity.users"
	                                    " WHERE email = 'squatter@acme.example'"),
	                 0);
	/* Nor does anyone else make a claimed address proven. */
	user.email_verified = false;
	Usher__V1__CreateUserReply *claim = NULL;
	expect_code(call_as(&gateway, UT_IDENTITY, "usher.v1.IdentityService/CreateUser", NULL, "u-2",
	                    &user.base, &usher__v1__create_user_reply__descriptor,
	                    (ProtobufCMessage **)&claim, &st),
	            US_OK, &st, "a claim from the gateway");
	Usher__V1__ConfirmEmailOwnershipRequest prove =
	        USHER__V1__CONFIRM_EMAIL_OWNERSHIP_REQUEST__INIT;
	prove.user_id = claim->user->id;
	prove.email = user.email;
	expect_code(call_as(&gateway, UT_IDENTITY, "usher.v1.IdentityService/ConfirmEmailOwnership",
	                    NULL, "p-1", &prove.base,
	                    &usher__v1__confirm_email_ownership_reply__descriptor, NULL, &st),
	            US_EDENIED, &st, "an address proven by the gateway's word");
	assert_int_equal(scalar("identity",
	                        "SELECT count(*) FROM identity.users"
	                        " WHERE email = 'squatter@acme.example' AND email_verified"),
	                 0);

	/* Grants on someone's behalf: internal, and never without a granter. */
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	Usher__V1__GrantMembershipRequest grant = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	grant.account_id = account;
	grant.user_id = outsider;
	grant.role = USHER__V1__ROLE__ROLE_OWNER;
	grant.scope = &org;
	grant.source = "admin";
	expect_code(call_as(&gateway, UT_TENANCY, "usher.v1.TenancyService/GrantMembership", NULL,
	                    "g-1", &grant.base, &usher__v1__grant_membership_reply__descriptor, NULL,
	                    &st),
	            US_EDENIED, &st, "a grant from the gateway");
	expect_code(call_as(NULL, UT_TENANCY, "usher.v1.TenancyService/GrantMembership", NULL, "g-2",
	                    &grant.base, &usher__v1__grant_membership_reply__descriptor, NULL, &st),
	            US_EINVAL, &st, "a grant naming no granter");
	assert_int_equal(ut_count_memberships(&sys, A, account, outsider), 0);

	/* A person named by a caller without the actor right. */
	Usher__V1__ListMyMembershipsRequest mine = USHER__V1__LIST_MY_MEMBERSHIPS_REQUEST__INIT;
	expect_code(call_as(&notification, UT_TENANCY, "usher.v1.TenancyService/ListMyMemberships",
	                    owner, NULL, &mine.base, &usher__v1__list_my_memberships_reply__descriptor,
	                    NULL, &st),
	            US_EDENIED, &st, "an actor named by notificationd");

	/* No read is trusted for naming nobody: it takes the system right. */
	Usher__V1__ListMembersRequest members = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	members.account_id = account;
	expect_code(call_as(&gateway, UT_TENANCY, "usher.v1.TenancyService/ListMembers", NULL, NULL,
	                    &members.base, &usher__v1__list_members_reply__descriptor, NULL, &st),
	            US_EUNAUTHENTICATED, &st, "a read naming nobody, from the gateway");
	Usher__V1__LookupEmailsRequest lookup = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	char *emails[] = {"owner@acme.example"};
	lookup.emails = emails;
	lookup.n_emails = 1;
	expect_code(call_as(&gateway, UT_IDENTITY, "usher.v1.IdentityService/LookupEmails", NULL, NULL,
	                    &lookup.base, &usher__v1__lookup_emails_reply__descriptor, NULL, &st),
	            US_EDENIED, &st, "who has an address, asked by the gateway");

	/* The account and who is in it, for CreateInvitations: Usher's own question. */
	Usher__V1__CheckGrantRequest may = USHER__V1__CHECK_GRANT_REQUEST__INIT;
	may.actor_user_id = owner;
	may.account_id = account;
	may.role = USHER__V1__ROLE__ROLE_MEMBER;
	may.scope = &org;
	Usher__V1__CheckInviteRequest invite = USHER__V1__CHECK_INVITE_REQUEST__INIT;
	invite.grant = &may;
	expect_code(call_as(&gateway, UT_TENANCY, "usher.v1.TenancyService/CheckInvite", owner, NULL,
	                    &invite.base, &usher__v1__check_invite_reply__descriptor, NULL, &st),
	            US_EDENIED, &st, "the account and its members, asked by the gateway");
	us_caller_key_wipe(&gateway);
	us_caller_key_wipe(&notification);
}

static us_err invite_as(const us_caller_key *key, const char *in_account, Usher__V1__Role role,
                        const char *email, const char *actor, us_status *st)
{
	Usher__V1__Scope org = USHER__V1__SCOPE__INIT;
	org.organization = true;
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	req.account_id = (char *)in_account;
	req.scope = &org;
	req.role = role;
	char *emails[] = {(char *)email};
	req.emails = emails;
	req.n_emails = 1;
	return call_as(key, UT_INVITATION, "usher.v1.InvitationService/CreateInvitations", actor,
	               ut_key(A), &req.base, &usher__v1__create_invitations_reply__descriptor, NULL, st);
}

static void test_a_principal_acts_as_itself_within_its_scope(void **state)
{
	(void)state;
	principal p;
	create_principal("billing-sync", account,
	                 "usher.v1.InvitationService/CreateInvitations,usher.v1.TenancyService/Check",
	                 "member", &p);
	us_status st;
	expect_code(invite_as(&p.key, account, USHER__V1__ROLE__ROLE_MEMBER, "pat@acme.example", NULL,
	                      &st),
	            US_OK, &st, "an invitation within scope");
	char *sql = us_arena_printf(A, "SELECT count(*) FROM invitation.batches"
	                               " WHERE invited_by_principal = '%s' AND invited_by IS NULL",
	                            p.id);
	assert_int_equal(scalar("invitation", sql), 1);

	/* Outside its accounts, above its ceiling, outside its methods, for a person. */
	expect_code(invite_as(&p.key, other_account, USHER__V1__ROLE__ROLE_MEMBER, "x@acme.example",
	                      NULL, &st),
	            US_EDENIED, &st, "another account");
	expect_code(invite_as(&p.key, account, USHER__V1__ROLE__ROLE_ADMIN, "y@acme.example", NULL,
	                      &st),
	            US_EDENIED, &st, "a role above its ceiling");
	expect_code(invite_as(&p.key, account, USHER__V1__ROLE__ROLE_MEMBER, "z@acme.example", owner,
	                      &st),
	            US_EDENIED, &st, "naming a person");
	Usher__V1__ListInvitationsRequest list = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	list.account_id = account;
	expect_code(call_as(&p.key, UT_INVITATION, "usher.v1.InvitationService/ListInvitations", NULL,
	                    NULL, &list.base, &usher__v1__list_invitations_reply__descriptor, NULL, &st),
	            US_EDENIED, &st, "a method it was not given");
	expect_code(check_as(&p.key, account, &st), US_OK, &st, "Check in its account");
	expect_code(check_as(&p.key, other_account, &st), US_EDENIED, &st, "Check elsewhere");
	assert_int_equal(
	        scalar("invitation",
	               "SELECT count(*) FROM invitation.invitations"
	               " WHERE email IN ('x@acme.example', 'y@acme.example', 'z@acme.example')"),
	        0);

	/* Its invitation is accepted like any other: tenancyd checks the principal again. */
	ut_email mail;
	assert_true(ut_wait_email(spool, A, "pat@acme.example", "Invitation", 0, WAIT_MS, &mail));
	ut_browser *pat = ut_browser_new(&sys);
	char *path = us_arena_printf(A, "/i/%s/accept", mail.token);
	ut_reply r;
	post_json(pat, path, json_pack("{s:s, s:s}", "name", "Pat", "password", PASSWORD), &r);
	expect_http(&r, 200);
	ut_reply_free(&r);
	ut_browser_free(pat);
	assert_int_equal(
	        scalar("tenancy", us_arena_printf(A,
	                                          "SELECT count(*) FROM tenancy.memberships m"
	                                          " WHERE m.account_id = '%s' AND m.role = 'member'"
	                                          " AND m.source LIKE 'invitation:%%'",
	                                          account)),
	        1);
}

/* A principal's own client MACs its calls from the second one (tenancyd logs them
 * "auth":"mac"), and a MAC changes nothing of what it may do: its scope still holds, and
 * its revocation ends its MAC'd calls as it ends signed ones. */
static void test_a_principal_macs_its_calls_within_its_scope(void **state)
{
	(void)state;
	principal p;
	create_principal("mac-sync", account, "usher.v1.TenancyService/Check", "member", &p);
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts opts = {.url = sys.daemons[UT_TENANCY].url, .caller = "mac-sync",
	                           .key = &p.key};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = owner;
	req.account_id = account;
	req.action = "member.invite";
	us_rpc_call_opts call = {.timeout_ms = 20000};
	ProtobufCMessage *reply;
	us_status st;
	long from = ut_log_lines(&sys.daemons[UT_TENANCY]);
	for (int i = 0; i < 3; i++)
		expect_code(us_rpc_call(c, "usher.v1.TenancyService/Check", &call, &req.base,
		                        &usher__v1__check_reply__descriptor, A, &reply, &st),
		            US_OK, &st, "Check in its account");
	char *needle = us_arena_printf(A, "\"caller\":\"principal:%s\",\"auth\":\"mac\"", p.id);
	assert_true(ut_log_wait(&sys.daemons[UT_TENANCY], needle, from, WAIT_MS) > 0);

	req.account_id = other_account;
	expect_code(us_rpc_call(c, "usher.v1.TenancyService/Check", &call, &req.base,
	                        &usher__v1__check_reply__descriptor, A, &reply, &st),
	            US_EDENIED, &st, "a MAC'd Check elsewhere");

	const char *revoke[] = {"principals", "revoke", "mac-sync", NULL};
	json_decref(usherctl_json(revoke));
	req.account_id = account;
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	us_err rc;
	while ((rc = us_rpc_call(c, "usher.v1.TenancyService/Check", &call, &req.base,
	                         &usher__v1__check_reply__descriptor, A, &reply, &st)) == US_OK &&
	       us_monotonic_ms() < deadline)
		usleep(100 * 1000);
	assert_int_equal(rc, US_EUNAUTHENTICATED);
	assert_string_equal(st.reason, "UNKNOWN_KEY");
	us_status_clear(&st);
	us_rpc_client_close(c);
}

static void test_rotation_overlaps_then_retires_and_revocation_ends_a_key(void **state)
{
	(void)state;
	principal first, second;
	create_principal("rotating", NULL, "usher.v1.TenancyService/Check", "member", &first);
	us_status st;
	expect_code(check_as(&first.key, account, &st), US_OK, &st, "the first key");

	const char *rotate[] = {"principals", "rotate", "rotating", "--overlap-hours", "1", NULL};
	take_secret(usherctl_json(rotate), &second);
	/* During the overlap both keys work. */
	expect_code(check_as(&second.key, account, &st), US_OK, &st, "the new key");
	expect_code(check_as(&first.key, account, &st), US_OK, &st, "the old key, overlapping");

	const char *finish[] = {"principals", "finish-rotation", "rotating", NULL};
	json_decref(usherctl_json(finish));
	wait_check(&first.key, US_EUNAUTHENTICATED, "the old key after the rotation");
	expect_code(check_as(&second.key, account, &st), US_OK, &st, "the new key after it");

	const char *revoke[] = {"principals", "revoke", "rotating", NULL};
	json_decref(usherctl_json(revoke));
	wait_check(&second.key, US_EUNAUTHENTICATED, "a revoked principal's key");
}

static void test_api_key_over_http(void **state)
{
	(void)state;
	principal p;
	create_principal("reports", account, "usher.v1.TenancyService/Check", "member", &p);
	ut_browser *svc = ut_browser_new(&sys);
	char *bearer = us_arena_printf(A, "Authorization: Bearer %s", p.secret);
	ut_browser_add_header(svc, bearer);
	json_t *in_scope = json_pack("{s:s, s:s, s:s}", "userId", owner, "accountId", account,
	                             "action", "member.invite");
	ut_reply r;
	post_json(svc, "/rpc/usher.v1.TenancyService/Check", json_incref(in_scope), &r);
	expect_http(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "allowed")));
	ut_reply_free(&r);
	post_json(svc, "/rpc/usher.v1.TenancyService/Check",
	          json_pack("{s:s, s:s, s:s}", "userId", owner, "accountId", other_account, "action",
	                    "member.invite"),
	          &r);
	expect_http(&r, 403);
	ut_reply_free(&r);
	/* A method outside its list, reached through the gateway all the same. */
	post_json(svc, "/rpc/usher.v1.TenancyService/ListMembers",
	          json_pack("{s:s}", "accountId", account), &r);
	expect_http(&r, 403);
	ut_reply_free(&r);

	/* Its last use is recorded. */
	const char *list[] = {"principals", "list", NULL};
	json_t *doc = usherctl_json(list);
	bool used = false;
	json_t *ps = json_object_get(doc, "principals");
	for (size_t i = 0; i < json_array_size(ps); i++) {
		json_t *pr = json_array_get(ps, i);
		if (strcmp(json_string_value(json_object_get(pr, "name")), "reports") != 0)
			continue;
		const char *last = json_string_value(
		        json_object_get(json_array_get(json_object_get(pr, "keys"), 0), "lastUsedAt"));
		used = last != NULL && last[0] != '\0';
	}
	json_decref(doc);
	assert_true(used);

	/* A key nobody knows, and a malformed one, are 401. */
	ut_browser *stranger = ut_browser_new(&sys);
	ut_browser_add_header(stranger, "Authorization: Bearer usk_"
	                                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	post_json(stranger, "/rpc/usher.v1.TenancyService/Check", json_incref(in_scope), &r);
	expect_http(&r, 401);
	ut_reply_free(&r);
	ut_browser_clear_headers(stranger);
	ut_browser_add_header(stranger, "Authorization: Bearer usk_nothex");
	post_json(stranger, "/rpc/usher.v1.TenancyService/Check", json_incref(in_scope), &r);
	expect_http(&r, 401);
	ut_reply_free(&r);
	ut_browser_free(stranger);

	/* Revoked: refused within the cache's lifetime. */
	const char *revoke[] = {"principals", "revoke", "reports", NULL};
	json_decref(usherctl_json(revoke));
	int64_t deadline = us_monotonic_ms() + WAIT_MS;
	long status = 0;
	while (status != 401 && us_monotonic_ms() < deadline) {
		post_json(svc, "/rpc/usher.v1.TenancyService/Check", json_incref(in_scope), &r);
		status = r.status;
		ut_reply_free(&r);
		if (status != 401)
			usleep(100 * 1000);
	}
	assert_int_equal(status, 401);
	json_decref(in_scope);
	ut_browser_free(svc);
}

static void test_caller_policy_is_reloaded_on_sighup(void **state)
{
	(void)state;
	us_caller_key newcomer;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1], line[200];
	us_caller_key_generate(&newcomer, secret);
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	us_status st;
	for (int i = 0; i < UT_N_DAEMONS; i++)
		expect_code(call_as(&newcomer, i, "usher.v1.Health/Check", NULL, NULL, &req.base,
		                    &usher__v1__health_check_response__descriptor, NULL, &st),
		            US_EUNAUTHENTICATED, &st, "an unknown caller");
	ut_policy_line(line, sizeof(line), "newcomer", &newcomer, "");
	ut_system_trust(&sys, line);
	for (int i = 0; i < UT_N_DAEMONS; i++)
		expect_code(call_as(&newcomer, i, "usher.v1.Health/Check", NULL, NULL, &req.base,
		                    &usher__v1__health_check_response__descriptor, NULL, &st),
		            US_OK, &st, "a caller added to the policy");
	us_caller_key_wipe(&newcomer);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "security");
	snprintf(spool, sizeof(spool), "%s/mail", sys.dir);
	ut_system_start_all(&sys);
	ut_system_export_urls(&sys);
	owner = ut_create_user(&sys, A, "owner@acme.example", "Olivia Owner", PASSWORD);
	outsider = ut_create_user(&sys, A, "outsider@else.example", "Oscar Outsider", PASSWORD);
	account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	other_account = ut_create_account(&sys, A, outsider, "Else Inc", "texting");
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
		cmocka_unit_test(test_unsigned_forged_and_replayed_rpcs_change_nothing),
		cmocka_unit_test(test_one_key_two_actors_get_their_own_results),
		cmocka_unit_test(test_one_key_two_people_over_http),
		cmocka_unit_test(test_enable_link_replays_to_nobody_else_and_stores_no_token),
		cmocka_unit_test(test_only_trusted_callers_name_people_or_act_as_usher),
		cmocka_unit_test(test_a_principal_acts_as_itself_within_its_scope),
		cmocka_unit_test(test_a_principal_macs_its_calls_within_its_scope),
		cmocka_unit_test(test_rotation_overlaps_then_retires_and_revocation_ends_a_key),
		cmocka_unit_test(test_api_key_over_http),
		cmocka_unit_test(test_caller_policy_is_reloaded_on_sighup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
