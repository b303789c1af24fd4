/* Calls to a running usher-tenancyd for the tests, and scenario helpers that fail the
 * test on any unexpected status. Everything lives in the client's arena until
 * tc_close(). */
#ifndef TENANCY_TEST_CLIENT_H
#define TENANCY_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "harness.h"
#include "common/rpc_client.h"
#include "common/status.h"
#include "usher/v1/tenancy.pb-c.h"

typedef struct tc {
	us_rpc_client *client;
	us_arena *arena;
	us_status status; /* of the last call */
} tc;

/* A system with only tenancyd running, extra_env (NULL-terminated, may be NULL) added to
 * its environment. */
ut_system *tc_system_start(const char *prefix, const char *const *extra_env);
void tc_system_stop(ut_system *sys);

tc *tc_open(const ut_system *sys);
void tc_close(tc *c);

/* A fresh random UUID (a user who exists nowhere else). */
char *tc_uuid(tc *c);

/* Calls usher.v1.TenancyService/<method> as actor (NULL: none) with an idempotency key
 * (NULL: a fresh one). Returns the code; *reply is set on success. */
us_err tc_call(tc *c, const char *method, const char *actor, const char *key,
               const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_type,
               void *reply);

/* Fails the test unless rc is want; context names the step. */
void tc_expect(tc *c, us_err rc, us_err want, const char *context);

/* Fails the test unless rc is INVALID_ARGUMENT with a violation of field. */
void tc_expect_invalid(tc *c, us_err rc, const char *field, const char *context);

/* Fails the test unless the last message contains text. */
void tc_expect_message(tc *c, const char *text);

/* --- scenarios --- */

/* An account owned by owner, with products "sms" and "voice". */
Usher__V1__CreateAccountReply *tc_account(tc *c, const char *owner);

Usher__V1__Subaccount *tc_subaccount(tc *c, const char *actor, const char *account_id,
                                     const char *name);

Usher__V1__Scope *tc_org(tc *c);
/* A scope of n subaccount ids. */
Usher__V1__Scope *tc_subs(tc *c, size_t n, ...);

/* GrantMembership by granted_by (NULL: the system) with no products; returns the code. */
us_err tc_try_grant(tc *c, const char *account_id, const char *user_id, int role,
                    Usher__V1__Scope *scope, const char *granted_by,
                    Usher__V1__Membership **out);

/* The same, with products. */
us_err tc_try_grant_products(tc *c, const char *account_id, const char *user_id, int role,
                             Usher__V1__Scope *scope, char **products, size_t n_products,
                             const char *granted_by, Usher__V1__Membership **out);

/* The same, failing the test unless it succeeds. */
Usher__V1__Membership *tc_grant(tc *c, const char *account_id, const char *user_id, int role,
                                Usher__V1__Scope *scope);

/* Check(user, account, subaccount ("" or NULL: account-wide), action). */
Usher__V1__CheckReply *tc_check(tc *c, const char *user_id, const char *account_id,
                                const char *subaccount_id, const char *action);

/* Asserts Check's answer, and that the reason contains reason (NULL: any). */
void tc_expect_check(tc *c, const char *user_id, const char *account_id,
                     const char *subaccount_id, const char *action, bool allowed,
                     const char *reason);

/* A member action (Deactivate, Reactivate, Remove) by actor on user_id. */
us_err tc_member(tc *c, const char *method, const char *actor, const char *account_id,
                 const char *user_id);

/* ChangeRole by actor. */
us_err tc_change_role(tc *c, const char *actor, const char *account_id, const char *user_id,
                      int role);

/* Whether user_id has a membership in the account (MembersAmong, asked internally). */
bool tc_is_member(tc *c, const char *account_id, const char *user_id);

#endif
