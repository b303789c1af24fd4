/* What a caller sees when a daemon we depend on fails. */
#ifndef INVITATION_UPSTREAM_H
#define INVITATION_UPSTREAM_H

#include "peers.h"

/* Logs the peer's answer and sets the reply: UNAVAILABLE or DEADLINE_EXCEEDED pass
 * through ("try again"), anything else is our fault (INTERNAL). Returns the code set. */
us_err invitation_upstream_error(us_call *call, const invitation_peer *p, us_err rc, const char *doing);

/* Passes a peer's INVALID_ARGUMENT on as this call's: each of its field errors under
 * prefix + field (identityd's "password" is AcceptRequest's "new_user.password"), or its
 * message when it named no field. Returns US_EINVAL. */
us_err invitation_upstream_invalid(us_call *call, const invitation_peer *p, const char *prefix);

#endif
