/* The RPC client: an NNG REQ socket dialled to a daemon (or to several replicas, which
 * NNG balances), one context per call, so any number of threads may call at once.
 * NNG resends a request whose connection dropped; servers are idempotent, so that is
 * safe. */
#ifndef US_RPC_CLIENT_H
#define US_RPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "err.h"
#include "status.h"

typedef struct us_rpc_client us_rpc_client;

typedef struct us_rpc_client_opts {
	const char *url;
	const char *caller;        /* this service or tool, named in the server's logs */
	size_t max_message_bytes;  /* 0 = 16 MiB */
	/* false: connect now, failing with UNAVAILABLE when nobody listens or answers (tools);
	 * true: keep dialling in the background, calls wait for the server (daemons). */
	bool wait_for_server;
	/* Without wait_for_server: how long connecting may take (0: 2 s). A server that takes
	 * the connection but answers nothing (paused, wedged) costs this, not NNG's 10 s. */
	uint32_t connect_timeout_ms;
} us_rpc_client_opts;

/* Returns owned *out (us_rpc_client_close()), or an error with the reason in err. */
US_MUST_USE us_err us_rpc_client_open(const us_rpc_client_opts *opts, us_rpc_client **out,
                                      char *err, size_t err_size);

/* Takes NULL. Calls must have returned. */
void us_rpc_client_close(us_rpc_client *c);

typedef struct us_rpc_call_opts {
	uint32_t timeout_ms;           /* 0 = 5 s */
	const char *idempotency_key;   /* required by mutating methods */
	const char *request_id;        /* NULL: generated */
	const char *traceparent;
	const char *actor_user_id;
	const char *actor_account_id;
} us_rpc_call_opts;

/* Calls method ("usher.v1.IdentityService/GetUser") with request and waits for the reply.
 * Returns the reply's status code; on US_OK sets *reply to a reply_type message unpacked
 * into arena. status (may be NULL) gets the message and violations (us_status_clear() it).
 * A call that gets no reply in time is DEADLINE_EXCEEDED; a refused connection is
 * UNAVAILABLE. */
US_MUST_USE us_err us_rpc_call(us_rpc_client *c, const char *method, const us_rpc_call_opts *opts,
                               const ProtobufCMessage *request,
                               const ProtobufCMessageDescriptor *reply_type, us_arena *arena,
                               ProtobufCMessage **reply, us_status *status);

/* Sends raw bytes as a request and returns the raw reply bytes in arena: for tests of
 * the server's handling of malformed input. */
US_MUST_USE us_err us_rpc_call_raw(us_rpc_client *c, const void *data, size_t len,
                                   uint32_t timeout_ms, us_arena *arena, uint8_t **reply,
                                   size_t *reply_len);

#endif
