/* DeleteUser: erasing a person across every daemon, as a saga invitationd coordinates
 * (it already talks to the three others). The saga row (store.h, invitation_erasure)
 * keeps the email and name the later steps need; the steps are each daemon's EraseUser
 * (identityd, tenancyd, notificationd) and invitationd's own part, which commits together
 * with the saga's end. Every step is idempotent; a saga a crash interrupted is resumed by
 * the recovery loop (recovery.h), like an accept. */
#ifndef INVITATION_ERASURE_H
#define INVITATION_ERASURE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "common/rpc_server.h"
#include "context.h"

/* usher.v1.ErasureService/DeleteUser (internal): NOT_FOUND for a user identityd does not
 * know and no saga names; otherwise runs the saga and answers its state. */
us_rpc_handler invitation_delete_user;

/* usher.v1.ErasureService/EraseUser for invitationd's own part, for completeness (the saga
 * runs it directly). */
us_rpc_handler invitation_erase_user;

/* Resumes one saga nobody attends to; *found says whether there was one. */
US_MUST_USE us_err invitation_erasure_recover_one(const invitation_ctx *ctx, PGconn *db,
                                                  us_arena *a, bool *found);

#endif
