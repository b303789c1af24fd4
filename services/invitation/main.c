/* usher-invitationd: invitations, batches and the accept saga; see docs/architecture.md. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/daemon.h"
#include "common/limits.h"
#include "common/metrics.h"
#include "store.h"
#include "common/principal_lookup.h"
#include "context.h"
#include "disposable.h"
#include "outbox.h"
#include "permalink.h"
#include "recovery.h"
#include "reminders.h"
#include "server.h"
#include "store.h"
#include "usher/v1/audit.pb-c.h"
#include "usher/v1/erasure.pb-c.h"
#include "usher/v1/invitation.pb-c.h"

extern const us_migration invitation_migrations[];
extern const char disposable_domains[];
extern const size_t disposable_domains_len;

/* The daemon's state: only main.c names it; everything else is handed a pointer. */

#define SETTING(name, type, field, flags, fallback, min, max, check, help)                      \
	{name, type, offsetof(invitation_settings, field), flags, fallback, min, max, check, help}

static const us_config_var invitation_vars[] = {
	SETTING("IDENTITY_RPC_URL", US_CONFIG_STRING, identity_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	        us_config_check_nng_urls, "address of usher-identityd"),
	SETTING("TENANCY_RPC_URL", US_CONFIG_STRING, tenancy_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	        us_config_check_nng_urls, "address of usher-tenancyd"),
	SETTING("NOTIFICATION_RPC_URL", US_CONFIG_STRING, notification_url, US_CONFIG_REQUIRED, NULL,
	        1, 0, us_config_check_nng_urls, "address of usher-notificationd"),
	SETTING("INVITATION_TOKEN_KEY", US_CONFIG_STRING, token_key_hex,
	        US_CONFIG_REQUIRED | US_CONFIG_SECRET, NULL, 64, 64, us_token_check_key_hex,
	        "64 hex digits: the key of the links' token hashes (keep it out of the database)"),
	SETTING("INVITATION_PREVIOUS_TOKEN_KEYS", US_CONFIG_STRING, previous_token_keys,
	        US_CONFIG_SECRET, NULL, 1, 1024, us_token_check_previous_keys,
	        "after a rotation, the INVITATION_TOKEN_KEYs replaced, each with the time it stops "
	        "verifying links issued with it: KEY@2026-12-31T00:00:00Z[,...] (at most "
	        US_TOKEN_PREVIOUS_MAX_TEXT ")"),
	SETTING("PUBLIC_BASE_URL", US_CONFIG_STRING, public_base_url, 0, "http://127.0.0.1:8080", 8,
	        200, NULL, "where people reach the gateway; links are built from it"),
	SETTING("REINVITE_MIN_INTERVAL_S", US_CONFIG_INT, reinvite_min_interval_s, 0, "60", 0, 86400,
	        NULL, "an invitation is resent at most this often"),
	SETTING("ACCEPT_STALE_S", US_CONFIG_INT, accept_stale_s, 0, "300", 30, 86400, NULL,
	        "an accept claimed this long ago is taken over by the recovery loop even if the "
	        "daemon running it still lives (one that died is taken over at once)"),
	SETTING("RECOVERY_INTERVAL_MS", US_CONFIG_INT, recovery_interval_ms, 0, "5000", 50, 600000,
	        NULL, "how often the recovery loop looks for interrupted accepts"),
	SETTING("OUTBOX_BATCH", US_CONFIG_INT, outbox_batch, 0, "2000", 1, US_BATCH_MAX, NULL,
	        "emails handed to usher-notificationd per call"),
	SETTING("OUTBOX_RELAYS", US_CONFIG_INT, outbox_relays, 0, "2", 1, 16, NULL,
	        "threads handing the outbox to usher-notificationd at once"),
	SETTING("OUTBOX_COALESCE_MS", US_CONFIG_INT, outbox_coalesce_ms, 0, "20", 0, 1000, NULL,
	        "after a commit of this daemon wakes the relays, wait this long to send more "
	        "emails in one call"),
	SETTING("OUTBOX_POLL_MS", US_CONFIG_INT, outbox_poll_ms, 0, "1000", 10, 60000, NULL,
	        "how often the outbox and events are checked for rows another process wrote "
	        "(another replica)"),
	SETTING("LINK_JOIN_CONFIRM_HOURS", US_CONFIG_INT, link_join_confirm_hours, 0, "48", 1, 720,
	        NULL, "how long the link confirming a permanent-link join's address stays valid"),
	SETTING("REMINDER_INTERVAL_MS", US_CONFIG_INT, reminder_interval_ms, 0, "60000", 50, 3600000,
	        NULL, "how often pending invitations are looked at for reminders and expiry"),
	SETTING("INVITATION_RETENTION_DAYS", US_CONFIG_INT, invitation_retention_days, 0, "365", 0,
	        36500, NULL, "accepted, declined, revoked and expired invitations (and their "
	                     "batches) are deleted this long after they closed (0: never)"),
	SETTING("LINK_JOIN_RETENTION_DAYS", US_CONFIG_INT, link_join_retention_days, 0, "365", 0,
	        36500, NULL, "joins through permanent links, and ended join requests, are deleted "
	                     "this long after (0: never)"),
};

