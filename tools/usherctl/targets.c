#include "targets.h"

#include <stdlib.h>

const ctl_target ctl_targets[] = {
	{"usher-identityd", "IDENTITY_RPC_URL", "usher.v1.IdentityService"},
	{"usher-tenancyd", "TENANCY_RPC_URL", "usher.v1.TenancyService"},
	{"usher-invitationd", "INVITATION_RPC_URL", "usher.v1.InvitationService"},
	{"usher-notificationd", "NOTIFICATION_RPC_URL", "usher.v1.NotificationService"},
	{"usher-gatewayd", "GATEWAY_RPC_URL", NULL},
};
const size_t ctl_n_targets = sizeof(ctl_targets) / sizeof(ctl_targets[0]);

const char *ctl_target_url(const ctl_target *t)
{
	const char *url = getenv(t->env);
	return url != NULL && url[0] != '\0' ? url : NULL;
}
