/* usher-identityd's state: its settings, the token key, the password hasher and the client
 * of usher-notificationd. Built in main(), filled at start-up and handed to the handlers
 * as the RPC services' context (us_call_service_ctx()); nothing else holds state. Read-only
 * while serving, but for the hasher's count of operations in progress. */
#ifndef IDENTITY_CONTEXT_H
#define IDENTITY_CONTEXT_H

#include <stdint.h>

#include "common/rpc_client.h"
#include "common/token.h"
#include "password.h"

typedef struct identity_settings {
	char *token_key_hex;
	char *previous_token_keys; /* IDENTITY_PREVIOUS_TOKEN_KEYS */
	char *notification_rpc_url;
	char *public_base_url;
	int64_t password_opslimit;
	int64_t password_memlimit_mib;
	int64_t password_hash_concurrency;
	int64_t session_ttl_hours;
	int64_t login_max_failures;
	int64_t login_max_failures_per_address;
	int64_t login_max_failures_per_email;
	int64_t login_backoff_base_ms;
	int64_t login_backoff_max_s;
	int64_t login_failure_window_s;
	int64_t login_known_network_days;
	int64_t email_change_ttl_hours;
	int64_t password_reset_ttl_minutes;
	int64_t password_reset_max_per_email;
	int64_t password_reset_max_per_address;
	int64_t password_reset_window_s;
	int64_t session_retention_days;
	int64_t token_retention_days;
	int64_t throttle_retention_days;
} identity_settings;

typedef struct identity_ctx {
	identity_settings settings;
	/* Keys every token and throttle-subject hash (the current key); the previous keys
	 * still verify tokens issued before a rotation. Never stored in the database. */
	us_token_keyring token_keys;
	/* Keys the idempotency table's hashes of requests, which can hold passwords. */
	uint8_t request_hash_key[32];
	identity_passwords passwords;
	us_rpc_client *notification;
} identity_ctx;

#endif