static us_err open_peer(const char *url, us_rpc_client **out, char *err, size_t err_size)
{
	us_rpc_client_opts opts = {.url = url, .caller = "usher-invitationd", .wait_for_server = true};
	return us_rpc_client_open(&opts, out, err, err_size);
}

static void stop(void *arg)
{
	invitation_ctx *ctx = arg;
	/* The RPC server has stopped: only the background threads call the peers now. A call
	 * of theirs in flight (the outbox's may wait a minute for a notificationd that is
	 * gone or stopping too) ends at once; what it carried stays in the outbox, the
	 * events table or the claim, for the next start. */
	us_rpc_client_abort(ctx->identity);
	us_rpc_client_abort(ctx->tenancy);
	us_rpc_client_abort(ctx->notification);
	invitation_reminders_stop(ctx);
	invitation_recovery_stop(ctx);
	us_event_relay_stop(ctx->events);
	ctx->events = NULL;
	invitation_outbox_stop(ctx->outbox);
	ctx->outbox = NULL;
	us_rpc_client_close(ctx->identity);
	us_rpc_client_close(ctx->tenancy);
	us_rpc_client_close(ctx->notification);
	ctx->identity = ctx->tenancy = ctx->notification = NULL;
	invitation_disposable_free(ctx->disposable);
	ctx->disposable = NULL;
	us_token_keyring_wipe(&ctx->token_keys);
	sodium_memzero(ctx->seal_key, sizeof(ctx->seal_key));
	sodium_memzero(ctx->previous_seal_keys, sizeof(ctx->previous_seal_keys));
	sodium_memzero(ctx->request_key, sizeof(ctx->request_key));
	sodium_memzero(ctx->cursor_key, sizeof(ctx->cursor_key));
}

static us_err start(void *arg, const us_daemon_config *cfg, char *err, size_t err_size)
{
	invitation_ctx *ctx = arg;
	ctx->database_url = cfg->database_url;
	uint8_t master[US_TOKEN_KEY_BYTES];
	if (us_token_key_from_hex(ctx->settings.token_key_hex, master) != 0) {
		snprintf(err, err_size, "INVITATION_TOKEN_KEY: must be 64 hex digits");
		return US_EINVAL;
	}
	/* Four keys from one secret: one hashes tokens, one seals them in the outbox, one
	 * hashes the accept and join requests a retry is recognised by, one tags page tokens. */
	crypto_kdf_derive_from_key(ctx->token_keys.current, US_TOKEN_KEY_BYTES, 1, "ushtoken", master);
	crypto_kdf_derive_from_key(ctx->seal_key, sizeof(ctx->seal_key), 2, "ushseal_", master);
	crypto_kdf_derive_from_key(ctx->request_key, sizeof(ctx->request_key), 3, "ushreqh_", master);
	crypto_kdf_derive_from_key(ctx->cursor_key, sizeof(ctx->cursor_key), 4, "ushpage_", master);
	/* The previous secrets, derived the same way: their links' hashes and seals. */
	us_token_keyring previous = {0};
	memcpy(previous.current, master, sizeof(master));
	sodium_memzero(master, sizeof(master));
	const char *why = us_token_previous_parse(ctx->settings.previous_token_keys, &previous);
	if (why != NULL) {
		us_token_keyring_wipe(&previous);
		snprintf(err, err_size, "INVITATION_PREVIOUS_TOKEN_KEYS: %s", why);
		return US_EINVAL;
	}
	ctx->token_keys.n_previous = previous.n_previous;
	for (size_t i = 0; i < previous.n_previous; i++) {
		crypto_kdf_derive_from_key(ctx->token_keys.previous[i].key, US_TOKEN_KEY_BYTES, 1,
		                           "ushtoken", previous.previous[i].key);
		crypto_kdf_derive_from_key(ctx->previous_seal_keys[i], 32, 2, "ushseal_",
		                           previous.previous[i].key);
		ctx->token_keys.previous[i].until_ms = previous.previous[i].until_ms;
	}
	us_token_keyring_wipe(&previous);

	us_err rc = invitation_disposable_load(disposable_domains, disposable_domains_len,
	                                       &ctx->disposable);
	if (rc != US_OK)
		snprintf(err, err_size, "out of memory loading the disposable-domain list");
	if (rc == US_OK)
		rc = open_peer(ctx->settings.identity_url, &ctx->identity, err, err_size);
	if (rc == US_OK)
		rc = open_peer(ctx->settings.tenancy_url, &ctx->tenancy, err, err_size);
	if (rc == US_OK)
		rc = open_peer(ctx->settings.notification_url, &ctx->notification, err, err_size);
	if (rc == US_OK)
		rc = invitation_outbox_start(ctx, &ctx->outbox, err, err_size);
	if (rc == US_OK) {
		us_event_relay_opts events = {.database_url = ctx->database_url,
		                              .schema = "invitation",
		                              .notification = ctx->notification,
		                              .batch = 2000,
		                              .poll_ms = (uint32_t)ctx->settings.outbox_poll_ms};
		rc = us_event_relay_start(&events, &ctx->events, err, err_size);
	}
	if (rc == US_OK)
		rc = invitation_recovery_start(ctx, err, err_size);
	if (rc == US_OK)
		rc = invitation_reminders_start(ctx, err, err_size);
	if (rc != US_OK)
		stop(ctx);
	return rc;
}

