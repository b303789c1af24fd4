#include "audit.h"

#include "common/audit.h"
#include "guard.h"
#include "permissions.h"

static us_err may_read(us_call *call, const char *account_id)
{
	Usher__V1__Account *account;
	Usher__V1__Membership *member;
	int min_role;
	us_err rc = tenancy_guard_read(call, us_call_actor_user_id(call), account_id, &account,
	                               &member);
	if (rc == US_OK)
		rc = tenancy_guard_min_role(call, TENANCY_ACTION_AUDIT_VIEW, &min_role);
	if (rc != US_OK)
		return rc;
	return tenancy_guard_allowed(call, tenancy_access_check(us_call_arena(call), account, member,
	                                                        min_role, "", true, ""));
}

us_err tenancy_list_audit(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	return us_audit_list(call, request, "tenancy", may_read, reply);
}
