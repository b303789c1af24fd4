#include "deliveries.h"

#include "common/limits.h"
#include "intake.h"
#include "store.h"
#include "usher/v1/notification.pb-c.h"

us_err notification_deliveries_get(us_call *call, const ProtobufCMessage *request,
                                   ProtobufCMessage **reply)
{
	const Usher__V1__GetDeliveriesRequest *req = (const Usher__V1__GetDeliveriesRequest *)request;
	bool ok = notification_intake_text(call, "reference", req->reference, INTAKE_REFERENCE_MAX,
	                                   false);
	const char *recipient = "";
	if (req->recipient[0] != '\0')
		ok = (recipient = notification_intake_address(call, "recipient", req->recipient)) !=
		             NULL &&
		     ok;
	if (req->reference[0] == '\0' && req->recipient[0] == '\0') {
		us_call_violation(call, "reference", "give a reference, a recipient or both");
		ok = false;
	}
	if (req->limit > US_PAGE_SIZE_MAX) {
		us_call_violation(call, "limit", "must be from 1 to %d", US_PAGE_SIZE_MAX);
		ok = false;
	}
	if (!ok)
		return us_call_invalid(call);

	Usher__V1__GetDeliveriesReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                  Usher__V1__GetDeliveriesReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__get_deliveries_reply__init(out);
	us_err rc = notification_store_deliveries(us_call_db(call), req->reference, recipient,
	                                          req->limit ? req->limit : US_PAGE_SIZE_DEFAULT,
	                                          us_call_arena(call), &out->deliveries,
	                                          &out->n_deliveries);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err notification_deliveries_unsuppress(us_call *call, const ProtobufCMessage *request,
                                          ProtobufCMessage **reply)
{
	const Usher__V1__RemoveSuppressionRequest *req =
	        (const Usher__V1__RemoveSuppressionRequest *)request;
	const char *email = notification_intake_address(call, "email", req->email);
	if (email == NULL)
		return us_call_invalid(call);
	Usher__V1__RemoveSuppressionReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                      Usher__V1__RemoveSuppressionReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__remove_suppression_reply__init(out);
	bool removed = false;
	us_err rc = notification_store_unsuppress(us_call_db(call), email, &removed);
	if (rc != US_OK)
		return rc;
	out->removed = removed;
	*reply = &out->base;
	return US_OK;
}
