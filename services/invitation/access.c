#include "access.h"

#include "upstream.h"

static void grant_request(us_call *call, const char *actor, const char *account_id,
                          Usher__V1__Role role, const Usher__V1__Scope *scope, char **products,
                          size_t n_products, char **flags, size_t n_flags,
                          Usher__V1__CheckGrantRequest *req)
{
	const us_principal *principal = us_call_principal(call);
	usher__v1__check_grant_request__init(req);
	req->actor_user_id = (char *)(principal != NULL ? "" : actor);
	req->principal_id = (char *)(principal != NULL ? principal->id : "");
	req->account_id = (char *)account_id;
	req->role = role;
	req->scope = (Usher__V1__Scope *)scope;
	req->products = products;
	req->n_products = n_products;
	req->flags = flags;
	req->n_flags = n_flags;
}

/* tenancyd's answer to a CheckGrant (or CheckInvite) as this call's error, if any. */
static us_err grant_answer(us_call *call, invitation_peer *p, us_err rc,
                           const Usher__V1__CheckGrantReply *answer)
{
	if (rc == US_EINVAL) /* tenancyd's word on the scope or products, passed on */
		return us_call_error(call, US_EINVAL, "%s", p->status.message);
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "checking the inviter's rights");
	if (!answer->allowed)
		return us_call_error(call, US_EDENIED, "you cannot invite with this role, scope or flags: %s",
		                     answer->reason);
	return US_OK;
}

us_err invitation_authorize_grant(us_call *call, invitation_peer *p, const char *actor, const char *account_id,
                           Usher__V1__Role role, const Usher__V1__Scope *scope, char **products,
                           size_t n_products, char **flags, size_t n_flags)
{
	Usher__V1__CheckGrantRequest req;
	grant_request(call, actor, account_id, role, scope, products, n_products, flags, n_flags,
	              &req);
	Usher__V1__CheckGrantReply *answer = NULL;
	us_err rc = invitation_peer_check_grant(p, req.actor_user_id, req.principal_id, account_id,
	                                        role, scope, products, n_products, flags, n_flags,
	                                        &answer);
	return grant_answer(call, p, rc, answer);
}

us_rpc_pending *invitation_authorize_invite_start(us_call *call, invitation_peer *p,
                                                  const char *actor,
                                                  const Usher__V1__CreateInvitationsRequest *req)
{
	Usher__V1__CheckGrantRequest *grant = US_ARENA_NEW(p->arena, Usher__V1__CheckGrantRequest);
	if (grant == NULL)
		return NULL;
	grant_request(call, actor, req->account_id, req->role, req->scope, req->products,
	              req->n_products, req->flags, req->n_flags, grant);
	return invitation_peer_check_invite_start(p, grant);
}

us_err invitation_authorize_invite_finish(us_call *call, invitation_peer *p, us_rpc_pending *pending,
                                          Usher__V1__CheckInviteReply **out)
{
	*out = NULL;
	us_err rc = invitation_peer_check_invite_finish(p, pending, out);
	return grant_answer(call, p, rc, rc == US_OK ? (*out)->grant : NULL);
}

us_err invitation_account_expiry_fits(us_call *call, const Usher__V1__Account *account,
                                      uint32_t expires_in_hours)
{
	if (expires_in_hours > account->invitation_expiry_hours) {
		us_call_violation(call, "expires_in_hours",
		                  "must be at most %u hours, the account's invitation policy",
		                  account->invitation_expiry_hours);
		return us_call_invalid(call);
	}
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
	return invitation_account_expiry_fits(call, *out, expires_in_hours);
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
