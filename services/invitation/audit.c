#include "audit.h"

#include "common/audit.h"
#include "peers.h"
#include "upstream.h"

/* tenancyd decides, as for every other account-wide permission. */
static us_err may_read(us_call *call, const char *account_id)
{
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	bool allowed = false;
	us_err rc = invitation_peer_check(&p, us_call_actor_user_id(call), account_id, "",
	                                  "audit.view", &allowed);
	if (rc != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "checking permissions");
	else if (!allowed)
		rc = us_call_error(call, US_EDENIED, "you cannot see this account's audit log");
	invitation_peer_clear(&p);
	return rc;
}

us_err invitation_list_audit(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	return us_audit_list(call, request, "invitation", may_read, reply);
}
