/* POST /rpc/usher.v1.<Service>/<Method>: the public methods, JSON in and out through the
 * generic codec. Internal methods (GrantMembership and the like) are not reachable. */
#ifndef GATEWAY_API_H
#define GATEWAY_API_H

#include "routes.h"

gateway_handler gateway_api_call;

#endif
