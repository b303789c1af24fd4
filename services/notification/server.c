/* The dispatch table of usher.v1.NotificationService: one line per method. */
#include "server.h"

#include "usher/v1/notification.pb-c.h"

const us_rpc_service notification_services[] = {
	{&usher__v1__notification_service__descriptor, NULL, 0, NULL},
};
const size_t notification_n_services = sizeof(notification_services) / sizeof(notification_services[0]);
