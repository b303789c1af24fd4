/* Calls from the gateway to the daemons behind it. */
#ifndef GATEWAY_BACKEND_H
#define GATEWAY_BACKEND_H

#include "http.h"
#include "common/rpc_client.h"

#define GATEWAY_CALL_TIMEOUT_MS 30000

/* Calls method on backend (GATEWAY_IDENTITY, ...) as actor (NULL: none), with the request's
 * Idempotency-Key header or a fresh key; the reply lands in the request's arena. */
US_MUST_USE us_err gateway_backend_call(gateway_request *req, int backend, const char *method, const char *actor,
                           const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_type,
                           ProtobufCMessage **out, us_status *st);

#endif
