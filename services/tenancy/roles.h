/* Roles and membership states, and their names in the database and in messages. */
#ifndef TENANCY_ROLES_H
#define TENANCY_ROLES_H

#include <stdbool.h>

#include "usher/v1/tenancy.pb-c.h"

/* Roles are numbered as usher.v1.Role, lowest first, so they compare with < and >.
 * The permission matrix has one more minimum above owner: only the account's primary
 * owner meets it, whatever their role. */
#define TENANCY_ROLE_PRIMARY_OWNER (USHER__V1__ROLE__ROLE_OWNER + 1)

/* "member" ... "owner", "primary_owner"; "unknown" for anything else. */
const char *tenancy_role_name(int role);

/* The role named name (a minimum of the matrix when primary_owner is allowed), or 0. */
int tenancy_role_parse(const char *name, bool allow_primary_owner);

/* "active" or "deactivated"; NULL for any other value. */
const char *tenancy_status_name(int status);

/* The MembershipStatus named name, or 0. */
int tenancy_status_parse(const char *name);

#endif
