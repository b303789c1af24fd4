/* The RPC client: an NNG REQ socket dialled to a daemon (or to several replicas, which
 * NNG balances), one context per call, so any number of threads may call at once.
 *
 * Every request is signed with the client's caller key (caller_auth.h), with the current
 * time and a fresh nonce; once a reply has named the server's key (every reply of a server
 * with one does), MAC'd instead, for each server key replies named (replicas may differ),
 * about 1 µs rather than Ed25519's 17 µs to sign and 48 µs to verify. A MAC'd request
 * refused for its MAC ("OTHER_SERVER_KEY": the server's key changed; "BAD_MAC") is sent
 * once more signed, which nothing ran before. A request whose connection closes before the reply comes (a
 * replica died) is sent again, signed anew, within the call's deadline, on another
 * connection (up to once per replica), with the same idempotency key
 * (servers are idempotent, so that is safe). NNG's own resends are turned off: they repeat
 * the bytes, which a server takes for a replay. A reply UNAUTHENTICATED "REPLAYED" (a
 * transport that resends anyway) is handled the same way. */
#ifndef US_RPC_CLIENT_H
#define US_RPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/arena.h"
#include "common/caller_key.h"
#include "common/err.h"
#include "common/status.h"
#include "usher/v1/rpc.pb-c.h"

typedef struct us_rpc_client us_rpc_client;


typedef struct us_rpc_client_opts {
	/* A daemon's URL, or its replicas' as "URL,URL,..." (us_transport_check_list()). */
	const char *url;
	const char *caller;        /* this service or tool, named in the server's logs */
	size_t max_message_bytes;  /* 0 = 16 MiB */
	/* false: connect now, failing with UNAVAILABLE when nobody listens or answers (tools;
	 * with replicas, when none of them does); true: keep dialling in the background, calls
	 * wait for the server (daemons). Either way every replica is dialled again whenever
	 * its connection drops, and calls go to those connected. */
	bool wait_for_server;
	/* The key requests are signed with (copied). NULL: the process's default key (a
	 * daemon's RPC_SIGNING_KEY), else USHER_CALLER_KEY or the file USHER_CALLER_KEY_FILE
	 * names (tools and tests), else none: requests go unsigned and are refused. */
	const us_caller_key *key;
	/* Without wait_for_server: how long connecting may take (0: 2 s). A server that takes
	 * the connection but answers nothing (paused, wedged) costs this, not NNG's 10 s. */
	uint32_t connect_timeout_ms;
} us_rpc_client_opts;

/* Sets the key every client of this process signs with unless told otherwise (copied;
 * NULL clears it). Call before opening clients. */
void us_rpc_client_set_default_key(const us_caller_key *key);

/* Reads USHER_CALLER_KEY or USHER_CALLER_KEY_FILE: 1 and *out when one is set and valid,
 * 0 when neither is set, -1 (with why in err) when malformed. */
int us_rpc_client_env_key(us_caller_key *out, char *err, size_t err_size);

/* True when the client signs its requests. */
bool us_rpc_client_signs(const us_rpc_client *c);

/* Returns owned *out (us_rpc_client_close()), or an error with the reason in err. */
US_MUST_USE us_err us_rpc_client_open(const us_rpc_client_opts *opts, us_rpc_client **out,
                                      char *err, size_t err_size);

/* Takes NULL. Calls must have returned. */
void us_rpc_client_close(us_rpc_client *c);

/* Ends the calls in flight at once (UNAVAILABLE) and fails every later one, from any
 * thread: a daemon's stop does it before joining its background threads, so one waiting
 * on a peer (up to a minute) ends now rather than at its deadline. Takes NULL; the client
 * is still us_rpc_client_close()d once its calls have returned. */
void us_rpc_client_abort(us_rpc_client *c);

/* True while a connection to a server is up: background work can skip a call that would
 * only wait for its deadline (and hold up a stop) while the peer is down. */
bool us_rpc_client_connected(const us_rpc_client *c);

/* How many connections are up (one per replica that answers). */
int us_rpc_client_connections(const us_rpc_client *c);

typedef struct us_rpc_call_opts {
	uint32_t timeout_ms;           /* 0 = 5 s */
	const char *idempotency_key;   /* required by mutating methods */
	const char *request_id;        /* NULL: generated */
	const char *traceparent;
	const char *actor_user_id;
	const char *actor_account_id;
	const us_caller_key *signer;   /* NULL: the client's key; else this one (the gateway
	                                * forwarding a service principal's API key) */
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

/* A call in flight (us_rpc_call_start()), in the arena it was started with. */
typedef struct us_rpc_pending us_rpc_pending;

/* Sends a call as us_rpc_call() does and returns without waiting for its reply, so one
 * thread can have several calls in flight at once (to different daemons) and do other work
 * meanwhile. request and arena must live until us_rpc_call_finish(), which every started
 * call must get (it frees what the call holds). Returns NULL only when arena is exhausted
 * (us_rpc_call_finish(NULL) then says so). */
us_rpc_pending *us_rpc_call_start(us_rpc_client *c, const char *method,
                                  const us_rpc_call_opts *opts, const ProtobufCMessage *request,
                                  us_arena *arena);

/* Waits for a started call's reply and returns what us_rpc_call() would have (the deadline
 * counts from the start). A retry (the connection closed before the reply, or the reply
 * was REPLAYED) is made by us_rpc_call() with what is left of the deadline. */
US_MUST_USE us_err us_rpc_call_finish(us_rpc_pending *p, const ProtobufCMessageDescriptor *reply_type,
                                      ProtobufCMessage **reply, us_status *status);

/* req signed with key: a packed SignedRequest in arena (*out, *len). The request's
 * issued_at_ms and nonce are used as they are: for tests of replays and clocks. */
US_MUST_USE us_err us_rpc_sign(const us_caller_key *key, const Usher__V1__RpcRequest *req,
                               us_arena *arena, uint8_t **out, size_t *len);

/* req MAC'd by key for the server holding server_public_key: a packed SignedRequest in
 * arena, for tests as us_rpc_sign(). US_EINVAL when either key is no valid point. */
US_MUST_USE us_err us_rpc_mac(const us_caller_key *key,
                              const uint8_t server_public_key[US_PUBLIC_KEY_BYTES],
                              const Usher__V1__RpcRequest *req, us_arena *arena, uint8_t **out,
                              size_t *len);

/* Sends raw bytes as a request and returns the raw reply bytes in arena: for tests of
 * the server's handling of malformed, unsigned, forged and replayed input. */
US_MUST_USE us_err us_rpc_call_raw(us_rpc_client *c, const void *data, size_t len,
                                   uint32_t timeout_ms, us_arena *arena, uint8_t **reply,
                                   size_t *reply_len);

#endif
