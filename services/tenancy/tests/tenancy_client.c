#include "tenancy_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

ut_system *tc_system_start(const char *prefix, const char *const *extra_env)
{
	ut_system *sys = calloc(1, sizeof(*sys));
	assert_non_null(sys);
	ut_system_init(sys, prefix);
	for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL && i < 15; i++)
		sys->extra_env[i] = extra_env[i];
	ut_system_start(sys, UT_TENANCY);
	return sys;
}

void tc_system_stop(ut_system *sys)
{
	ut_system_teardown(sys);
	free(sys);
}

tc *tc_open(const ut_system *sys)
{
	tc *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	char err[256];
	us_rpc_client_opts opts = {.url = sys->daemons[UT_TENANCY].url, .caller = "tenancy_test"};
	if (us_rpc_client_open(&opts, &c->client, err, sizeof(err)) != US_OK)
		fail_msg("could not reach tenancyd: %s", err);
	c->arena = us_arena_new();
	assert_non_null(c->arena);
	us_status_init(&c->status);
	return c;
}

void tc_close(tc *c)
{
	us_status_clear(&c->status);
	us_arena_free(c->arena);
	us_rpc_client_close(c->client);
	free(c);
}

char *tc_uuid(tc *c)
{
	unsigned char b[16];
	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), b, sizeof(b));
	return us_arena_printf(c->arena, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	                       hex + 16, hex + 20);
}

us_err tc_call(tc *c, const char *method, const char *actor, const char *key,
               const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_type,
               void *reply)
{
	char full[128];
	snprintf(full, sizeof(full), "usher.v1.TenancyService/%s", method);
	us_rpc_call_opts opts = {
		.timeout_ms = 30000,
		.idempotency_key = key != NULL ? key : tc_uuid(c),
		.actor_user_id = actor,
	};
	us_status_clear(&c->status);
	ProtobufCMessage *out = NULL;
	us_err rc = us_rpc_call(c->client, full, &opts, req, reply_type, c->arena, &out, &c->status);
	if (rc == US_OK)
		*(ProtobufCMessage **)reply = out;
	return rc;
}

static void fail_with_status(tc *c, const char *context, const char *expected)
{
	char violations[512] = "";
	size_t used = 0;
	for (size_t i = 0; i < c->status.n_violations && used < sizeof(violations); i++)
		used += (size_t)snprintf(violations + used, sizeof(violations) - used, " [%s: %s]",
		                         c->status.violations[i].field,
		                         c->status.violations[i].description);
	fail_msg("%s: expected %s, got %s \"%s\"%s", context, expected, us_err_name(c->status.code),
	         c->status.message, violations);
}

void tc_expect(tc *c, us_err rc, us_err want, const char *context)
{
	if (rc != want)
		fail_with_status(c, context, us_err_name(want));
}

void tc_expect_invalid(tc *c, us_err rc, const char *field, const char *context)
{
	if (rc != US_EINVAL || us_status_violation(&c->status, field) == NULL) {
		char expected[160];
		snprintf(expected, sizeof(expected), "INVALID_ARGUMENT on \"%s\"", field);
		fail_with_status(c, context, expected);
	}
}

void tc_expect_message(tc *c, const char *text)
{
	if (strstr(c->status.message, text) == NULL)
		fail_msg("expected a message with \"%s\", got \"%s\"", text, c->status.message);
}

Usher__V1__CreateAccountReply *tc_account(tc *c, const char *owner)
{
	static char *products[] = {"sms", "voice"};
	Usher__V1__CreateAccountRequest req = USHER__V1__CREATE_ACCOUNT_REQUEST__INIT;
	req.name = us_arena_printf(c->arena, "Account %.8s", tc_uuid(c));
	req.products = products;
	req.n_products = 2;
	Usher__V1__CreateAccountReply *out = NULL;
	us_err rc = tc_call(c, "CreateAccount", owner, NULL, &req.base,
	                    &usher__v1__create_account_reply__descriptor, &out);
	tc_expect(c, rc, US_OK, "CreateAccount");
	return out;
}

Usher__V1__Subaccount *tc_subaccount(tc *c, const char *actor, const char *account_id,
                                     const char *name)
{
	Usher__V1__CreateSubaccountRequest req = USHER__V1__CREATE_SUBACCOUNT_REQUEST__INIT;
	req.account_id = (char *)account_id;
	req.name = (char *)name;
	Usher__V1__CreateSubaccountReply *out = NULL;
	us_err rc = tc_call(c, "CreateSubaccount", actor, NULL, &req.base,
	                    &usher__v1__create_subaccount_reply__descriptor, &out);
	tc_expect(c, rc, US_OK, "CreateSubaccount");
	return out->subaccount;
}

Usher__V1__Scope *tc_org(tc *c)
{
	Usher__V1__Scope *s = US_ARENA_NEW(c->arena, Usher__V1__Scope);
	usher__v1__scope__init(s);
	s->organization = true;
	return s;
}

