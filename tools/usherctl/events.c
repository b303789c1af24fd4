/* usherctl events and usherctl webhooks: the event log and webhook endpoints
 * (usher.v1.EventService on usher-notificationd; docs/events.md). Without --account an
 * operator sees every account and manages global endpoints. */
#include <stddef.h>
#include <stdio.h>

#include "ctl.h"
#include "usher/v1/events.pb-c.h"

#define EVENTS (&usher__v1__event_service__descriptor)

/* --- events --- */

typedef struct list_params {
	char *account;
	char *after;
	char *type;
	uint32_t limit;
} list_params;

static int run_list(ctl_ctx *ctx, void *params)
{
	const list_params *p = params;
	Usher__V1__ListEventsRequest req = USHER__V1__LIST_EVENTS_REQUEST__INIT;
	char *types[] = {p->type};
	req.account_id = p->account ? p->account : "";
	req.after = p->after ? p->after : "";
	req.limit = p->limit;
	req.types = types;
	req.n_types = p->type != NULL;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, EVENTS, "ListEvents", 0, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListEventsReply *r = (const Usher__V1__ListEventsReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	static const char *const headers[] = {"SEQUENCE", "OCCURRED", "TYPE", "ACCOUNT", "ACTOR",
	                                      "OBJECT"};
	static const char *const fields[] = {"sequence", "occurred_at", "type", "account_id",
	                                     "actor", "object_id"};
	ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
	                   (ProtobufCMessage *const *)r->events, r->n_events);
	return CTL_OK;
}

static const ctl_arg list_args[] = {
	{.name = "--account", .kind = CTL_UUID, .offset = offsetof(list_params, account),
	 .help = "only this account's events (default: every account's)"},
	{.name = "--after", .kind = CTL_TEXT, .offset = offsetof(list_params, after), .max = 20,
	 .metavar = "SEQUENCE", .help = "only events after this sequence (the cursor)"},
	{.name = "--type", .kind = CTL_TEXT, .offset = offsetof(list_params, type), .max = 64,
	 .help = "only events of this type (\"invitation.accepted\")"},
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(list_params, limit), .min = 1,
	 .max = 500, .help = "show at most N, oldest first (default 100)"},
};

static const ctl_command event_commands[] = {
	{.name = "list", .summary = "list events in order, from a cursor",
	 .args = list_args, .n_args = CTL_COUNT(list_args), .params_size = sizeof(list_params),
	 .flags = CTL_NO_ACTOR, .run = run_list},
};

const ctl_group ctl_events_group = {"events", "the event log of invitations, links and memberships",
                                    event_commands, CTL_COUNT(event_commands)};

/* --- webhooks --- */

typedef struct create_params {
	char *account;
	char *url;
	char *description;
	char *type;
} create_params;

