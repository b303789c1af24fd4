/* POST /rpc/usher.v1.<Service>/<Method>: the public methods, JSON in and out through the
 * generic codec. Internal methods (GrantMembership and the like) are not reachable. */
#ifndef GATEWAY_API_H
#define GATEWAY_API_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "routes.h"

gateway_handler gateway_api_call;

/* Who may call a public method over HTTP. */
typedef enum gateway_api_caller {
	GATEWAY_API_SIGNED_IN,    /* a session (or an API key, as itself) */
	GATEWAY_API_TOKEN_HOLDER, /* anyone holding the link's token the request carries */
	GATEWAY_API_SERVICE_KEY,  /* only a service principal's API key */
} gateway_api_caller;

/* The i-th method of the allow-list (from 0), for the OpenAPI document: its full name,
 * who may call it and its descriptor (NULL when no backend serves it: never served);
 * false past the end. */
bool gateway_api_method(size_t i, const char **name, gateway_api_caller *who,
                        const ProtobufCMethodDescriptor **md);

#endif
