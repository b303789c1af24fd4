#ifndef INVITATION_SERVER_H
#define INVITATION_SERVER_H

#include <stddef.h>

#include "common/rpc_server.h"

/* The daemon's RPC services, for us_daemon_main(). */
extern const us_rpc_service invitation_services[];
extern const size_t invitation_n_services;

#endif
