/* The RPC server: one NNG REP socket, a pool of worker threads each with its own
 * database connection, and dispatch through protoc-c's service descriptors.
 *
 * Adding a method is writing its handler and one line in the service's method table:
 *
 *     static const us_rpc_method identity_methods[] = {
 *         {"CreateUser", create_user, US_RPC_IDEMPOTENT},
 *         {"GetUser", get_user, 0},
 *     };
 *
 * The server authenticates every request first (caller_auth.h: an unsigned, forged,
 * stale, replayed or unknown request is UNAUTHENTICATED and nothing else happens; every
 * reply names the server's public key, so callers MAC their next requests), checks
 * that the caller may call the method as asked (PERMISSION_DENIED), unpacks the request
 * into a per-call arena, runs the handler, packs its reply, and answers every failure with
 * a status: a malformed envelope or payload is INVALID_ARGUMENT, an unknown method
 * UNIMPLEMENTED, an expired deadline DEADLINE_EXCEEDED. Every server also answers
 * usher.v1.Health/Check (any authenticated caller), and one with a database
 * usher.v1.Admin/MigrationStatus (internal). */
#ifndef US_RPC_SERVER_H
#define US_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>

#include "common/arena.h"
#include "common/caller_auth.h"
#include "common/err.h"
#include "common/migrate.h"
#include "common/rpc_client.h"

typedef struct us_call us_call;
typedef struct us_rpc_server us_rpc_server;

/* A handler. request is the unpacked input message (borrowed). On success it sets *reply
 * to the output message, allocated in us_call_arena(call) (or static); on failure it
 * returns the error, with a message set by us_call_error() or violations added by
 * us_call_violation(). */
typedef us_err us_rpc_handler(us_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **reply);

enum {
	/* Mutating and idempotent: the request must carry an idempotency key; the handler
	 * runs inside a transaction on us_call_db() that also records the key, the request's
	 * hash and the reply; a repeat of the key replays the stored reply, and the same key
	 * with another request is INVALID_ARGUMENT. The handler must not BEGIN or COMMIT.
	 * Keys are scoped by caller, actor and method: one caller's key never replays
	 * another's reply. */
	US_RPC_IDEMPOTENT = 1 << 0,
	/* Only for Usher's own daemons and operators: callers with the "system" right. */
	US_RPC_INTERNAL = 1 << 1,
	/* Only for operators who manage service principals (the "principals" right). */
	US_RPC_PRINCIPAL_ADMIN = 1 << 2,
	/* With US_RPC_IDEMPOTENT: the transaction's BEGIN and the key's claim go in one round
	 * trip with the handler's first statements (us_idempotency_run_ahead). A repeat runs
	 * the handler before its stored reply is found, then rolls it back: only for a handler
	 * whose work outside the transaction is harmless to repeat. */
	US_RPC_CLAIM_AHEAD = 1 << 3,
	/* Writes nothing: the server does not announce a commit after it (common/wake.h).
	 * Every other request wakes the daemon's relays once handled, whatever its outcome. */
	US_RPC_READ_ONLY = 1 << 4,
};

typedef struct us_rpc_method {
	const char *name; /* as in the .proto: "CreateUser" */
	us_rpc_handler *handler;
	unsigned flags;
} us_rpc_method;

/* For an idempotent method whose reply holds a secret (a link's URL): no stored reply
 * may keep it. strip removes it from the reply before the copy kept for replays is
 * packed (the caller still gets the whole reply); replay makes the reply to a repeat
 * from the stored copy and the request, e.g. by reading the secret again if the caller
 * may still see it. */
typedef struct us_rpc_reply_secret {
	const char *method; /* full name: "usher.v1.InvitationService/EnableLink" */
	void (*strip)(ProtobufCMessage *reply);
	us_err (*replay)(us_call *call, const ProtobufCMessage *request, ProtobufCMessage *stored,
	                 ProtobufCMessage **reply);
} us_rpc_reply_secret;

typedef struct us_rpc_service {
	const ProtobufCServiceDescriptor *descriptor;
	const us_rpc_method *methods;
	size_t n_methods;
	void *ctx; /* the service's state, handed to handlers by us_call_service_ctx() */
} us_rpc_service;

