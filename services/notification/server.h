#ifndef NOTIFICATION_SERVER_H
#define NOTIFICATION_SERVER_H

#include "common/rpc_server.h"
#include "context.h"

/* The daemon's RPC service, handing ctx to its handlers (for us_daemon_main()). */
us_rpc_service notification_server_service(notification_ctx *ctx);
/* usher.v1.EventService: events and webhooks (events.h). */
us_rpc_service notification_server_event_service(notification_ctx *ctx);

#endif
