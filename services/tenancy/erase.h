/* usher.v1.ErasureService/EraseUser: the user's memberships go; the audit log and accounts they were primary owner of name the pseudonym (a step of invitationd's
 * DeleteUser saga; common/erasure.h), in one transaction. Internal. */
#ifndef TENANCY_ERASE_H
#define TENANCY_ERASE_H

#include "common/rpc_server.h"

us_rpc_handler tenancy_erase_user;

/* The service (DeleteUser is invitationd's: UNIMPLEMENTED here), handing ctx on. */
us_rpc_service tenancy_erase_service(void *ctx);

#endif
