/* The dispatch table of usher.v1.NotificationService: one line per method. */
#include "server.h"

#include "context.h"
#include "deliveries.h"
#include "intake.h"
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
