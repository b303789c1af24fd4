/* The accept saga's steps after the invitation is claimed and the user is known: the
 * membership (tenancyd, idempotency key accept:<invitation id>) and the finish (accepted,
 * with the inviter's notice in the outbox). Shared by a live Accept and by the recovery
 * loop, which resumes accepts a crash interrupted. Every step is idempotent. */
#ifndef INVITATION_SAGA_H
#define INVITATION_SAGA_H

#include <libpq-fe.h>

#include "peers.h"
#include "store.h"

typedef enum invitation_saga_result {
	INVITATION_SAGA_ACCEPTED,       /* membership granted, invitation accepted */
	INVITATION_SAGA_ALREADY_MEMBER, /* the user was a member already; invitation used up */
	INVITATION_SAGA_REVOKED,        /* can never succeed (the inviter lost the right): revoked */
	INVITATION_SAGA_RETRY,          /* a dependency failed; the recovery loop will resume */
} invitation_saga_result;

/* "accept:<invitation id>" in the arena. */
char *invitation_saga_key(us_arena *a, const char *invitation_id);

/* Runs the membership and finish steps for a claimed invitation. On INVITATION_SAGA_ACCEPTED,
 * *membership is set, and *decided_at and *home_url (either may be NULL) get what
 * invitation_store_finish_accept() says; the peer's status explains
 * INVITATION_SAGA_REVOKED and INVITATION_SAGA_RETRY. On an idle db the finish runs while
 * tenancyd grants, committed only after the grant; inside a transaction, after it. */
US_MUST_USE us_err invitation_saga_finish(PGconn *db, invitation_peer *p, const invitation_row *row,
                                   const char *user_id, invitation_saga_result *result,
                                   Usher__V1__Membership **membership, char **decided_at,
                                   char **home_url);

#endif
