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

const us_rpc_service notification_services[] = {
	{&usher__v1__notification_service__descriptor, notification_methods,
	 sizeof(notification_methods) / sizeof(notification_methods[0]), &notification_context},
};
const size_t notification_n_services =
        sizeof(notification_services) / sizeof(notification_services[0]);
