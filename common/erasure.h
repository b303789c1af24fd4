/* What every daemon does when a person is erased (usher.v1.ErasureService/EraseUser, the
 * steps of invitationd's DeleteUser saga), beside deleting its own rows: checks the
 * request, pseudonymises the audit log and forgets the stored replies that name them. */
#ifndef US_ERASURE_H
#define US_ERASURE_H

#include <libpq-fe.h>

#include "common/err.h"
#include "common/rpc_server.h"
#include "usher/v1/erasure.pb-c.h"

/* INVALID_ARGUMENT (through call) unless every field is sane. */
US_MUST_USE us_err us_erasure_check(us_call *call, const Usher__V1__EraseUserRequest *req);

/* In the schema of db: audit rows naming the person get the pseudonym (audit.h), and the
 * stored replies of idempotent requests holding their email or name are deleted (a retry
 * of such a request runs again). Adds the rows touched to *rows. */
US_MUST_USE us_err us_erasure_common(PGconn *db, const Usher__V1__EraseUserRequest *req,
                                     long *rows);

/* The reply of EraseUser, in the call's arena. */
US_MUST_USE us_err us_erasure_reply(us_call *call, long rows, ProtobufCMessage **reply);

#endif
