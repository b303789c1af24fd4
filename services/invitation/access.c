#include "access.h"

#include "upstream.h"

us_err invitation_authorize_grant(us_call *call, invitation_peer *p, const char *actor, const char *account_id,
                           Usher__V1__Role role, const Usher__V1__Scope *scope, char **products,
                           size_t n_products, char **flags, size_t n_flags)
{
	Usher__V1__CheckGrantReply *answer;
	const us_principal *principal = us_call_principal(call);
	us_err rc = invitation_peer_check_grant(p, principal != NULL ? "" : actor,
	                             principal != NULL ? principal->id : "", account_id, role, scope,
	                             products, n_products, flags, n_flags, &answer);
	if (rc == US_EINVAL) /* tenancyd's word on the scope or products, passed on */
		return us_call_error(call, US_EINVAL, "%s", p->status.message);
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "checking the inviter's rights");
	if (!answer->allowed)
		return us_call_error(call, US_EDENIED, "you cannot invite with this role, scope or flags: %s",
		                     answer->reason);
	return US_OK;
}

us_err invitation_account_for_invite(us_call *call, invitation_peer *p, const char *account_id,
                              uint32_t expires_in_hours, Usher__V1__Account **out)
{
	us_err rc = invitation_peer_get_account(p, account_id, out);
	if (rc == US_ENOTFOUND || rc == US_EDENIED)
		return us_call_error(call, US_EDENIED, "you cannot invite into this account");
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "reading the account");
	if (expires_in_hours > (*out)->invitation_expiry_hours) {
		us_call_violation(call, "expires_in_hours",
		                  "must be at most %u hours, the account's invitation policy",
		                  (*out)->invitation_expiry_hours);
		return us_call_invalid(call);
	}
	return US_OK;
}

us_err invitation_authorize_on(us_call *call, invitation_peer *p, const char *actor, const invitation_row *row,
                        const char *action)
{
	const us_principal *principal = us_call_principal(call);
	if (principal != NULL)
		return us_principal_covers(principal, row->account_id)
		               ? US_OK
		               : us_call_error(call, US_ENOTFOUND, "invitation not found");
	bool allowed = false;
	us_err rc = invitation_peer_check(p, actor, row->account_id, "", action, &allowed);
	for (size_t i = 0; rc == US_OK && !allowed && i < row->n_subaccount_ids; i++)
		rc = invitation_peer_check(p, actor, row->account_id, row->subaccount_ids[i], action, &allowed);
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "checking permissions");
	if (!allowed)
		return us_call_error(call, US_ENOTFOUND, "invitation not found");
	return US_OK;
}
