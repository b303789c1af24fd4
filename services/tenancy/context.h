/* The state usher-tenancyd's handlers share: its settings, the client of usher-identityd,
 * and the permission matrix and product catalogue (replaced on SIGHUP while workers read
 * them). Built in main.c, handed to handlers through us_call_service_ctx(). */
#ifndef TENANCY_CONTEXT_H
#define TENANCY_CONTEXT_H

#include <pthread.h>
#include <stdint.h>

#include "common/event_relay.h"
#include "common/rpc_client.h"

typedef struct tenancy_matrix tenancy_matrix;
typedef struct tenancy_catalogue tenancy_catalogue;

typedef struct tenancy_settings {
	char *permission_matrix_file;
	char *identity_url;
	char *product_catalogue_file;
	char *notification_url;
	int64_t events_poll_ms;
} tenancy_settings;

typedef struct tenancy_ctx {
	tenancy_settings settings;
	us_rpc_client *identity; /* knows service principals */
	us_rpc_client *notification; /* takes the events */
	us_event_relay *events;
	pthread_rwlock_t rules_lock; /* guards matrix and catalogue */
	tenancy_matrix *matrix;
	tenancy_catalogue *catalogue;
} tenancy_ctx;

#endif
