/* What a caller sees when a daemon we depend on fails. */
#ifndef INVITATION_UPSTREAM_H
#define INVITATION_UPSTREAM_H

#include "peers.h"

/* Logs the peer's answer and sets the reply: UNAVAILABLE or DEADLINE_EXCEEDED pass
 * through ("try again"), anything else is our fault (INTERNAL). Returns the code set. */
us_err inv_upstream_error(us_call *call, const peer_ctx *p, us_err rc, const char *doing);

#endif
