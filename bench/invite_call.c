#include "invite_call.h"

#include <stdio.h>

us_err bench_invite_one(us_rpc_client *rpc, const char *owner, const char *account,
                        const char *email, us_status *st)
{
	us_arena *a = us_arena_new();
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	scope.organization = true;
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	req.account_id = (char *)account;
	req.role = USHER__V1__ROLE__ROLE_MEMBER;
	req.scope = &scope;
	req.emails = (char **)&email;
	req.n_emails = 1;
	us_rpc_call_opts opts = {.timeout_ms = 10000, .idempotency_key = ut_key(a),
	                         .actor_user_id = owner};
	ProtobufCMessage *out;
	us_err rc = us_rpc_call(rpc, "usher.v1.InvitationService/CreateInvitations", &opts,
	                        &req.base, &usher__v1__create_invitations_reply__descriptor, a,
	                        &out, st);
	if (rc == US_OK && ((Usher__V1__CreateInvitationsReply *)out)->created != 1) {
		snprintf(st->message, sizeof(st->message), "no invitation created for an address");
		rc = US_EINTERNAL;
	}
	us_arena_free(a);
	return rc;
}
