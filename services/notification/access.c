#include "access.h"

#include "common/log.h"
#include "common/validate.h"
#include "context.h"
#include "usher/v1/tenancy.pb-c.h"

/* Asks tenancyd whether the actor holds the permission on the whole account. Asked by
 * this service itself (no actor in the envelope): tenancyd answers a system caller's
 * question about someone without checking that someone's own access. */
static us_err person_may(us_call *call, const char *user_id, const char *account_id,
                         bool *allowed, us_status *status)
{
	const notification_ctx *ctx = us_call_service_ctx(call);
	us_rpc_call_opts opts;
	us_call_downstream(call, &opts);
	opts.actor_user_id = NULL;
	opts.actor_account_id = NULL;
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = (char *)user_id;
	req.account_id = (char *)account_id;
	req.subaccount_id = "";
	req.action = NOTIFICATION_WEBHOOKS_PERMISSION;
	ProtobufCMessage *reply;
	us_err rc = us_rpc_call(ctx->tenancy, "usher.v1.TenancyService/Check", &opts, &req.base,
	                        &usher__v1__check_reply__descriptor, us_call_arena(call), &reply,
	                        status);
	if (rc == US_ENOTFOUND) { /* no such account or membership */
		*allowed = false;
		return US_OK;
	}
	if (rc == US_OK)
		*allowed = ((Usher__V1__CheckReply *)reply)->allowed;
	return rc;
}

us_err notification_access_account(us_call *call, const char *account_id, const char **out)
{
	const char *actor = us_call_actor_user_id(call);
	bool person = us_call_principal(call) == NULL && actor[0] != '\0';
	if (account_id[0] == '\0') {
		if (person || !us_call_is_system(call))
			return us_call_error(call, US_EDENIED, "account_id is required: only operators "
			                                       "may act on every account");
		*out = NULL;
		return US_OK;
	}
	const char *why = us_uuid_check(account_id);
	if (why != NULL) {
		us_call_violation(call, "account_id", "%s", why);
		return us_call_invalid(call);
	}
	*out = account_id;
	if (us_call_principal(call) != NULL) /* its scope was checked against account_id */
		return US_OK;
	if (!person)
		return us_call_is_system(call)
		               ? US_OK
		               : us_call_error(call, US_EDENIED, "a person or a service principal "
		                                                 "must make this call");
	us_status status;
	us_status_init(&status);
	bool allowed = false;
	us_err rc = person_may(call, actor, account_id, &allowed, &status);
	if (rc != US_OK) {
		us_log_fields(US_LOG_WARN, "a dependency failed", "doing", "checking permissions",
		              "code", us_err_name(rc), "message", status.message, NULL);
		us_status_clear(&status);
		if (rc == US_EUNAVAILABLE || rc == US_EDEADLINE || rc == US_EEXHAUSTED)
			return us_call_error(call, rc, "a service is busy or unavailable (checking "
			                               "permissions); try again");
		return us_call_error(call, US_EINTERNAL, "internal error");
	}
	us_status_clear(&status);
	if (!allowed)
		return us_call_error(call, US_EDENIED, "you may not manage this account's webhooks "
		                                       "(%s)", NOTIFICATION_WEBHOOKS_PERMISSION);
	return US_OK;
}
