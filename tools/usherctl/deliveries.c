/* usherctl deliveries: what became of the emails about an invitation, a reference or
 * to an address (usher.v1.NotificationService). */
#include <stddef.h>

#include "common/limits.h"
#include "ctl.h"
#include "usher/v1/notification.pb-c.h"

typedef struct show_params {
	char *invitation;
	char *reference;
	char *recipient;
	uint32_t limit;
} show_params;

static int run_show(ctl_ctx *ctx, void *params)
{
	const show_params *p = params;
	if ((p->invitation != NULL) + (p->reference != NULL) + (p->recipient != NULL) != 1)
		return ctl_usage_error("deliveries show needs exactly one of --invitation ID, "
		                       "--reference REF or --recipient EMAIL");
	Usher__V1__GetDeliveriesRequest req = USHER__V1__GET_DELIVERIES_REQUEST__INIT;
	/* invitationd files an invitation's emails under this reference (its outbox). */
	req.reference = p->invitation ? us_arena_printf(ctx->arena, "invitation:%s", p->invitation)
	                : p->reference ? p->reference
	                               : "";
	req.recipient = p->recipient ? p->recipient : "";
	req.limit = p->limit;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, &usher__v1__notification_service__descriptor, "GetDeliveries", 0,
	                  &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__GetDeliveriesReply *r = (const Usher__V1__GetDeliveriesReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
	} else {
		static const char *const headers[] = {"CREATED", "STATE", "ATTEMPTS", "RECIPIENT",
		                                      "TEMPLATE", "REFERENCE", "LAST REPLY"};
		static const char *const fields[] = {"created_at", "state",     "attempts",  "recipient",
		                                     "template",   "reference", "last_reply"};
		ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
		                   (ProtobufCMessage *const *)r->deliveries, r->n_deliveries);
	}
	return CTL_OK;
}

static const ctl_arg show_args[] = {
	{.name = "--invitation", .kind = CTL_UUID, .offset = offsetof(show_params, invitation),
	 .help = "the emails about this invitation"},
	{.name = "--reference", .kind = CTL_TEXT, .offset = offsetof(show_params, reference),
	 .metavar = "REF", .max = 200, .help = "the emails filed under REF (\"invitation:<id>\", \"user:<id>\")"},
	{.name = "--recipient", .kind = CTL_EMAIL, .offset = offsetof(show_params, recipient),
	 .help = "the emails to this address"},
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(show_params, limit), .min = 1,
	 .max = US_PAGE_SIZE_MAX, .help = "show at most N, newest first (default 100)"},
};

static const ctl_command commands[] = {
	{.name = "show", .summary = "show the deliveries of emails, newest first",
	 .detail = "Give exactly one of --invitation, --reference or --recipient.",
	 .args = show_args, .n_args = CTL_COUNT(show_args), .params_size = sizeof(show_params),
	 .flags = CTL_NO_ACTOR, .run = run_show},
};

const ctl_group ctl_deliveries_group = {"deliveries", "follow emails through usher-notificationd",
                                        commands, CTL_COUNT(commands)};
