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
	char *public_base_url;
	int64_t reinvite_min_interval_s;
	int64_t accept_stale_s;
	int64_t recovery_interval_ms;
	int64_t outbox_batch;
	int64_t outbox_relays;
	int64_t outbox_coalesce_ms;
	int64_t outbox_poll_ms;
	int64_t link_join_confirm_hours;
} invitation_settings;

typedef struct invitation_disposable invitation_disposable; /* disposable.h */
typedef struct invitation_outbox invitation_outbox;         /* outbox.h */

typedef struct invitation_ctx {
	invitation_settings settings;
	uint8_t token_key[US_TOKEN_KEY_BYTES]; /* hashes link tokens */
	uint8_t seal_key[32];                  /* seals tokens waiting in the outbox */
	uint8_t request_key[32];               /* hashes requests a claim must recognise again */
	us_rpc_client *identity;
	us_rpc_client *tenancy;
	us_rpc_client *notification;
	const char *database_url;
	invitation_disposable *disposable; /* the disposable-mail domains */
	invitation_outbox *outbox;         /* the relay threads */
	us_event_relay *events; /* hands the events table to usher-notificationd */
	us_ticker *recovery;               /* the recovery loop */
	PGconn *recovery_db;               /* its connection, used by its thread alone */
} invitation_ctx;

#endif
