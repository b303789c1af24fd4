/* Which handler serves which method and path. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include "http.h"

typedef void gw_handler(gw_request *req, gw_response *res);

/* Runs the handler for req's method and path: 404 for no such path, 405 for a path
 * served under another method. */
void gw_route_dispatch(gw_request *req, gw_response *res);

/* The route a path falls under ("/i/{token}/accept"), for logs: never the path itself. */
const char *gw_route_name(const char *path);

#endif
