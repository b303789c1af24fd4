/* The dispatch table of usher.v1.NotificationService and its handlers: check the
 * request, then queue or read through store.c. */
#include "server.h"

#include "delivery.h"
#include "intake.h"
#include "store.h"
#include "usher/v1/notification.pb-c.h"

#define BATCH_MAX 50000
#define DELIVERIES_DEFAULT 100
#define DELIVERIES_MAX 500

static struct {
	const template_set *templates;
	const char *message_id_domain;
} server;

void notification_server_init(const template_set *templates, const char *message_id_domain)
{
	server.templates = templates;
	server.message_id_domain = message_id_domain;
}

/* SendEmail and SendEmails dedupe on each email's own key (in store_queue) rather than
 * under US_RPC_IDEMPOTENT, which would store a copy of a 50,000-id reply. */
static us_err queue(us_call *call, const store_new_email *emails, size_t n, char ***ids)
{
	us_err rc = store_queue(us_call_db(call), emails, n, server.message_id_domain,
	                        us_call_remaining_ms(call), us_call_arena(call), ids);
	if (rc == US_OK)
		delivery_wake();
	return rc;
}

static us_err send_email(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__SendEmailRequest *req = (const Usher__V1__SendEmailRequest *)request;
	if (req->email == NULL) {
		us_call_violation(call, "email", "is required");
		return us_call_invalid(call);
	}
	store_new_email e;
	us_err rc = intake_check(call, server.templates, "email", req->email, &e);
	if (rc != US_OK)
		return rc == US_EINVAL ? us_call_invalid(call) : rc;
	char **ids;
	if ((rc = queue(call, &e, 1, &ids)) != US_OK)
		return rc;
	Usher__V1__SendEmailReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__SendEmailReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__send_email_reply__init(out);
	out->message_id = ids[0];
	*reply = &out->base;
	return US_OK;
}

static us_err send_emails(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__SendEmailsRequest *req = (const Usher__V1__SendEmailsRequest *)request;
	us_arena *arena = us_call_arena(call);
	if (req->n_emails == 0 || req->n_emails > BATCH_MAX) {
		us_call_violation(call, "emails", "must hold 1 to %d emails", BATCH_MAX);
		return us_call_invalid(call);
	}
	store_new_email *emails = US_ARENA_ARRAY(arena, store_new_email, req->n_emails);
	if (emails == NULL)
		return US_EEXHAUSTED;
	bool invalid = false;
	for (size_t i = 0; i < req->n_emails; i++) {
		us_err rc = intake_check(call, server.templates, us_arena_printf(arena, "emails[%zu]", i),
		                         req->emails[i], &emails[i]);
		if (rc == US_EEXHAUSTED)
			return rc;
		invalid = invalid || rc != US_OK;
	}
	if (invalid)
		return us_call_invalid(call);
	char **ids;
	us_err rc = queue(call, emails, req->n_emails, &ids);
	if (rc != US_OK)
		return rc;
	Usher__V1__SendEmailsReply *out = US_ARENA_NEW(arena, Usher__V1__SendEmailsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__send_emails_reply__init(out);
	out->n_message_ids = req->n_emails;
	out->message_ids = ids;
	*reply = &out->base;
	return US_OK;
}

static us_err get_deliveries(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__GetDeliveriesRequest *req = (const Usher__V1__GetDeliveriesRequest *)request;
	bool ok = intake_text(call, "reference", req->reference, INTAKE_REFERENCE_MAX, false);
	const char *recipient = "";
	if (req->recipient[0] != '\0')
		ok = (recipient = intake_address(call, "recipient", req->recipient)) != NULL && ok;
	if (req->reference[0] == '\0' && req->recipient[0] == '\0') {
		us_call_violation(call, "reference", "give a reference, a recipient or both");
		ok = false;
	}
	if (req->limit > DELIVERIES_MAX) {
		us_call_violation(call, "limit", "must be from 1 to %d", DELIVERIES_MAX);
		ok = false;
	}
	if (!ok)
		return us_call_invalid(call);

	Usher__V1__GetDeliveriesReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                  Usher__V1__GetDeliveriesReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__get_deliveries_reply__init(out);
	us_err rc = store_deliveries(us_call_db(call), req->reference, recipient,
	                             req->limit ? req->limit : DELIVERIES_DEFAULT, us_call_arena(call),
	                             &out->deliveries, &out->n_deliveries);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

static us_err remove_suppression(us_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **reply)
{
	const Usher__V1__RemoveSuppressionRequest *req =
	        (const Usher__V1__RemoveSuppressionRequest *)request;
	const char *email = intake_address(call, "email", req->email);
	if (email == NULL)
		return us_call_invalid(call);
	Usher__V1__RemoveSuppressionReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                      Usher__V1__RemoveSuppressionReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__remove_suppression_reply__init(out);
	bool removed = false;
	us_err rc = store_unsuppress(us_call_db(call), email, &removed);
	if (rc != US_OK)
		return rc;
	out->removed = removed;
	*reply = &out->base;
	return US_OK;
}

static const us_rpc_method notification_methods[] = {
	{"SendEmail", send_email, 0},
	{"SendEmails", send_emails, 0},
	{"GetDeliveries", get_deliveries, 0},
	{"RemoveSuppression", remove_suppression, US_RPC_IDEMPOTENT},
};

const us_rpc_service notification_services[] = {
	{&usher__v1__notification_service__descriptor, notification_methods,
	 sizeof(notification_methods) / sizeof(notification_methods[0]), NULL},
};
const size_t notification_n_services = sizeof(notification_services) / sizeof(notification_services[0]);
