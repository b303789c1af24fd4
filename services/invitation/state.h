/* usher-invitationd's settings and the state its handlers and threads share. */
#ifndef INVITATION_STATE_H
#define INVITATION_STATE_H

#include <stdint.h>

#include "common/rpc_client.h"
#include "common/token.h"

typedef struct inv_settings {
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
} inv_settings;

typedef struct inv_state {
	inv_settings cfg;
	uint8_t token_key[US_TOKEN_KEY_BYTES]; /* hashes link tokens */
	uint8_t seal_key[32];                  /* seals tokens waiting in the outbox */
	uint8_t request_key[32];               /* hashes requests a claim must recognise again */
	us_rpc_client *identity;
	us_rpc_client *tenancy;
	us_rpc_client *notification;
	const char *database_url;
} inv_state;

/* The daemon's one instance, set up by main.c before serving. */
extern inv_state inv;

#endif
