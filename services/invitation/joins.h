/* Joining through a permanent link. A link proves nothing about an address, so nobody
 * joins with an address that is not proven (issue 11, holes 5 and 6): a signed-in user
 * with a verified address joins at once; anyone else gets a confirmation link emailed to
 * the address, and joins when they follow it (identityd then marks the address verified).
 * The link's domain limit and the account's allowed_email_domains apply to the address,
 * on joining and again on confirming.
 *
 * A join takes its use of the link first (a claim, with the joiner's address and a keyed
 * hash of the request), before a user is created, and holds it until the join is done or
 * can never be: max_uses is never exceeded and no user is created that the link cannot
 * let in. Every step is keyed, so a retried request (its answer lost in a crash) goes on
 * from where it was or is answered with its success, and the recovery loop finishes or
 * ends what nobody attends to. The states are in docs/invitations.md. */
#ifndef INVITATION_JOINS_H
#define INVITATION_JOINS_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/rpc_server.h"
#include "context.h"

us_rpc_handler invitation_accept_link;
us_rpc_handler invitation_preview_link_join;
us_rpc_handler invitation_confirm_link_join;

/* For the recovery loop, on its own connection: ends one join whose confirmation lapsed,
 * or takes over one whose steps nobody attends to (its session gone, let go after a
 * failure, or at it for ACCEPT_STALE_S) and takes its remaining steps. *found is false
 * when there was none. */
US_MUST_USE us_err invitation_join_recover_one(const invitation_ctx *ctx, PGconn *db,
                                               us_arena *a, bool *found);

#endif
