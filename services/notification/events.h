/* usher.v1.EventService's handlers (protos/usher/v1/events.proto): events handed over by
 * the owning daemons' relays, the pull cursor, and webhook endpoints, their delivery log
 * and redelivery. A service principal sees only the accounts in its scope; an empty
 * account_id (every account, or a global endpoint) is for operators only. */
#ifndef NOTIFICATION_EVENTS_H
#define NOTIFICATION_EVENTS_H

#include "common/rpc_server.h"

us_rpc_handler notification_events_record_rpc;
us_rpc_handler notification_events_list_rpc;
us_rpc_handler notification_webhooks_create_rpc;
us_rpc_handler notification_webhooks_list_rpc;
us_rpc_handler notification_webhooks_delete_rpc;
us_rpc_handler notification_webhooks_set_enabled_rpc;
us_rpc_handler notification_webhooks_rotate_rpc;
us_rpc_handler notification_webhooks_deliveries_rpc;
us_rpc_handler notification_webhooks_redeliver_rpc;

/* Create and Rotate answer with the signing secret: it is kept out of their stored
 * idempotent replies, and a repeat gets the endpoint's current secret. */
extern const us_rpc_reply_secret notification_events_reply_secrets[];
extern const size_t notification_events_n_reply_secrets;

#endif
