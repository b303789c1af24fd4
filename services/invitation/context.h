/* The state usher-invitationd's handlers and background threads share: its settings,
 * keys, clients of the daemons it depends on, and the handles of its threads. Built once
 * by main.c before serving, read-only while serving; handlers get it through
 * us_call_service_ctx(), the outbox relays and the recovery ticker as their argument. */
#ifndef INVITATION_CONTEXT_H
#define INVITATION_CONTEXT_H

#include <stdint.h>

#include <libpq-fe.h>

#include "common/event_relay.h"
#include "common/rpc_client.h"
#include "common/ticker.h"
#include "common/token.h"

typedef struct invitation_settings {
	char *identity_url;
	char *tenancy_url;
	char *notification_url;
	char *token_key_hex;
	char *previous_token_keys; /* INVITATION_PREVIOUS_TOKEN_KEYS */
	char *public_base_url;
	int64_t reinvite_min_interval_s;
	int64_t accept_stale_s;
	int64_t recovery_interval_ms;
	int64_t outbox_batch;
	int64_t outbox_relays;
	int64_t outbox_coalesce_ms;
	int64_t outbox_poll_ms;
	int64_t link_join_confirm_hours;
	int64_t reminder_interval_ms;
	int64_t invitation_retention_days;
	int64_t link_join_retention_days;
} invitation_settings;

typedef struct invitation_disposable invitation_disposable; /* disposable.h */
typedef struct invitation_outbox invitation_outbox;         /* outbox.h */

typedef struct invitation_ctx {
	invitation_settings settings;
	/* Hash link and invitation tokens: the current key, and the previous ones that still
	 * verify tokens issued before a rotation. */
	us_token_keyring token_keys;
	uint8_t seal_key[32];                  /* seals tokens waiting in the outbox */
	/* The seal keys of the previous token keys (same order): sealed before a rotation. */
	uint8_t previous_seal_keys[US_TOKEN_PREVIOUS_MAX][32];
	uint8_t request_key[32];               /* hashes requests a claim must recognise again */
	uint8_t cursor_key[32];                /* tags ListInvitations' page tokens (cursor.h) */
	us_rpc_client *identity;
	us_rpc_client *tenancy;
	us_rpc_client *notification;
	const char *database_url;
	invitation_disposable *disposable; /* the disposable-mail domains */
	invitation_outbox *outbox;         /* the relay threads */
	us_event_relay *events; /* hands the events table to usher-notificationd */
	us_ticker *recovery;               /* the recovery loop */
	PGconn *recovery_db;               /* its connection, used by its thread alone */
	us_ticker *reminders;              /* the reminder and expiry loop (reminders.h) */
	PGconn *reminders_db;              /* its connection */
} invitation_ctx;

#endif
