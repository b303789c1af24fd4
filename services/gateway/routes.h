/* Which handler serves which method and path. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>

#include "http.h"

typedef void gateway_handler(gateway_request *req, gateway_response *res);

/* A route that streams its body (an upload) instead of having it buffered. Called first
 * with data NULL as soon as the headers are in, before any of the body is read: false
 * then means it replied in res, and the body is never read. Then with each piece as it
 * arrives (res NULL): false when the rest is of no use, which is then dropped unread;
 * then the handler replies. */
typedef bool gateway_stream(gateway_request *req, gateway_response *res, const char *data,
                            size_t len);

typedef struct gateway_route {
	const char *method;
	const char *path;  /* exact, a prefix when it ends with '/', or with {} segments */
	const char *name;  /* for logs: never the path itself, which can hold a token */
	gateway_handler *handler;
	gateway_stream *stream; /* or NULL: the body is buffered, up to HTTP_MAX_BODY_BYTES */
	bool json;         /* its body must be Content-Type: application/json (415 otherwise) */
} gateway_route;

/* The route for req's method and path, or NULL: then *status is 404 (no such path) or
 * 405 (a path served under another method). */
const gateway_route *gateway_routes_find(const gateway_request *req, unsigned *status);

#endif
