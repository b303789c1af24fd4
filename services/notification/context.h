/* The state usher-notificationd's handlers and delivery share: its settings, the seal
 * key, the templates, the sender and the delivery engine. Built in main.c at start-up,
 * read-only while serving (the engine has its own locks); handed to handlers through
 * us_call_service_ctx(). */
#ifndef NOTIFICATION_CONTEXT_H
#define NOTIFICATION_CONTEXT_H

#include <stdint.h>

#include "common/rpc_client.h"
#include "mime.h"
#include "seal.h"
#include "settings.h"
#include "template.h"

typedef struct notification_delivery notification_delivery;
typedef struct notification_webhooks notification_webhooks;

typedef struct notification_ctx {
	notification_settings settings;
	const char *database_url; /* borrowed from the daemon's configuration */
	/* Seals queued messages' variables; never stored in the database. */
	uint8_t seal_key[NOTIFICATION_SEAL_KEY_BYTES];
	notification_template_set *templates;
	notification_mime_mailbox from; /* MAIL_FROM, parsed */
	char message_id_domain[256];    /* MAIL_FROM's domain: the right of every Message-ID */
	notification_delivery *delivery; /* NULL before start and after stop */
	notification_webhooks *webhooks; /* likewise */
	us_rpc_client *identity;         /* knows service principals */
	us_rpc_client *tenancy;          /* who may manage an account's webhooks */
} notification_ctx;

#endif
