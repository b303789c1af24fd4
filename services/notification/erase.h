/* usher.v1.ErasureService/EraseUser: messages to or about the address and its suppression go (a step of invitationd's
 * DeleteUser saga; common/erasure.h), in one transaction. Internal. */
#ifndef NOTIFICATION_ERASE_H
#define NOTIFICATION_ERASE_H

#include "common/rpc_server.h"

us_rpc_handler notification_erase_user;

/* The service (DeleteUser is invitationd's: UNIMPLEMENTED here), handing ctx on. */
us_rpc_service notification_erase_service(void *ctx);

#endif
