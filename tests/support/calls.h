/* Test helpers that drive the real daemons over RPC: users, sessions, accounts,
 * memberships and invitations, and the emails usher-notificationd spools. Each helper
 * fails the test when the call does not succeed, unless it returns the status. */
#ifndef UT_CALLS_H
#define UT_CALLS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "harness.h"
#include "common/rpc_client.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

/* One RPC to a daemon of sys, as actor (may be NULL) with key (may be NULL: a fresh one
 * for mutating calls is the caller's to give). The reply lands in arena. */
us_err ut_call(ut_system *sys, int daemon, const char *method, const char *actor,
               const char *key, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type,
               us_arena *arena, ProtobufCMessage **reply, us_status *status);

/* A fresh idempotency key, in arena. */
char *ut_key(us_arena *arena);

/* Creates a user (verified) and returns its id in arena. */
char *ut_create_user(ut_system *sys, us_arena *a, const char *email, const char *name,
                     const char *password);

/* Logs in and returns the session token in arena. */
char *ut_login(ut_system *sys, us_arena *a, const char *email, const char *password);

/* Creates an account owned by owner with the given products (comma-separated, may be "")
 * and returns its id. */
char *ut_create_account(ut_system *sys, us_arena *a, const char *owner, const char *name,
                        const char *products);

/* Creates a subaccount as actor and returns its id. */
char *ut_create_subaccount(ut_system *sys, us_arena *a, const char *actor, const char *account,
                           const char *name);

/* Grants a membership as the system (no ceiling check, with a system_reason);
 * subaccount NULL: organization. */
void ut_grant(ut_system *sys, us_arena *a, const char *account, const char *user,
              Usher__V1__Role role, const char *subaccount);

/* Invites emails (n) as actor into account with role at organization level (subaccount
 * NULL) or in subaccount. Returns the status code; *reply on success. */
us_err ut_invite(ut_system *sys, us_arena *a, const char *actor, const char *account,
                 Usher__V1__Role role, const char *subaccount, const char *const *emails,
                 size_t n, Usher__V1__CreateInvitationsReply **reply, us_status *status);

/* Members of an account with user_id (0 or 1), as the system sees them. */
size_t ut_count_memberships(ut_system *sys, us_arena *a, const char *account, const char *user);

/* An email usher-notificationd wrote to the spool directory. */
typedef struct ut_email {
	char *to;
	char *subject;
	char *message_id;
	char *text;  /* the whole file */
	char *token; /* the first /i/<token> or /j/<token> link, or NULL */
} ut_email;

/* Waits up to timeout_ms for the n-th (0-based) spooled email to recipient whose subject
 * starts with subject_prefix (NULL: any); fills *out in arena and returns true. */
bool ut_wait_email(const char *spool_dir, us_arena *a, const char *recipient,
                   const char *subject_prefix, size_t nth, int timeout_ms, ut_email *out);

/* Up to max spooled emails to recipient (subject prefix optional), oldest first, into out
 * (in arena); returns how many there are in all. */
size_t ut_list_emails(const char *spool_dir, us_arena *a, const char *recipient,
                      const char *subject_prefix, ut_email *out, size_t max);

/* How many spooled emails went to recipient. */
size_t ut_count_emails(const char *spool_dir, const char *recipient);

#endif
