/* What the identity tests share: calling the real usher-identityd over its socket and
 * reading its schema as the superuser, failing the test on anything unexpected. */
#ifndef IDENTITY_TEST_CLIENT_H
#define IDENTITY_TEST_CLIENT_H

#include <stdint.h>

#include "common/arena.h"
#include "harness.h"
#include "common/rpc_client.h"
#include "common/status.h"
#include "usher/v1/identity.pb-c.h"

#define IDT(method) "usher.v1.IdentityService/" method
#define IDT_PASSWORD "correct horse battery staple"

typedef struct idt_opts {
	const char *actor;   /* the actor's user id, or NULL */
	const char *key;     /* idempotency key, or NULL */
	uint32_t timeout_ms; /* 0: 20 s */
} idt_opts;

/* A client of the system's usher-identityd; close with us_rpc_client_close(). */
us_rpc_client *idt_connect(const ut_system *sys);

/* Calls method and returns its code. On OK *reply (may be NULL) gets the reply in a;
 * st (may be NULL) gets the status: us_status_clear() it. */
us_err idt_call(us_rpc_client *c, const char *method, const idt_opts *o,
                const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                us_arena *a, ProtobufCMessage **reply, us_status *st);

/* A new idempotency key in a. */
const char *idt_key(us_arena *a);

/* Creates a user with IDT_PASSWORD (failing the test otherwise). */
Usher__V1__User *idt_create_user(us_rpc_client *c, us_arena *a, const char *email);
/* The same, with the address verified (a caller proved it) or only claimed. */
Usher__V1__User *idt_create_user_as(us_rpc_client *c, us_arena *a, const char *email,
                                    bool verified);

/* Logs in; returns the code, and on OK the reply in *out (may be NULL). */
us_err idt_login(us_rpc_client *c, us_arena *a, const char *email, const char *password,
                 const char *client_address, Usher__V1__LoginReply **out, us_status *st);

/* ResolveSession's code for token. */
us_err idt_resolve(us_rpc_client *c, us_arena *a, const char *token);

/* The first column of the first row of sql run as the superuser, or "" when there is no
 * row; malloc'd. */
char *idt_query(const ut_system *sys, const char *sql);

/* idt_query as a number. */
long long idt_count(const ut_system *sys, const char *sql);

/* Runs sql as the superuser. */
void idt_exec(const ut_system *sys, const char *sql);

/* Fails the test unless st names field among its violations. */
void idt_assert_violation(const us_status *st, const char *field);

#endif
