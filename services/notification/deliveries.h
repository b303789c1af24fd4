/* What became of emails: GetDeliveries (by reference and/or recipient, with their latest
 * attempts) and RemoveSuppression (an operator takes an address off the list). */
#ifndef NOTIFICATION_DELIVERIES_H
#define NOTIFICATION_DELIVERIES_H

#include "common/rpc_server.h"

us_rpc_handler notification_deliveries_get;
us_rpc_handler notification_deliveries_unsuppress;

#endif
