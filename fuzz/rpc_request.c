/* The RPC server's request path, without a socket or a database: the input is a packed
 * RpcRequest envelope, unpacked, checked (field lengths, deadline), dispatched to the
 * method it names in any daemon's service and its payload unpacked as that method's
 * input type. Every method answers with an empty reply of its output type, so replies are
 * packed too. Properties: the reply is always a well-formed RpcReply with one of gRPC's
 * codes; OK only for a known method, with a payload of its output type; a handler only
 * ever sees a message of its method's input type that passes protobuf-c's checks. */
#include "fuzz.h"

#include "arena.h"
#include "log.h"
#include "rpc_server.h"
#include "usher/v1/health.pb-c.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/notification.pb-c.h"
#include "usher/v1/rpc.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define N_SERVICES 4
#define METHODS_MAX 64

static const ProtobufCServiceDescriptor *const descriptors[N_SERVICES] = {
	&usher__v1__identity_service__descriptor,
	&usher__v1__tenancy_service__descriptor,
	&usher__v1__invitation_service__descriptor,
	&usher__v1__notification_service__descriptor,
};
static us_rpc_method methods[N_SERVICES][METHODS_MAX];
static us_rpc_service services[N_SERVICES];
static us_rpc_server *server;

static us_err answer(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const ProtobufCMethodDescriptor *md = us_call_method(call);
	FUZZ_CHECK(md != NULL && request->descriptor == md->input);
	FUZZ_CHECK(protobuf_c_message_check(request));
	/* What handlers read from the envelope is there, and bounded. */
	FUZZ_CHECK(strlen(us_call_request_id(call)) <= 200);
	FUZZ_CHECK(strlen(us_call_actor_user_id(call)) <= 200);
	FUZZ_CHECK(strlen(us_call_actor_account_id(call)) <= 200);
	FUZZ_CHECK(us_call_idempotency_key(call) != NULL && us_call_caller(call) != NULL);
	ProtobufCMessage *out = us_arena_alloc(us_call_arena(call), md->output->sizeof_message);
	if (out == NULL)
		return US_EEXHAUSTED;
	protobuf_c_message_init(md->output, out);
	*reply = out;
	return US_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	us_log_init("fuzz", US_LOG_ERROR);
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
	};
	char err[256];
	if (us_rpc_server_start(&opts, services, N_SERVICES, &server, err, sizeof(err)) != US_OK) {
		fprintf(stderr, "could not start the server: %s\n", err);
		abort();
	}
	return 0;
}

/* The method the envelope names, when the server knows it. */
static const ProtobufCMethodDescriptor *method_of(const uint8_t *data, size_t size)
{
	Usher__V1__RpcRequest *req = usher__v1__rpc_request__unpack(NULL, size, data);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	us_arena *a = us_arena_new();
	FUZZ_CHECK(a != NULL);
	uint8_t *out;
	size_t out_len;
	FUZZ_CHECK(us_rpc_server_handle(server, data, size, a, &out, &out_len) == US_OK);
	Usher__V1__RpcReply *reply = usher__v1__rpc_reply__unpack(NULL, out_len, out);
	FUZZ_CHECK(reply != NULL && reply->status != NULL);
	int code = (int)reply->status->code;
	FUZZ_CHECK(code >= 0 && code <= 16);
	if (code == USHER__V1__CODE__OK) {
		const ProtobufCMethodDescriptor *md = method_of(data, size);
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
