/* The daemons usherctl talks to, and where they are (environment variables). */
#ifndef USHERCTL_TARGETS_H
#define USHERCTL_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_MAX_TARGETS 8

typedef struct ctl_target {
	const char *daemon;  /* "usher-identityd" */
	const char *env;     /* "IDENTITY_RPC_URL" */
	const char *service; /* "usher.v1.IdentityService", or NULL */
	const char *service2; /* a second service it serves, or NULL */
	bool has_database;   /* serves usher.v1.Admin/MigrationStatus */
} ctl_target;

extern const ctl_target ctl_targets[];
extern const size_t ctl_n_targets;

/* The target's address from the environment, or NULL when unset. */
const char *ctl_target_url(const ctl_target *t);

/* The daemon called name ("usher-identityd", or its short form "identity"), or NULL. */
const ctl_target *ctl_target_find(const char *name);

/* The daemon serving the service named service ("usher.v1.IdentityService"), or NULL. */
const ctl_target *ctl_target_serving(const char *service);

#endif
