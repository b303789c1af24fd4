#include "backend.h"

#include <string.h>

#include <sodium.h>

#include "common/fault.h"
#include "common/idempotency.h"
#include "context.h"

/* The caller's Idempotency-Key when it is sane, so its retries are safe end to end;
 * otherwise a fresh one, which still makes NNG's own resends safe. The daemons scope it by
 * the signing caller and the actor: one person's key never replays another's reply. */
static const char *idempotency_key(gateway_request *req)
{
	const char *given = gateway_http_header(req, "Idempotency-Key");
	if (given != NULL && given[0] != '\0' && strlen(given) <= US_IDEMPOTENCY_KEY_MAX - 8)
		return us_arena_printf(req->arena, "http:%s", given);
	uint8_t raw[16];
	char hex[33];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	return us_arena_printf(req->arena, "gw:%s", hex);
}

us_rpc_call_opts gateway_backend_opts(const gateway_request *req, const char *actor)
{
	/* A service principal acts as itself: its key signs, and no person is named. */
	us_rpc_call_opts opts = {
		.timeout_ms = GATEWAY_CALL_TIMEOUT_MS,
		.actor_user_id = req->api_key != NULL ? NULL : actor,
		.signer = req->api_key,
		.request_id = req->request_id,
		.traceparent = req->traceparent,
	};
	return opts;
}

us_err gateway_backend_call(gateway_request *req, int backend, const char *method, const char *actor,
               const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_type,
               ProtobufCMessage **out, us_status *st)
{
	us_rpc_call_opts opts = gateway_backend_opts(req, actor);
	opts.idempotency_key = idempotency_key(req);
	us_err rc = us_rpc_call(req->ctx->backends[backend], method, &opts, in, out_type, req->arena, out, st);
	/* The backend has done it; the browser has not heard. */
	us_fault_point_method(method, "after_backend");
	return rc;
}
