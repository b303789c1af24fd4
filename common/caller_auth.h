/* Who is calling, decided by the server for every request before anything else runs.
 *
 * A request arrives as a SignedRequest (protos/usher/v1/rpc.proto): a packed RpcRequest,
 * the caller's Ed25519 public key and its signature over those bytes, or instead MACs of
 * them, one per server key the caller knows, under keys agreed from the caller's and each
 * server's Ed25519 keys (caller_key.h). The server
 *   1. verifies the signature (UNAUTHENTICATED "UNSIGNED" / "BAD_SIGNATURE"), or the MAC
 *      for its own key ("OTHER_SERVER_KEY" when none is / "BAD_MAC");
 *   2. refuses an issue time more than the window from its own clock ("CLOCK_SKEW");
 *   3. finds the caller: an entry of its caller policy (callers.h), or a service principal
 *      that usher-identityd knows by that key, cached for a short while ("UNKNOWN_KEY");
 *   4. refuses a nonce it has already seen from that key within the window ("REPLAYED");
 *   5. decides whether the caller may call the method as asked (PERMISSION_DENIED):
 *      us_auth_permit() and, for principals, us_auth_permit_input().
 * Nothing of the request runs before these pass. */
#ifndef US_CALLER_AUTH_H
#define US_CALLER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>

#include "common/arena.h"
#include "common/caller_key.h"
#include "common/callers.h"
#include "common/err.h"
#include "usher/v1/rpc.pb-c.h"

/* A service principal as the daemons see it (everything in one arena). */
typedef struct us_principal {
	char *id;
	char *name;
	bool all_accounts;
	char **account_ids;
	size_t n_account_ids;
	char **methods;
	size_t n_methods;
	int max_role;              /* a usher.v1.Role; 0: may invite nobody */
	int64_t key_expires_at_ms; /* the key it was found by; 0: never */
} us_principal;

typedef enum us_caller_kind {
	US_CALLER_PEER = 1,  /* listed in the caller policy: a daemon, the gateway, an operator */
	US_CALLER_PRINCIPAL, /* a service principal */
} us_caller_kind;

/* The authenticated caller of one request (strings in the request's arena). */
typedef struct us_caller {
	us_caller_kind kind;
	const char *name;
	/* "peer:<name>" or "principal:<id>": stable across key rotation, so it scopes
	 * idempotency keys and names the caller in logs. */
	const char *id;
	unsigned rights;              /* US_RIGHT_*; principals have none */
	char **methods;               /* a peer's methods= limit (n 0: any) */
	size_t n_methods;
	const us_principal *principal; /* kind PRINCIPAL */
	char fingerprint[17];
	bool by_mac; /* the request was MAC'd, not signed */
} us_caller;

/* Finds the service principal holding public_key: sets *out (in arena), or returns
 * US_ENOTFOUND (unknown or expired key, revoked principal); any other error means the
 * answer is unknown for now. db is the calling worker's connection (NULL without one). */
typedef us_err us_principal_lookup(void *ctx, PGconn *db,
                                   const uint8_t public_key[US_PUBLIC_KEY_BYTES], us_arena *arena,
                                   us_principal **out);

typedef struct us_auth_opts {
	const char *callers_file;   /* the caller policy; reread by us_auth_reload() */
	int64_t window_ms;          /* how far an issue time may be from now */
	size_t replay_max;          /* request ids remembered at most (replay_cache.h) */
	us_principal_lookup *lookup; /* NULL: this daemon knows no principals */
	void *lookup_ctx;
	int64_t principal_ttl_ms;   /* how long a principal (or its absence) is cached */
	/* The server's own key (copied; the daemon's RPC_SIGNING_KEY): requests MAC'd for it
	 * are taken, and replies name its public half. NULL: signed requests only. */
	const us_caller_key *server_key;
} us_auth_opts;

typedef struct us_auth us_auth;

/* Loads the policy. Returns owned *out (us_auth_free()), or an error with the reason. */
US_MUST_USE us_err us_auth_new(const us_auth_opts *opts, us_auth **out, char *err,
                               size_t err_size);
void us_auth_free(us_auth *a);

/* The server's public key (borrowed from a), or NULL without one. */
const uint8_t *us_auth_server_key(const us_auth *a);

/* How many callers the policy lists. */
size_t us_auth_caller_count(us_auth *a);

/* Rereads the policy file; on failure keeps the current policy and says why. Forgets
 * cached principals too, so a revocation takes effect at once here, and the MAC keys
 * agreed with callers. */
US_MUST_USE us_err us_auth_reload(us_auth *a, char *err, size_t err_size);

typedef struct us_auth_result {
	/* US_OK; US_EINVAL (malformed); US_EUNAUTHENTICATED (see reason); US_EEXHAUSTED (the
	 * replay cache is full); US_EUNAVAILABLE (the principal lookup failed). */
	us_err code;
	const char *reason;  /* for UNAUTHENTICATED: "UNSIGNED", "REPLAYED", ... */
	const char *message; /* for the client */
	Usher__V1__RpcRequest *request; /* on US_OK, unpacked into the arena */
	us_caller caller;               /* on US_OK (and name/fingerprint when known) */
} us_auth_result;

/* Steps 1 to 4 for one received frame. */
void us_auth_request(us_auth *a, PGconn *db, const uint8_t *frame, size_t len, us_arena *arena,
                     us_auth_result *out);

/* The method's requirements (rpc_server.h's US_RPC_INTERNAL and US_RPC_PRINCIPAL_ADMIN). */
enum {
	US_AUTH_NEEDS_SYSTEM = 1 << 0,
	US_AUTH_NEEDS_PRINCIPALS = 1 << 1,
	US_AUTH_OPEN = 1 << 2, /* any authenticated caller (Health/Check) */
};

/* Step 5: may caller call method (full name) with these needs, naming an actor or not?
 * Returns US_OK or US_EDENIED with why. */
US_MUST_USE us_err us_auth_permit(const us_caller *caller, const char *method, unsigned needs,
                                  bool names_actor, char *why, size_t why_size);

/* For a principal: does the request stay within its scope? The input's top-level
 * "account_id" must be one of its accounts (unless it has all), and on a mutating method
 * a top-level usher.v1.Role "role" must not exceed its ceiling. US_OK or US_EDENIED. */
US_MUST_USE us_err us_auth_permit_input(const us_caller *caller, const ProtobufCMessage *input,
                                        bool mutating, char *why, size_t why_size);

/* Does the principal's scope cover account_id? */
bool us_principal_covers(const us_principal *p, const char *account_id);

/* A deep copy of p in arena (NULL when out of memory). */
us_principal *us_principal_copy(us_arena *arena, const us_principal *p);

#endif