static int run_create(ctl_ctx *ctx, void *params)
{
	const create_params *p = params;
	Usher__V1__CreateWebhookEndpointRequest req = USHER__V1__CREATE_WEBHOOK_ENDPOINT_REQUEST__INIT;
	char *types[] = {p->type};
	req.account_id = p->account ? p->account : "";
	req.url = p->url;
	req.description = p->description ? p->description : "";
	req.types = types;
	req.n_types = p->type != NULL;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, EVENTS, "CreateWebhookEndpoint", CTL_KEYED, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__CreateWebhookEndpointReply *r =
	        (const Usher__V1__CreateWebhookEndpointReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	ctl_print_record(ctx, &r->endpoint->base);
	printf("secret  %s\n(shown only now: keep it where the receiver can verify signatures)\n",
	       r->secret);
	return CTL_OK;
}

static const ctl_arg create_args[] = {
	{.name = "--url", .kind = CTL_TEXT, .offset = offsetof(create_params, url), .max = 2048,
	 .flags = CTL_REQUIRED, .help = "where events are posted (http or https)"},
	{.name = "--account", .kind = CTL_UUID, .offset = offsetof(create_params, account),
	 .help = "this account's events (default: a global endpoint, every account's)"},
	{.name = "--description", .kind = CTL_TEXT, .offset = offsetof(create_params, description),
	 .max = 200, .help = "what it is for"},
	{.name = "--type", .kind = CTL_TEXT, .offset = offsetof(create_params, type), .max = 64,
	 .help = "only events of this type (default: every type)"},
};

typedef struct scope_params {
	char *account;
} scope_params;

static int run_endpoints(ctl_ctx *ctx, void *params)
{
	const scope_params *p = params;
	Usher__V1__ListWebhookEndpointsRequest req = USHER__V1__LIST_WEBHOOK_ENDPOINTS_REQUEST__INIT;
	req.account_id = p->account ? p->account : "";
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, EVENTS, "ListWebhookEndpoints", 0, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListWebhookEndpointsReply *r =
	        (const Usher__V1__ListWebhookEndpointsReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	static const char *const headers[] = {"ID", "ACCOUNT", "URL", "ENABLED", "TYPES",
	                                      "FAILING SINCE"};
	static const char *const fields[] = {"id", "account_id", "url", "enabled", "types",
	                                     "failing_since"};
	ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
	                   (ProtobufCMessage *const *)r->endpoints, r->n_endpoints);
	return CTL_OK;
}

static const ctl_arg scope_args[] = {
	{.name = "--account", .kind = CTL_UUID, .offset = offsetof(scope_params, account),
	 .help = "this account's endpoints (default: every endpoint)"},
};

typedef struct endpoint_params {
	char *id;
	char *account;
	uint32_t overlap;
	uint32_t limit;
} endpoint_params;

#define ENDPOINT_ARGS                                                                           \
	{.name = "ENDPOINT", .kind = CTL_UUID, .offset = offsetof(endpoint_params, id),             \
	 .help = "the endpoint's id"},                                                             \
	{.name = "--account", .kind = CTL_UUID, .offset = offsetof(endpoint_params, account),      \
	 .help = "the account it belongs to (operators may leave it out)"}

static int run_delete(ctl_ctx *ctx, void *params)
{
	const endpoint_params *p = params;
	Usher__V1__DeleteWebhookEndpointRequest req = USHER__V1__DELETE_WEBHOOK_ENDPOINT_REQUEST__INIT;
	req.account_id = p->account ? p->account : "";
	req.id = p->id;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, EVENTS, "DeleteWebhookEndpoint", CTL_KEYED, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	if (ctx->opts.json)
		ctl_print_message_json(reply);
	else
		printf("deleted %s\n", p->id);
	return CTL_OK;
}

static int run_set_enabled(ctl_ctx *ctx, void *params)
{
	const endpoint_params *p = params;
	Usher__V1__SetWebhookEndpointEnabledRequest req =
	        USHER__V1__SET_WEBHOOK_ENDPOINT_ENABLED_REQUEST__INIT;
	req.account_id = p->account ? p->account : "";
	req.id = p->id;
	req.enabled = ctx->cmd->method[0] == 'e'; /* "enable" or "disable" */
	return ctl_call_show(ctx, EVENTS, "SetWebhookEndpointEnabled", CTL_KEYED, &req.base,
	                     "endpoint");
}

static int run_rotate(ctl_ctx *ctx, void *params)
{
	const endpoint_params *p = params;
	Usher__V1__RotateWebhookSecretRequest req = USHER__V1__ROTATE_WEBHOOK_SECRET_REQUEST__INIT;
	req.account_id = p->account ? p->account : "";
	req.id = p->id;
	/* --overlap-seconds 0 is "not given": an immediate end is asked for with 1. */
	req.overlap_seconds = p->overlap;
	req.overlap_set = p->overlap != 0;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, EVENTS, "RotateWebhookSecret", CTL_KEYED, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__RotateWebhookSecretReply *r = (const Usher__V1__RotateWebhookSecretReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	ctl_print_record(ctx, &r->endpoint->base);
	printf("secret  %s\n(the previous secret keeps signing until previous_secret_expires_at)\n",
	       r->secret);
	return CTL_OK;
}

static int run_deliveries(ctl_ctx *ctx, void *params)
{
	const endpoint_params *p = params;
	Usher__V1__ListWebhookDeliveriesRequest req = USHER__V1__LIST_WEBHOOK_DELIVERIES_REQUEST__INIT;
	req.account_id = p->account ? p->account : "";
	req.endpoint_id = p->id;
	req.limit = p->limit;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, EVENTS, "ListWebhookDeliveries", 0, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListWebhookDeliveriesReply *r =
	        (const Usher__V1__ListWebhookDeliveriesReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	static const char *const headers[] = {"DELIVERY", "CREATED", "EVENT TYPE", "STATE",
	                                      "ATTEMPTS", "NEXT ATTEMPT"};
	static const char *const fields[] = {"id", "created_at", "event_type", "state", "attempts",
	                                     "next_attempt_at"};
	ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
	                   (ProtobufCMessage *const *)r->deliveries, r->n_deliveries);
	return CTL_OK;
}

static const ctl_arg endpoint_args[] = {ENDPOINT_ARGS};
static const ctl_arg rotate_args[] = {
	ENDPOINT_ARGS,
	{.name = "--overlap-seconds", .kind = CTL_UINT, .offset = offsetof(endpoint_params, overlap),
	 .min = 1, .max = 604800,
	 .help = "how long the previous secret keeps signing too (default 86400)"},
};
static const ctl_arg deliveries_args[] = {
	ENDPOINT_ARGS,
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(endpoint_params, limit), .min = 1,
	 .max = 500, .help = "show at most N, newest first (default 100)"},
};

typedef struct redeliver_params {
	char *delivery;
	char *account;
} redeliver_params;

static int run_redeliver(ctl_ctx *ctx, void *params)
{
	const redeliver_params *p = params;
	Usher__V1__RedeliverWebhookRequest req = USHER__V1__REDELIVER_WEBHOOK_REQUEST__INIT;
	req.account_id = p->account ? p->account : "";
	req.delivery_id = p->delivery;
	return ctl_call_show(ctx, EVENTS, "RedeliverWebhook", CTL_KEYED, &req.base, "delivery");
}

static const ctl_arg redeliver_args[] = {
	{.name = "DELIVERY", .kind = CTL_UUID, .offset = offsetof(redeliver_params, delivery),
	 .help = "the delivery's id (from webhooks deliveries)"},
	{.name = "--account", .kind = CTL_UUID, .offset = offsetof(redeliver_params, account),
	 .help = "the account it belongs to (operators may leave it out)"},
};

static const ctl_command webhook_commands[] = {
	{.name = "create", .summary = "register an endpoint; prints its signing secret once",
	 .args = create_args, .n_args = CTL_COUNT(create_args), .params_size = sizeof(create_params),
	 .flags = CTL_NO_ACTOR, .run = run_create},
	{.name = "list", .summary = "list endpoints", .args = scope_args,
	 .n_args = CTL_COUNT(scope_args), .params_size = sizeof(scope_params), .flags = CTL_NO_ACTOR,
	 .run = run_endpoints},
	{.name = "delete", .summary = "delete an endpoint (its pending deliveries end)",
	 .args = endpoint_args, .n_args = CTL_COUNT(endpoint_args),
	 .params_size = sizeof(endpoint_params), .flags = CTL_NO_ACTOR, .run = run_delete},
	{.name = "enable", .summary = "enable an endpoint again (after it was disabled)",
	 .args = endpoint_args, .n_args = CTL_COUNT(endpoint_args),
	 .params_size = sizeof(endpoint_params), .flags = CTL_NO_ACTOR, .run = run_set_enabled,
	 .method = "enable"},
	{.name = "disable", .summary = "stop posting to an endpoint", .args = endpoint_args,
	 .n_args = CTL_COUNT(endpoint_args), .params_size = sizeof(endpoint_params),
	 .flags = CTL_NO_ACTOR, .run = run_set_enabled, .method = "disable"},
	{.name = "rotate-secret", .summary = "a new signing secret; the old one signs too for a while",
	 .args = rotate_args, .n_args = CTL_COUNT(rotate_args), .params_size = sizeof(endpoint_params),
	 .flags = CTL_NO_ACTOR, .run = run_rotate},
	{.name = "deliveries", .summary = "an endpoint's delivery log, newest first",
	 .args = deliveries_args, .n_args = CTL_COUNT(deliveries_args),
	 .params_size = sizeof(endpoint_params), .flags = CTL_NO_ACTOR, .run = run_deliveries},
	{.name = "redeliver", .summary = "post a delivery again now (the same webhook-id)",
	 .args = redeliver_args, .n_args = CTL_COUNT(redeliver_args),
	 .params_size = sizeof(redeliver_params), .flags = CTL_NO_ACTOR, .run = run_redeliver},
};

const ctl_group ctl_webhooks_group = {"webhooks", "endpoints that events are posted to, signed",
                                      webhook_commands, CTL_COUNT(webhook_commands)};
