#include "sessions.h"

#include "input.h"
#include "store.h"
#include "common/token.h"
#include "usher/v1/identity.pb-c.h"

us_err identity_resolve_session(us_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **reply)
{
	const Usher__V1__ResolveSessionRequest *req =
	        (const Usher__V1__ResolveSessionRequest *)request;
	us_token_hashes hashes;
	if (!identity_token_arg(call, "session_token", req->session_token, &hashes))
		return us_call_invalid(call);
	us_arena *a = us_call_arena(call);
	Usher__V1__ResolveSessionReply *out = US_ARENA_NEW(a, Usher__V1__ResolveSessionReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__resolve_session_reply__init(out);
	us_err rc = US_ENOTFOUND;
	for (size_t i = 0; i < hashes.n && rc == US_ENOTFOUND; i++)
		rc = identity_store_resolve_session(us_call_db(call), a, hashes.hash[i], &out->user,
		                                    &out->session_id, &out->expires_at);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_EUNAUTHENTICATED, "session is unknown, expired or ended");
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err identity_logout(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__LogoutRequest *req = (const Usher__V1__LogoutRequest *)request;
	us_token_hashes hashes;
	if (!identity_token_arg(call, "session_token", req->session_token, &hashes))
		return us_call_invalid(call);
	/* Whichever key the session's hash was made with: ending an unknown one is no error. */
	for (size_t i = 0; i < hashes.n; i++) {
		us_err rc = identity_store_end_session(us_call_db(call), hashes.hash[i]);
		if (rc != US_OK)
			return rc;
	}
	Usher__V1__LogoutReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__LogoutReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__logout_reply__init(out);
	*reply = &out->base;
	return US_OK;
}
