#ifndef NOTIFICATION_SERVER_H
#define NOTIFICATION_SERVER_H

#include <stddef.h>

#include "common/rpc_server.h"

/* The daemon's RPC services, for us_daemon_main(). */
extern const us_rpc_service notification_services[];
extern const size_t notification_n_services;

#endif
