#ifndef IDENTITY_SERVER_H
#define IDENTITY_SERVER_H

#include <stddef.h>

#include "common/rpc_server.h"

/* The daemon's RPC services, for us_daemon_main(). */
extern const us_rpc_service identity_services[];
extern const size_t identity_n_services;

#endif
