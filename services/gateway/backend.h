/* Calls from the gateway to the daemons behind it. */
#ifndef GATEWAY_BACKEND_H
#define GATEWAY_BACKEND_H

#include "http.h"
#include "common/rpc_client.h"

#define GATEWAY_CALL_TIMEOUT_MS 30000

/* The options of every call to a daemon: the timeout, the actor (or the API key that
 * signs) and the request's X-Request-Id and traceparent, so the daemons' log lines carry
 * them. No idempotency key (gateway_backend_call adds it). */
us_rpc_call_opts gateway_backend_opts(const gateway_request *req, const char *actor);

/* Calls method on backend (GATEWAY_IDENTITY, ...) as actor (NULL: none), with the request's
 * Idempotency-Key header or a fresh key; the reply lands in the request's arena. */
US_MUST_USE us_err gateway_backend_call(gateway_request *req, int backend, const char *method, const char *actor,
                           const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_type,
                           ProtobufCMessage **out, us_status *st);

#endif
