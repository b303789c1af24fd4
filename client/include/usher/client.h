/* libusher-client: call Usher's daemons from a C service.
 *
 * One client talks to one daemon (or to its replicas): open it with the daemon's RPC URL
 * and the service's caller key, then call any method of that daemon with the generated
 * protobuf-c messages (usher/v1/NAME.pb-c.h, installed with this header). Every request
 * is signed with the caller key (Ed25519, a fresh nonce and issue time per attempt), runs
 * under a deadline that covers all its attempts, and carries an idempotency key: the
 * caller's, or one made for the call, so a retry never does the work twice. A reply
 * UNAVAILABLE (a daemon draining, its database or a peer down, a connection lost before
 * the reply) is retried with backoff while the deadline allows.
 *
 *   usher_client *c;
 *   usher_status st;
 *   usher_client_config cfg = {.urls = getenv("INVITATION_RPC_URL")};
 *   if (usher_client_open(&cfg, &c, &st) != USHER_OK) ... st.message says why
 *   ProtobufCMessage *reply;
 *   if (usher_call(c, "usher.v1.InvitationService/CreateInvitations", &req.base,
 *                  &usher__v1__create_invitations_reply__descriptor, NULL, &reply, &st)
 *       == USHER_OK) ... protobuf_c_message_free_unpacked(reply, NULL);
 *   usher_status_clear(&st);
 *   usher_client_close(c);
 *
 * Build with `pkg-config --cflags --libs usher-client`. Thread-safe: any number of
 * threads may call through one client at once. docs/integration.md walks through it. */
#ifndef USHER_CLIENT_H
#define USHER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The outcome of a call: gRPC's status codes, with gRPC's meaning. */
typedef enum usher_code {
	USHER_OK = 0,
	USHER_CANCELLED = 1,
	USHER_UNKNOWN = 2,
	USHER_INVALID_ARGUMENT = 3,
	USHER_DEADLINE_EXCEEDED = 4,
	USHER_NOT_FOUND = 5,
	USHER_ALREADY_EXISTS = 6,
	USHER_PERMISSION_DENIED = 7,
	USHER_RESOURCE_EXHAUSTED = 8,
	USHER_FAILED_PRECONDITION = 9,
	USHER_ABORTED = 10,
	USHER_OUT_OF_RANGE = 11,
	USHER_UNIMPLEMENTED = 12,
	USHER_INTERNAL = 13,
	USHER_UNAVAILABLE = 14,
	USHER_DATA_LOSS = 15,
	USHER_UNAUTHENTICATED = 16,
} usher_code;

/* "INVALID_ARGUMENT"; never NULL. */
const char *usher_code_name(usher_code code);

/* A field of the request that was wrong, and why. */
typedef struct usher_violation {
	char *field;       /* "emails[3]" */
	char *description; /* "is not an email address" */
} usher_violation;

/* What went wrong, for people (message) and programs (code, reason, violations). */
typedef struct usher_status {
	usher_code code;
	char message[256];
	char reason[32]; /* why UNAUTHENTICATED ("UNKNOWN_KEY", "CLOCK_SKEW", ...), or "" */
	usher_violation *violations; /* owned: usher_status_clear() */
	size_t n_violations;
} usher_status;

/* Frees the violations and resets st to OK. Takes NULL. */
void usher_status_clear(usher_status *st);

typedef struct usher_client usher_client;

typedef struct usher_client_config {
	/* The daemon's RPC URL ("tcp://10.0.0.5:7003"), or its replicas' separated by commas:
	 * calls are spread over those that are connected. Required. */
	const char *urls;
	/* The caller's secret: "usk_" and 64 hex digits, as `usherctl principals create`
	 * prints it for a service principal. NULL: the environment's USHER_CALLER_KEY, or the
	 * file USHER_CALLER_KEY_FILE names. Copied; wipe yours when you like. */
	const char *caller_key;
	/* This service's name in the daemons' logs. NULL: "usher-client". */
	const char *caller_name;
	/* A call's deadline when its options give none (0: 5000 ms). */
	uint32_t default_deadline_ms;
	/* Attempts of a call answered UNAVAILABLE, the first included (0: 4). */
	unsigned max_attempts;
} usher_client_config;

/* Opens a client: returns USHER_OK and an owned *out (usher_client_close()), or an
 * error with why in *status (USHER_INVALID_ARGUMENT: a bad URL or key; no key at all is
 * refused too, as every daemon would refuse the calls). Connecting goes on in the
 * background, so the daemon need not be up yet: calls wait for it within their deadline. */
usher_code usher_client_open(const usher_client_config *config, usher_client **out,
                             usher_status *status);

/* Takes NULL. Every call through c must have returned. */
void usher_client_close(usher_client *c);

typedef struct usher_call_opts {
	/* The whole call, retries included (0: the client's default). The daemon gets what
	 * remains of it, and passes that on to its own calls and queries. */
	uint32_t deadline_ms;
	/* Makes a mutating call safe to repeat: a daemon that has seen the key with the same
	 * request replays its first reply (the same key with another request is refused).
	 * Give your own (at most 200 bytes) to repeat a call across restarts of your service;
	 * NULL: one made for this call, kept across its retries. */
	const char *idempotency_key;
	const char *request_id;  /* in the daemons' logs; NULL: a random one */
	const char *traceparent; /* W3C trace context to continue, or NULL */
	/* The person on whose behalf the call is made: only callers trusted to assert one
	 * (the gateway, operators) may; a service principal acts as itself (NULL). */
	const char *actor_user_id;
	const char *actor_account_id;
} usher_call_opts;

/* Calls method ("usher.v1.InvitationService/CreateInvitations") with request, whose
 * reply is a reply_type message (the method's output in the .proto). opts may be NULL.
 * On USHER_OK sets *reply, owned: free it with protobuf_c_message_free_unpacked(*reply,
 * NULL). Otherwise *status (which may be NULL) says why; usher_status_clear() it after
 * either. USHER_DEADLINE_EXCEEDED: no reply in time (the daemon may still have done the
 * work: repeat with the same idempotency key to learn the outcome). */
usher_code usher_call(usher_client *c, const char *method, const ProtobufCMessage *request,
                      const ProtobufCMessageDescriptor *reply_type, const usher_call_opts *opts,
                      ProtobufCMessage **reply, usher_status *status);

#ifdef __cplusplus
}
#endif

#endif
