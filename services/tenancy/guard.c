#include "guard.h"

#include "common/log.h"
#include "permissions.h"
#include "usher/v1/tenancy.pb-c.h"

#define NOT_A_MEMBER "not a member of this account"

us_err tenancy_guard_actor(us_call *call, const char *actor)
{
	if (us_call_principal(call) != NULL)
		return us_call_error(call, US_EDENIED, "this method acts for a person; a service key "
		                                       "cannot call it");
	if (actor[0] == '\0')
		return us_call_error(call, US_EUNAUTHENTICATED, "this method acts for a user: the "
		                                                "request must name an actor");
	return US_OK;
}

us_err tenancy_guard_trusted(us_call *call)
{
	if (us_call_is_system(call) || us_call_principal(call) != NULL)
		return US_OK;
	return us_call_error(call, US_EUNAUTHENTICATED, "sign in first: the request names nobody");
}

us_err tenancy_guard_membership(us_call *call, const char *account_id, const char *user_id,
                                Usher__V1__Membership **out)
{
	us_err rc = tenancy_store_membership_get(us_call_db(call), us_call_arena(call), account_id,
	                                         user_id, out);
	if (rc == US_ENOTFOUND) {
		*out = NULL;
		return US_OK;
	}
	return rc;
}

static us_err load(us_call *call, const char *actor, const char *account_id,
                   tenancy_store_lock lock, Usher__V1__Account **account,
                   Usher__V1__Membership **member)
{
	us_err rc = actor[0] == '\0' ? tenancy_guard_trusted(call) : US_OK;
	if (rc != US_OK)
		return rc;
	rc = tenancy_store_account_get(us_call_db(call), us_call_arena(call), account_id, lock,
	                               account);
	if (rc == US_ENOTFOUND)
		return actor[0] != '\0' ? us_call_error(call, US_EDENIED, NOT_A_MEMBER)
		                        : us_call_error(call, US_ENOTFOUND, "account not found");
	if (rc != US_OK)
		return rc;
	*member = NULL;
	if (actor[0] == '\0')
		return US_OK;
	rc = tenancy_guard_membership(call, account_id, actor, member);
	if (rc == US_OK && *member == NULL)
		return us_call_error(call, US_EDENIED, NOT_A_MEMBER);
	return rc;
}

us_err tenancy_guard_read(us_call *call, const char *actor, const char *account_id,
                          Usher__V1__Account **account, Usher__V1__Membership **member)
{
	us_err rc = load(call, actor, account_id, TENANCY_STORE_NO_LOCK, account, member);
	if (rc == US_OK && *member != NULL &&
	    (*member)->status != USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE)
		return us_call_error(call, US_EDENIED, "membership is deactivated");
	return rc;
}

us_err tenancy_guard_change(us_call *call, const char *actor, const char *account_id,
                            tenancy_store_lock lock, Usher__V1__Account **account,
                            Usher__V1__Membership **member)
{
	return load(call, actor, account_id, lock, account, member);
}

us_err tenancy_guard_min_role(us_call *call, const char *action, int *out)
{
	int min_role = tenancy_permissions_min_role(us_call_service_ctx(call), action);
	if (min_role == 0) {
		us_error("permission matrix lacks \"%s\"", action);
		return us_call_error(call, US_EINTERNAL, "internal error");
	}
	*out = min_role;
	return US_OK;
}

us_err tenancy_guard_allowed(us_call *call, tenancy_decision d)
{
	if (d.allowed)
		return US_OK;
	return us_call_error(call, US_EDENIED, "%s", d.reason);
}