typedef struct us_rpc_server_opts {
	const char *listen_url;          /* tcp://HOST:PORT (port 0: any free one); see transport.h;
	                                  * NULL: no socket, see us_rpc_server_handle() */
	int workers;                     /* threads, each with its own PGconn */
	size_t max_message_bytes;        /* larger requests are dropped by NNG */
	uint32_t default_timeout_ms;     /* when a request gives none */
	const char *database_url;        /* NULL: workers have no database */
	const char *schema;
	const us_migration *migrations;  /* the daemon's own, for usher.v1.Admin/MigrationStatus */
	const uint8_t *request_hash_key; /* keys stored request hashes (see idempotency.h); or NULL */
	us_auth *auth;                   /* who may call (borrowed, required) */
	const char *service;             /* the metrics' service label; NULL: "usher" */
	const us_rpc_reply_secret *reply_secrets; /* borrowed; each names an idempotent method */
	size_t n_reply_secrets;
} us_rpc_server_opts;

/* Binds the socket, connects the workers and starts serving. services (and their
 * tables) are borrowed for the server's life. Every method a table names must exist in
 * its descriptor; descriptor methods without a handler answer UNIMPLEMENTED. Returns
 * owned *out (stop with us_rpc_server_stop()), or an error with the reason in err. */
US_MUST_USE us_err us_rpc_server_start(const us_rpc_server_opts *opts,
                                       const us_rpc_service *services, size_t n_services,
                                       us_rpc_server **out, char *err, size_t err_size);

/* The address the server listens on, a tcp:// port 0 resolved: borrowed from srv. */
const char *us_rpc_server_url(const us_rpc_server *srv);

/* What Health/Check answers while the server runs (true after start). */
void us_rpc_server_set_serving(us_rpc_server *srv, bool serving);

/* Stops taking requests, finishes the ones already received, replies to them, and
 * frees the server. Takes NULL. */
void us_rpc_server_stop(us_rpc_server *srv);

/* Handles one packed RpcRequest exactly as a worker would, on the calling thread, for a
 * server started without a listen_url (tests and fuzz targets: the whole request path
 * without a socket). Not for concurrent use. Returns the packed RpcReply in arena, or
 * RESOURCE_EXHAUSTED when out of memory. */
US_MUST_USE us_err us_rpc_server_handle(us_rpc_server *srv, const uint8_t *request, size_t len,
                                        us_arena *arena, uint8_t **reply, size_t *reply_len);

/* --- for handlers --- */

us_arena *us_call_arena(us_call *call);
/* The worker's connection, search_path set to the schema; NULL without a database. */
PGconn *us_call_db(us_call *call);
void *us_call_service_ctx(us_call *call);
/* The method being called (its input and output types among others). */
const ProtobufCMethodDescriptor *us_call_method(us_call *call);
const char *us_call_request_id(us_call *call);
const char *us_call_traceparent(us_call *call);
/* The authenticated caller (caller_auth.h), borrowed from the call. */
const us_caller *us_call_caller(us_call *call);
/* The caller's name for logs: "usher-gatewayd", a principal's name. */
const char *us_call_caller_name(us_call *call);
/* True for Usher's own daemons and operators (the "system" right). */
bool us_call_is_system(us_call *call);
/* The service principal calling, or NULL. Its scope has been checked against the
 * request's account_id and role (us_auth_permit_input()). */
const us_principal *us_call_principal(us_call *call);
const char *us_call_idempotency_key(us_call *call); /* "" when none */
const char *us_call_actor_user_id(us_call *call);   /* "" when anonymous */
const char *us_call_actor_account_id(us_call *call);
/* Milliseconds left before the caller's deadline; never below 0. */
int64_t us_call_remaining_ms(us_call *call);

/* Fills opts for a call this handler makes to another daemon: what is left of the
 * caller's budget, its request id, its trace (a valid traceparent continued with a new
 * parent id) and actor are carried on. The strings are borrowed from the call and good
 * until the next us_call_downstream(). The idempotency key is left to the handler. */
void us_call_downstream(us_call *call, us_rpc_call_opts *opts);

/* Sets the reply's message (printf) and returns code, for `return us_call_error(...)`. */
us_err us_call_error(us_call *call, us_err code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Records a bad field ("emails[3]", "must be an email address"). */
void us_call_violation(us_call *call, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* True when violations were recorded. */
bool us_call_has_violations(const us_call *call);

/* Returns US_EINVAL with a message summing up the recorded violations. */
us_err us_call_invalid(us_call *call);

#endif
