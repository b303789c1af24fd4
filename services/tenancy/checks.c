#include "checks.h"

#include <string.h>

#include "guard.h"
#include "input.h"
#include "permissions.h"
#include "store.h"

/* Records a violation unless action is one the matrix lists; returns its minimum. */
static int action_input(us_call *call, const char *action)
{
	if (action[0] == '\0') {
		us_call_violation(call, "action", "is required");
		return 0;
	}
	if (strlen(action) > TENANCY_ACTION_MAX) {
		us_call_violation(call, "action", "must be at most %d characters", TENANCY_ACTION_MAX);
		return 0;
	}
	int min_role = tenancy_permissions_min_role(us_call_service_ctx(call), action);
	if (min_role == 0)
		us_call_violation(call, "action", "is not an action of the permission matrix");
	return min_role;
}

us_err tenancy_check(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__CheckRequest *req = (const Usher__V1__CheckRequest *)request;
	const char *actor = tenancy_input_actor(call);
	tenancy_input_uuid(call, "user_id", req->user_id);
	tenancy_input_uuid(call, "account_id", req->account_id);
	tenancy_input_optional_uuid(call, "subaccount_id", req->subaccount_id);
	int min_role = action_input(call, req->action);
	if (req->product[0] != '\0')
		tenancy_input_product(call, "product", req->product);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__Account *account;
	Usher__V1__Membership *reader, *member;
	bool in_account;
	us_err rc = US_OK;
	/* The platform's services ask without an actor, in one round trip. */
	if (actor[0] != '\0')
		rc = tenancy_guard_read(call, actor, req->account_id, &account, &reader);
	else
		rc = tenancy_guard_trusted(call);
	if (rc == US_OK)
		rc = tenancy_store_check_facts(us_call_db(call), us_call_arena(call),
		                               req->account_id, req->user_id, req->subaccount_id,
		                               &account, &member, &in_account);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "account not found");
	if (rc != US_OK)
		return rc;

	Usher__V1__CheckReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__CheckReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__check_reply__init(out);
	tenancy_decision d = tenancy_access_check(us_call_arena(call), account, member, min_role,
	                                          req->subaccount_id, in_account, req->product);
	out->allowed = d.allowed;
	out->reason = (char *)d.reason;
	*reply = &out->base;
	return US_OK;
}
