/* What every daemon does when a person is erased (usher.v1.ErasureService/EraseUser, the
 * steps of invitationd's DeleteUser saga), beside deleting its own rows: checks the
 * request, pseudonymises the audit log and forgets the stored replies that name them. */
#ifndef US_ERASURE_H
#define US_ERASURE_H

#include <libpq-fe.h>

#include "common/err.h"
#include "common/rpc_server.h"
#include "usher/v1/erasure.pb-c.h"

/* In the schema of db: audit rows naming the person get the pseudonym (audit.h), and the
 * stored replies of idempotent requests holding their email or name are deleted (a retry
 * of such a request runs again). Adds the rows touched to *rows. */
US_MUST_USE us_err us_erasure_common(PGconn *db, const Usher__V1__EraseUserRequest *req,
                                     long *rows);

/* A daemon's own part: the person's rows in its schema deleted or pseudonymised; adds the
 * rows touched to *rows. */
typedef us_err us_erase_own_rows(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows);

/* The whole EraseUser step of a daemon: INVALID_ARGUMENT unless every field is sane, then
 * in one transaction erase_own and us_erasure_common; the reply in the call's arena. */
US_MUST_USE us_err us_erasure_step(us_call *call, const ProtobufCMessage *request,
                                   us_erase_own_rows *erase_own, ProtobufCMessage **reply);

#endif
