/* The steps of joining through a permanent link after its use is taken (the claim): the
 * user, created for a new joiner, and the membership, each keyed by the link and the
 * joiner, so a retry or the recovery loop repeating them changes nothing. Shared by
 * AcceptLink and the recovery loop. */
#ifndef INVITATION_JOIN_H
#define INVITATION_JOIN_H

#include "peers.h"
#include "store.h"
#include "usher/v1/invitation.pb-c.h"

/* Creates the new joiner's user with email (normalised; unverified: a shared link proves
 * nothing about the address). Returns the peer's code: ALREADY_EXISTS when the address
 * has a user, INVALID_ARGUMENT when identityd refuses the profile. */
US_MUST_USE us_err inv_join_create_user(peer_ctx *p, const link_row *link,
                                        const Usher__V1__LinkNewUser *profile, const char *email,
                                        Usher__V1__User **out);

/* Grants member on the link's scope, with the account's products, as the link's creator
 * (whose right to grant it tenancyd checks again), keyed by this use of the link: a member
 * who left and comes back is granted anew. Returns the peer's code: ALREADY_EXISTS when a
 * member; PERMISSION_DENIED, FAILED_PRECONDITION or INVALID_ARGUMENT when it can never be
 * granted. */
US_MUST_USE us_err inv_join_grant(peer_ctx *p, const link_row *link, const char *user_id,
                                  unsigned use, Usher__V1__Membership **out);

/* True when rc from the steps above means the join can never happen (the use is to be
 * given back), rather than that a service failed (the claim waits for a retry). */
bool inv_join_refused(us_err rc);

#endif
