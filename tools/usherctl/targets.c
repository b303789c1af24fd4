#include "targets.h"

#include <stdlib.h>
#include <string.h>

const ctl_target ctl_targets[] = {
	{"usher-identityd", "IDENTITY_RPC_URL", "usher.v1.IdentityService", "usher.v1.PrincipalService",
	 true},
	{"usher-tenancyd", "TENANCY_RPC_URL", "usher.v1.TenancyService", NULL, true},
	{"usher-invitationd", "INVITATION_RPC_URL", "usher.v1.InvitationService",
	 "usher.v1.ErasureService", true},
	{"usher-notificationd", "NOTIFICATION_RPC_URL", "usher.v1.NotificationService",
	 "usher.v1.EventService", true},
	{"usher-gatewayd", "GATEWAY_RPC_URL", NULL, NULL, false},
};
const size_t ctl_n_targets = sizeof(ctl_targets) / sizeof(ctl_targets[0]);

const char *ctl_target_url(const ctl_target *t)
{
	const char *url = getenv(t->env);
	return url != NULL && url[0] != '\0' ? url : NULL;
}

const ctl_target *ctl_target_find(const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < ctl_n_targets; i++) {
		/* "usher-" + short name + "d" */
		const char *full = ctl_targets[i].daemon;
		if (strcmp(full, name) == 0 ||
		    (strncmp(full + 6, name, len) == 0 && strcmp(full + 6 + len, "d") == 0))
			return &ctl_targets[i];
	}
	return NULL;
}

const ctl_target *ctl_target_serving(const char *service)
{
	for (size_t i = 0; i < ctl_n_targets; i++) {
		const ctl_target *t = &ctl_targets[i];
		if ((t->service != NULL && strcmp(t->service, service) == 0) ||
		    (t->service2 != NULL && strcmp(t->service2, service) == 0))
			return t;
	}
	return NULL;
}
