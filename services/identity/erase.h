/* usher.v1.ErasureService/EraseUser: the user, their sessions and pending links go; the audit log names the pseudonym (a step of invitationd's
 * DeleteUser saga; common/erasure.h), in one transaction. Internal. */
#ifndef IDENTITY_ERASE_H
#define IDENTITY_ERASE_H

#include "common/rpc_server.h"

us_rpc_handler identity_erase_user;

/* The service (DeleteUser is invitationd's: UNIMPLEMENTED here), handing ctx on. */
us_rpc_service identity_erase_service(void *ctx);

#endif
