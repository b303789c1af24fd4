#include "roles.h"

#include <string.h>

static const char *const role_names[] = {
	[USHER__V1__ROLE__ROLE_MEMBER] = "member",
	[USHER__V1__ROLE__ROLE_MODERATOR] = "moderator",
	[USHER__V1__ROLE__ROLE_ADMIN] = "admin",
	[USHER__V1__ROLE__ROLE_OWNER] = "owner",
	[TENANCY_ROLE_PRIMARY_OWNER] = "primary_owner",
};
#define N_ROLE_NAMES (sizeof(role_names) / sizeof(role_names[0]))

const char *tenancy_role_name(int role)
{
	if (role < 0 || (size_t)role >= N_ROLE_NAMES || role_names[role] == NULL)
		return "unknown";
	return role_names[role];
}

int tenancy_role_parse(const char *name, bool allow_primary_owner)
{
	int last = allow_primary_owner ? TENANCY_ROLE_PRIMARY_OWNER : USHER__V1__ROLE__ROLE_OWNER;
	for (int role = USHER__V1__ROLE__ROLE_MEMBER; role <= last; role++) {
		if (strcmp(role_names[role], name) == 0)
			return role;
	}
	return 0;
}

const char *tenancy_status_name(int status)
{
	switch (status) {
	case USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE: return "active";
	case USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED: return "deactivated";
	default: return NULL;
	}
}

int tenancy_status_parse(const char *name)
{
	if (strcmp(name, "active") == 0)
		return USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE;
	if (strcmp(name, "deactivated") == 0)
		return USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED;
	return 0;
}