/* The gauges of /metrics only this daemon knows. */
static void collect(void *arg, PGconn *db)
{
	(void)arg;
	int64_t outbox = 0, claims = 0;
	double oldest = 0;
	if (invitation_store_gauges(db, &outbox, &oldest, &claims) != US_OK)
		return;
	const char *service[] = {"usher-invitationd"};
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_outbox_backlog",
	                                 "outbox rows waiting to be handed on", "service"),
	               service, (double)outbox);
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_outbox_oldest_age_seconds",
	                                 "age of the oldest outbox row (0: none)", "service"),
	               service, oldest);
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_accept_claims_in_progress",
	                                 "accepts and link joins whose steps are being taken", ""),
	               NULL, (double)claims);
}

int main(int argc, char **argv)
{
	invitation_ctx context = {0};
	const us_admin_peer peers[] = {
		{"usher-identityd", &context.identity},
		{"usher-tenancyd", &context.tenancy},
	};
	const us_rpc_service services[] = {
		{&usher__v1__invitation_service__descriptor, invitation_methods, invitation_n_methods,
		 &context},
		{&usher__v1__audit_service__descriptor, invitation_audit_methods,
		 invitation_n_audit_methods, &context},
		{&usher__v1__erasure_service__descriptor, invitation_erasure_methods,
		 invitation_n_erasure_methods, &context},
	};
	const us_retention_rule retention[] = {
		{"closed invitations", invitation_store_purge_invitations,
		 &context.settings.invitation_retention_days},
		{"empty batches", invitation_store_purge_batches,
		 &context.settings.invitation_retention_days},
		{"link joins", invitation_store_purge_link_joins,
		 &context.settings.link_join_retention_days},
		{"link join requests", invitation_store_purge_link_join_requests,
		 &context.settings.link_join_retention_days},
	};
	const us_daemon_spec spec = {
		.name = "usher-invitationd",
		.summary = "invitations, permanent links and the accept saga",
		.schema = "invitation",
		.migrations = invitation_migrations,
		.services = services,
		.n_services = sizeof(services) / sizeof(services[0]),
		.config = invitation_vars,
		.n_config = sizeof(invitation_vars) / sizeof(invitation_vars[0]),
		.config_struct = &context.settings,
		.principal_lookup = us_principal_lookup_remote,
		.principal_lookup_ctx = &context.identity,
		.reply_secrets = invitation_reply_secrets,
		.n_reply_secrets = invitation_n_reply_secrets,
		.retention = retention,
		.n_retention = sizeof(retention) / sizeof(retention[0]),
		.ctx = &context,
		.start = start,
		.stop = stop,
		.admin_listen = "127.0.0.1:9103",
		.peers = peers,
		.n_peers = sizeof(peers) / sizeof(peers[0]),
		.collect = collect,
	};
	return us_daemon_main(&spec, argc, argv);
}
