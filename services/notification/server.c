/* The dispatch table of usher.v1.NotificationService: one line per method. */
#include "server.h"

#include "context.h"
#include "deliveries.h"
#include "events.h"
#include "intake.h"
#include "usher/v1/events.pb-c.h"
#include "usher/v1/notification.pb-c.h"

static const us_rpc_method notification_methods[] = {
	{"SendEmail", notification_intake_send_email, 0},
	{"SendEmails", notification_intake_send_emails, 0},
	{"GetDeliveries", notification_deliveries_get, 0},
	{"RemoveSuppression", notification_deliveries_unsuppress, US_RPC_IDEMPOTENT},
};

us_rpc_service notification_server_service(notification_ctx *ctx)
{
	return (us_rpc_service){&usher__v1__notification_service__descriptor, notification_methods,
	                        sizeof(notification_methods) / sizeof(notification_methods[0]), ctx};
}

static const us_rpc_method event_methods[] = {
	{"RecordEvents", notification_events_record_rpc, US_RPC_INTERNAL},
	{"ListEvents", notification_events_list_rpc, 0},
	{"CreateWebhookEndpoint", notification_webhooks_create_rpc, US_RPC_IDEMPOTENT},
	{"ListWebhookEndpoints", notification_webhooks_list_rpc, 0},
	{"DeleteWebhookEndpoint", notification_webhooks_delete_rpc, US_RPC_IDEMPOTENT},
	{"SetWebhookEndpointEnabled", notification_webhooks_set_enabled_rpc, US_RPC_IDEMPOTENT},
	{"RotateWebhookSecret", notification_webhooks_rotate_rpc, US_RPC_IDEMPOTENT},
	{"ListWebhookDeliveries", notification_webhooks_deliveries_rpc, 0},
	{"RedeliverWebhook", notification_webhooks_redeliver_rpc, US_RPC_IDEMPOTENT},
};

us_rpc_service notification_server_event_service(notification_ctx *ctx)
{
	return (us_rpc_service){&usher__v1__event_service__descriptor, event_methods,
	                        sizeof(event_methods) / sizeof(event_methods[0]), ctx};
}
