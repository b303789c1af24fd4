/* The RPC server's request path, without a socket or a database: a frame as a daemon
 * receives it goes through us_rpc_server_handle(): caller authentication (the
 * SignedRequest, its signature or MAC, issue time, nonce, the caller's key and rights), the
 * RpcRequest's checks (field lengths, deadline), dispatch to the method it names in any
 * daemon's service, and the payload unpacked as that method's input type. Every method
 * answers with an empty reply of its output type, so replies are packed too.
 *
 * The input's first byte says how the rest reaches the server:
 *   bits 0-1  0: the rest is the frame itself (the SignedRequest parser; no signature or
 *             MAC can be forged, so nothing gets past authentication);
 *             otherwise the rest is an RpcRequest, signed by the key of bits 2-3;
 *   bits 2-3  0: a peer with every right, 1: a peer with none, 2: a service principal
 *             (scoped to one account, Tenancy and Invitation methods), 3: a stranger;
 *   bit 4     the request's own nonce (else a fresh one);
 *   bit 5     the request's own issue time, read as an offset from now (else now);
 *   bit 6     MAC'd by that key instead of signed, for the server's key;
 *   bit 7     with bit 6: MAC'd for another server's key.
 * Properties: the reply is always a well-formed RpcReply with one of gRPC's codes, naming
 * the server's key; OK only for a known method, with a payload of its output type; a raw
 * frame, a stranger's request, one MAC'd for another server or issued outside the window
 * never reaches a handler; a fresh request from a known key, signed or MAC'd for the
 * server, is never UNAUTHENTICATED; a handler only ever sees a message of its
 * method's input type that passes protobuf-c's checks, an actor only from a caller with
 * that right, and a principal only within its account. */
#include "fuzz.h"

#include <unistd.h>

#include "common/arena.h"
#include "common/caller_auth.h"
#include "common/caller_key.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc_server.h"
#include "usher/v1/health.pb-c.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/notification.pb-c.h"
#include "usher/v1/rpc.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define N_SERVICES 4
#define METHODS_MAX 64
#define WINDOW_MS 5000
/* Around the window's edges the clock moves between signing and checking. */
#define WINDOW_SLACK_MS 1000
#define PRINCIPAL_ACCOUNT "0b4c6a3e-5d1f-4e8a-9c2b-7f6e5d4c3b2a"

/* The last two: the server's own, and another server's. */
enum { KEY_SYSTEM, KEY_PLAIN, KEY_PRINCIPAL, KEY_STRANGER, KEY_SERVER, KEY_OTHER_SERVER, N_KEYS };

static const ProtobufCServiceDescriptor *const descriptors[N_SERVICES] = {
	&usher__v1__identity_service__descriptor,
	&usher__v1__tenancy_service__descriptor,
	&usher__v1__invitation_service__descriptor,
	&usher__v1__notification_service__descriptor,
};
static us_rpc_method methods[N_SERVICES][METHODS_MAX];
static us_rpc_service services[N_SERVICES];
static us_rpc_server *server;
static us_auth *auth;
static us_caller_key keys[N_KEYS];
static int handled; /* handlers run for the current input */
static int signer;  /* the key of the current input */
static bool maced;  /* the current input is MAC'd, not signed */

static us_err answer(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	handled++;
	const ProtobufCMethodDescriptor *md = us_call_method(call);
	FUZZ_CHECK(md != NULL && request->descriptor == md->input);
	FUZZ_CHECK(protobuf_c_message_check(request));
	/* What handlers read from the envelope is there, and bounded. */
	FUZZ_CHECK(strlen(us_call_request_id(call)) <= 200);
	FUZZ_CHECK(strlen(us_call_actor_user_id(call)) <= 200);
	FUZZ_CHECK(strlen(us_call_actor_account_id(call)) <= 200);
	FUZZ_CHECK(us_call_idempotency_key(call) != NULL);
	/* Who calls is the key that signed (or MAC'd), with its rights. */
	const us_caller *caller = us_call_caller(call);
	FUZZ_CHECK(caller->by_mac == maced);
	bool names_actor = us_call_actor_user_id(call)[0] != '\0' ||
	                   us_call_actor_account_id(call)[0] != '\0';
	FUZZ_CHECK(signer != KEY_STRANGER);
	if (signer == KEY_PRINCIPAL) {
		const us_principal *p = us_call_principal(call);
		FUZZ_CHECK(caller->kind == US_CALLER_PRINCIPAL && p != NULL && !us_call_is_system(call));
		FUZZ_CHECK(!names_actor);
		const ProtobufCFieldDescriptor *f =
		        protobuf_c_message_descriptor_get_field_by_name(md->input, "account_id");
		FUZZ_CHECK(f != NULL && f->type == PROTOBUF_C_TYPE_STRING);
		const char *account = *(char *const *)((const char *)request + f->offset);
		FUZZ_CHECK(account != NULL && strcmp(account, PRINCIPAL_ACCOUNT) == 0);
	} else {
		FUZZ_CHECK(caller->kind == US_CALLER_PEER && us_call_principal(call) == NULL);
		FUZZ_CHECK(us_call_is_system(call) == (signer == KEY_SYSTEM));
		FUZZ_CHECK(signer == KEY_SYSTEM || !names_actor);
	}
	ProtobufCMessage *out = us_arena_alloc(us_call_arena(call), md->output->sizeof_message);
	if (out == NULL)
		return US_EEXHAUSTED;
	protobuf_c_message_init(md->output, out);
	*reply = out;
	return US_OK;
}

