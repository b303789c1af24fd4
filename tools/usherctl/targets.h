/* The daemons usherctl talks to, and where they are (environment variables). */
#ifndef USHERCTL_TARGETS_H
#define USHERCTL_TARGETS_H

#include <stddef.h>

typedef struct ctl_target {
	const char *daemon;  /* "usher-identityd" */
	const char *env;     /* "IDENTITY_RPC_URL" */
	const char *service; /* "usher.v1.IdentityService", or NULL */
} ctl_target;

extern const ctl_target ctl_targets[];
extern const size_t ctl_n_targets;

/* The target's address from the environment, or NULL when unset. */
const char *ctl_target_url(const ctl_target *t);

#endif
