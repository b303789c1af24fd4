#ifndef TENANCY_SERVER_H
#define TENANCY_SERVER_H

#include <stddef.h>

#include "common/rpc_server.h"

/* The daemon's RPC services, for us_daemon_main(). */
extern const us_rpc_service tenancy_services[];
extern const size_t tenancy_n_services;

#endif
