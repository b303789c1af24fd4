/* Which handler serves which method and path. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>

#include "http.h"

typedef void gateway_handler(gateway_request *req, gateway_response *res);

/* A route that streams its body (an upload) instead of having it buffered: each piece as
 * it arrives, then the handler. Returns false to stop reading (the handler then replies). */
typedef bool gateway_stream(gateway_request *req, const char *data, size_t len);

typedef struct gateway_route {
	const char *method;
	const char *path;  /* exact, a prefix when it ends with '/', or with {} segments */
	const char *name;  /* for logs: never the path itself, which can hold a token */
	gateway_handler *handler;
	gateway_stream *stream;
	bool json;         /* its body must be Content-Type: application/json (415 otherwise) */
} gateway_route;

/* The route for req's method and path, or NULL: then *status is 404 (no such path) or
 * 405 (a path served under another method). */
const gateway_route *gateway_routes_find(const gateway_request *req, unsigned *status);

#endif