Usher__V1__Scope *tc_subs(tc *c, size_t n, ...)
{
	Usher__V1__Scope *s = US_ARENA_NEW(c->arena, Usher__V1__Scope);
	usher__v1__scope__init(s);
	s->subaccount_ids = US_ARENA_ARRAY(c->arena, char *, n ? n : 1);
	s->n_subaccount_ids = n;
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		s->subaccount_ids[i] = va_arg(ap, char *);
	va_end(ap);
	return s;
}

us_err tc_try_grant(tc *c, const char *account_id, const char *user_id, int role,
                    Usher__V1__Scope *scope, const char *granted_by,
                    Usher__V1__Membership **out)
{
	return tc_try_grant_products(c, account_id, user_id, role, scope, NULL, 0, granted_by, out);
}

us_err tc_try_grant_products(tc *c, const char *account_id, const char *user_id, int role,
                             Usher__V1__Scope *scope, char **products, size_t n_products,
                             const char *granted_by, Usher__V1__Membership **out)
{
	Usher__V1__GrantMembershipRequest req = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	req.account_id = (char *)account_id;
	req.user_id = (char *)user_id;
	req.role = (Usher__V1__Role)role;
	req.scope = scope;
	req.products = products;
	req.n_products = n_products;
	req.source = "admin";
	req.granted_by = granted_by != NULL ? (char *)granted_by : "";
	req.system_reason = granted_by != NULL ? "" : "test set-up";
	Usher__V1__GrantMembershipReply *reply = NULL;
	us_err rc = tc_call(c, "GrantMembership", NULL, NULL, &req.base,
	                    &usher__v1__grant_membership_reply__descriptor, &reply);
	if (rc == US_OK && out != NULL)
		*out = reply->membership;
	return rc;
}

Usher__V1__Membership *tc_grant(tc *c, const char *account_id, const char *user_id, int role,
                                Usher__V1__Scope *scope)
{
	Usher__V1__Membership *m = NULL;
	tc_expect(c, tc_try_grant(c, account_id, user_id, role, scope, NULL, &m), US_OK,
	          "GrantMembership");
	return m;
}

Usher__V1__CheckReply *tc_check(tc *c, const char *user_id, const char *account_id,
                                const char *subaccount_id, const char *action)
{
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = (char *)user_id;
	req.account_id = (char *)account_id;
	req.subaccount_id = subaccount_id != NULL ? (char *)subaccount_id : "";
	req.action = (char *)action;
	Usher__V1__CheckReply *out = NULL;
	tc_expect(c, tc_call(c, "Check", NULL, NULL, &req.base, &usher__v1__check_reply__descriptor,
	                     &out),
	          US_OK, "Check");
	return out;
}

void tc_expect_check(tc *c, const char *user_id, const char *account_id,
                     const char *subaccount_id, const char *action, bool allowed,
                     const char *reason)
{
	Usher__V1__CheckReply *r = tc_check(c, user_id, account_id, subaccount_id, action);
	if (r->allowed != allowed || (reason != NULL && strstr(r->reason, reason) == NULL))
		fail_msg("Check %s%s%s: expected %s (\"%s\"), got %s (\"%s\")", action,
		         subaccount_id && subaccount_id[0] ? " in " : "",
		         subaccount_id ? subaccount_id : "", allowed ? "allowed" : "denied",
		         reason ? reason : "", r->allowed ? "allowed" : "denied", r->reason);
}

us_err tc_member(tc *c, const char *method, const char *actor, const char *account_id,
                 const char *user_id)
{
	Usher__V1__MemberRequest req = USHER__V1__MEMBER_REQUEST__INIT;
	req.account_id = (char *)account_id;
	req.user_id = (char *)user_id;
	ProtobufCMessage *out;
	const ProtobufCMessageDescriptor *type = strcmp(method, "Remove") == 0
	                                                 ? &usher__v1__remove_reply__descriptor
	                                                 : &usher__v1__member_reply__descriptor;
	return tc_call(c, method, actor, NULL, &req.base, type, &out);
}

us_err tc_change_role(tc *c, const char *actor, const char *account_id, const char *user_id,
                      int role)
{
	Usher__V1__ChangeRoleRequest req = USHER__V1__CHANGE_ROLE_REQUEST__INIT;
	req.account_id = (char *)account_id;
	req.user_id = (char *)user_id;
	req.role = (Usher__V1__Role)role;
	ProtobufCMessage *out;
	return tc_call(c, "ChangeRole", actor, NULL, &req.base, &usher__v1__change_role_reply__descriptor,
	               &out);
}

bool tc_is_member(tc *c, const char *account_id, const char *user_id)
{
	Usher__V1__MembersAmongRequest req = USHER__V1__MEMBERS_AMONG_REQUEST__INIT;
	char *ids[] = {(char *)user_id};
	req.account_id = (char *)account_id;
	req.user_ids = ids;
	req.n_user_ids = 1;
	Usher__V1__MembersAmongReply *out = NULL;
	tc_expect(c, tc_call(c, "MembersAmong", NULL, NULL, &req.base,
	                     &usher__v1__members_among_reply__descriptor, &out),
	          US_OK, "MembersAmong");
	return out->n_user_ids == 1;
}
