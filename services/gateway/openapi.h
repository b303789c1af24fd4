/* The OpenAPI 3.1 document of the HTTP API, generated from what serves it: the /rpc/
 * allow-list (api.c) with each method's protobuf-c descriptors, whose schemas follow the
 * proto3 JSON mapping of common/pbjson.c, and the routes for people with the messages
 * they answer with. Served at GET /openapi.json; `usher-gatewayd --openapi` prints it
 * (CI lints that: tools/lint/run.sh). */
#ifndef GATEWAY_OPENAPI_H
#define GATEWAY_OPENAPI_H

#include <jansson.h>

#include "routes.h"

/* The document (a new reference), or NULL when out of memory. */
json_t *gateway_openapi_document(void);

/* GET /openapi.json */
gateway_handler gateway_openapi_serve;

#endif