/* usher-identityd's part: the principal key is a service principal in one account. */
static us_err lookup_principal(void *ctx, PGconn *db, const uint8_t public_key[US_PUBLIC_KEY_BYTES],
                               us_arena *arena, us_principal **out)
{
	(void)ctx;
	(void)db;
	if (memcmp(public_key, keys[KEY_PRINCIPAL].public_key, US_PUBLIC_KEY_BYTES) != 0)
		return US_ENOTFOUND;
	static char *accounts[] = {PRINCIPAL_ACCOUNT};
	static char *patterns[] = {"usher.v1.TenancyService/*", "usher.v1.InvitationService/*"};
	us_principal p = {.id = "7d1e0c52-3a4b-4c5d-8e6f-9a0b1c2d3e4f", .name = "fuzz-service",
	                  .account_ids = accounts, .n_account_ids = 1, .methods = patterns,
	                  .n_methods = 2, .max_role = 1};
	*out = us_principal_copy(arena, &p);
	return *out != NULL ? US_OK : US_EEXHAUSTED;
}

/* The caller policy, written where us_auth_new() reads it and removed once read. */
static void make_auth(void)
{
	static const char *const seeds[N_KEYS] = {
		"1111111111111111111111111111111111111111111111111111111111111111",
		"2222222222222222222222222222222222222222222222222222222222222222",
		"3333333333333333333333333333333333333333333333333333333333333333",
		"4444444444444444444444444444444444444444444444444444444444444444",
		"5555555555555555555555555555555555555555555555555555555555555555",
		"6666666666666666666666666666666666666666666666666666666666666666",
	};
	for (int k = 0; k < N_KEYS; k++)
		FUZZ_CHECK(us_caller_key_parse(seeds[k], &keys[k]) == 0);
	char path[] = "/tmp/usher-fuzz-callers-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	FUZZ_CHECK(f != NULL);
	char hex[US_PUBLIC_KEY_HEX_LEN + 1];
	us_public_key_hex(keys[KEY_SYSTEM].public_key, hex);
	fprintf(f, "fuzz-system %s actor system principals\n", hex);
	us_public_key_hex(keys[KEY_PLAIN].public_key, hex);
	fprintf(f, "fuzz-plain %s\n", hex);
	fclose(f);
	us_auth_opts opts = {.callers_file = path, .window_ms = WINDOW_MS, .replay_max = 1 << 20,
	                     .lookup = lookup_principal, .principal_ttl_ms = 60000,
	                     .server_key = &keys[KEY_SERVER]};
	char err[512];
	us_err rc = us_auth_new(&opts, &auth, err, sizeof(err));
	unlink(path);
	if (rc != US_OK) {
		fprintf(stderr, "caller policy: %s\n", err);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	us_log_init("fuzz", US_LOG_ERROR);
	make_auth();
	for (int s = 0; s < N_SERVICES; s++) {
		const ProtobufCServiceDescriptor *d = descriptors[s];
		FUZZ_CHECK(d->n_methods <= METHODS_MAX);
		for (unsigned m = 0; m < d->n_methods; m++)
			methods[s][m] = (us_rpc_method){d->methods[m].name, answer, 0};
		services[s] = (us_rpc_service){d, methods[s], d->n_methods, NULL};
	}
	us_rpc_server_opts opts = {
		.workers = 1,
		.max_message_bytes = 16 * 1024 * 1024,
		.default_timeout_ms = 60000,
		.auth = auth,
	};
	char err[256];
	if (us_rpc_server_start(&opts, services, N_SERVICES, &server, err, sizeof(err)) != US_OK) {
		fprintf(stderr, "could not start the server: %s\n", err);
		abort();
	}
	return 0;
}

/* The method a packed RpcRequest names, when the server knows it. */
static const ProtobufCMethodDescriptor *method_of(const uint8_t *packed, size_t len)
{
	Usher__V1__RpcRequest *req = usher__v1__rpc_request__unpack(NULL, len, packed);
	FUZZ_CHECK(req != NULL);
	const ProtobufCMethodDescriptor *md = NULL;
	const char *slash = strchr(req->method, '/');
	const ProtobufCServiceDescriptor *all[N_SERVICES + 1] = {
		descriptors[0], descriptors[1], descriptors[2], descriptors[3],
		&usher__v1__health__descriptor,
	};
	for (int s = 0; s < N_SERVICES + 1 && slash != NULL && md == NULL; s++) {
		if (strlen(all[s]->name) == (size_t)(slash - req->method) &&
		    strncmp(all[s]->name, req->method, (size_t)(slash - req->method)) == 0)
			md = protobuf_c_service_descriptor_get_method_by_name(all[s], slash + 1);
	}
	usher__v1__rpc_request__free_unpacked(req, NULL);
	return md;
}

/* How the input's request is signed and stamped. */
typedef struct stamped {
	const uint8_t *packed; /* the RpcRequest as signed (in the arena, or the input) */
	size_t len;
	bool parsed;           /* it is an RpcRequest */
	bool fresh;            /* a new nonce, issued now */
	bool out_of_window;    /* issued well outside the window */
} stamped;

static void stamp(us_arena *a, const uint8_t *data, size_t size, uint8_t flags, stamped *out)
{
	static uint64_t counter;
	*out = (stamped){.packed = data, .len = size};
	Usher__V1__RpcRequest *req = usher__v1__rpc_request__unpack(NULL, size, data);
	if (req == NULL)
		return; /* signed as it is: the server must find it malformed */
	out->parsed = true;
	ProtobufCBinaryData own_nonce = req->nonce;
	uint8_t nonce[16] = {0};
	if (!(flags & 0x10)) {
		memcpy(nonce, &counter, sizeof(counter));
		counter++;
		req->nonce.data = nonce;
		req->nonce.len = sizeof(nonce);
	}
	int64_t now = us_wall_ms(), offset = req->issued_at_ms;
	if (flags & 0x20) {
		int64_t at;
		req->issued_at_ms = __builtin_add_overflow(now, offset, &at) ? offset : at;
		out->out_of_window = offset > WINDOW_MS + WINDOW_SLACK_MS ||
		                     offset < -(WINDOW_MS + WINDOW_SLACK_MS);
	} else {
		req->issued_at_ms = now;
	}
	out->fresh = !(flags & 0x30);
	out->len = usher__v1__rpc_request__get_packed_size(req);
	uint8_t *packed = us_arena_alloc(a, out->len ? out->len : 1);
	FUZZ_CHECK(packed != NULL);
	usher__v1__rpc_request__pack(req, packed);
	out->packed = packed;
	req->nonce = own_nonce; /* freed with the request */
	usher__v1__rpc_request__free_unpacked(req, NULL);
	/* protobuf-c reads a tag for field 0 written in two bytes (0x82 0x00) as an unknown
	 * field, and writes it back in one, which it refuses: such a request, stamped, is
	 * malformed. */
	Usher__V1__RpcRequest *again = usher__v1__rpc_request__unpack(NULL, out->len, out->packed);
	out->parsed = again != NULL;
	usher__v1__rpc_request__free_unpacked(again, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	us_arena *a = us_arena_new();
	FUZZ_CHECK(a != NULL);
	bool raw = (flags & 0x03) == 0;
	signer = (flags >> 2) & 0x03;
	maced = !raw && (flags & 0x40);
	bool other_server = maced && (flags & 0x80);
	stamped st = {.packed = data, .len = size};
	const uint8_t *frame = data;
	size_t frame_len = size;
	if (!raw) {
		stamp(a, data, size, flags, &st);
		/* Signed or MAC'd byte for byte (us_rpc_sign() would pack a message: an input
		 * that is no RpcRequest could not be sent). */
		uint8_t signature[US_SIGNATURE_BYTES];
		Usher__V1__SignedRequest sr = USHER__V1__SIGNED_REQUEST__INIT;
		sr.request.data = (uint8_t *)st.packed;
		sr.request.len = st.len;
		sr.public_key.data = keys[signer].public_key;
		sr.public_key.len = US_PUBLIC_KEY_BYTES;
		Usher__V1__RequestMac mac = USHER__V1__REQUEST_MAC__INIT, *macs[] = {&mac};
		uint8_t tag[US_MAC_BYTES], mac_key[US_MAC_KEY_BYTES], digest[US_REQUEST_DIGEST_BYTES];
		if (maced) {
			const us_caller_key *to = &keys[other_server ? KEY_OTHER_SERVER : KEY_SERVER];
			FUZZ_CHECK(us_mac_key_for_server(&keys[signer], to->public_key, mac_key) == 0);
			us_request_digest(st.packed, st.len, digest);
			us_request_mac(mac_key, digest, tag);
			mac.server_key.data = (uint8_t *)to->public_key;
			mac.server_key.len = US_PUBLIC_KEY_BYTES;
			mac.mac.data = tag;
			mac.mac.len = US_MAC_BYTES;
			sr.macs = macs;
			sr.n_macs = 1;
		} else {
			us_caller_key_sign(&keys[signer], st.packed, st.len, signature);
			sr.signature.data = signature;
			sr.signature.len = US_SIGNATURE_BYTES;
		}
		frame_len = usher__v1__signed_request__get_packed_size(&sr);
		uint8_t *signed_frame = us_arena_alloc(a, frame_len ? frame_len : 1);
		FUZZ_CHECK(signed_frame != NULL);
		usher__v1__signed_request__pack(&sr, signed_frame);
		frame = signed_frame;
	}

	handled = 0;
	uint8_t *out;
	size_t out_len;
	FUZZ_CHECK(us_rpc_server_handle(server, frame, frame_len, a, &out, &out_len) == US_OK);
	Usher__V1__RpcReply *reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	FUZZ_CHECK(reply != NULL && reply->status != NULL);
	int code = (int)reply->status->code;
	FUZZ_CHECK(code >= 0 && code <= 16);
	FUZZ_CHECK(handled <= 1);
	FUZZ_CHECK(reply->server_key.len == US_PUBLIC_KEY_BYTES &&
	           memcmp(reply->server_key.data, keys[KEY_SERVER].public_key,
	                  US_PUBLIC_KEY_BYTES) == 0);

	/* Authentication: what cannot pass never reaches a handler; what must pass does. */
	bool refused = code == USHER__V1__CODE__UNAUTHENTICATED;
	if (raw || signer == KEY_STRANGER || other_server || (!raw && !st.parsed)) {
		FUZZ_CHECK(code == USHER__V1__CODE__INVALID_ARGUMENT || refused);
		FUZZ_CHECK(handled == 0);
	}
	if (other_server)
		FUZZ_CHECK(refused && strcmp(reply->status->reason, "OTHER_SERVER_KEY") == 0);
	if (!raw && !st.parsed && !other_server)
		FUZZ_CHECK(code == USHER__V1__CODE__INVALID_ARGUMENT);
	if (!raw && st.parsed && signer != KEY_STRANGER && !other_server && st.out_of_window)
		FUZZ_CHECK(refused && strcmp(reply->status->reason, "CLOCK_SKEW") == 0);
	if (!raw && st.parsed && signer != KEY_STRANGER && !other_server && st.fresh)
		FUZZ_CHECK(!refused);

	if (code == USHER__V1__CODE__OK) {
		const ProtobufCMethodDescriptor *md = method_of(st.packed, st.len);
		FUZZ_CHECK(md != NULL);
		ProtobufCMessage *payload = protobuf_c_message_unpack(md->output, NULL,
		                                                      reply->payload.len,
		                                                      reply->payload.data);
		FUZZ_CHECK(payload != NULL);
		protobuf_c_message_free_unpacked(payload, NULL);
	} else {
		FUZZ_CHECK(reply->payload.len == 0);
		FUZZ_CHECK(reply->status->message[0] != '\0');
	}
	usher__v1__rpc_reply__free_unpacked(reply, NULL);
	us_arena_free(a);
	return 0;
}
