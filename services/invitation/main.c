/* usher-invitationd: invitations, batches and the accept saga; see docs/architecture.md. */
#include <stddef.h>
#include <stdio.h>

#include <sodium.h>

#include "common/daemon.h"
#include "disposable.h"
#include "outbox.h"
#include "permalink.h"
#include "common/principal_lookup.h"
#include "recovery.h"
#include "server.h"
#include "state.h"

extern const us_migration invitation_migrations[];

inv_state inv;

#define SETTING(name, type, field, flags, fallback, min, max, check, help)                      \
	{name, type, offsetof(inv_settings, field), flags, fallback, min, max, check, help}

static const us_config_var invitation_vars[] = {
	SETTING("IDENTITY_RPC_URL", US_CONFIG_STRING, identity_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	        us_config_check_nng_url, "address of usher-identityd"),
	SETTING("TENANCY_RPC_URL", US_CONFIG_STRING, tenancy_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	        us_config_check_nng_url, "address of usher-tenancyd"),
	SETTING("NOTIFICATION_RPC_URL", US_CONFIG_STRING, notification_url, US_CONFIG_REQUIRED, NULL,
	        1, 0, us_config_check_nng_url, "address of usher-notificationd"),
	SETTING("INVITATION_TOKEN_KEY", US_CONFIG_STRING, token_key_hex,
	        US_CONFIG_REQUIRED | US_CONFIG_SECRET, NULL, 64, 64, us_token_check_key_hex,
	        "64 hex digits: the key of the links' token hashes (keep it out of the database)"),
	SETTING("PUBLIC_BASE_URL", US_CONFIG_STRING, public_base_url, 0, "http://127.0.0.1:8080", 8,
	        200, NULL, "where people reach the gateway; links are built from it"),
	SETTING("REINVITE_MIN_INTERVAL_S", US_CONFIG_INT, reinvite_min_interval_s, 0, "60", 0, 86400,
	        NULL, "an invitation is resent at most this often"),
	SETTING("ACCEPT_STALE_S", US_CONFIG_INT, accept_stale_s, 0, "300", 30, 86400, NULL,
	        "an accept claimed this long ago is taken over by the recovery loop even if the "
	        "daemon running it still lives (one that died is taken over at once)"),
	SETTING("RECOVERY_INTERVAL_MS", US_CONFIG_INT, recovery_interval_ms, 0, "5000", 50, 600000,
	        NULL, "how often the recovery loop looks for interrupted accepts"),
	SETTING("OUTBOX_BATCH", US_CONFIG_INT, outbox_batch, 0, "2000", 1, 50000, NULL,
	        "emails handed to usher-notificationd per call"),
	SETTING("OUTBOX_RELAYS", US_CONFIG_INT, outbox_relays, 0, "2", 1, 16, NULL,
	        "threads handing the outbox to usher-notificationd at once"),
	SETTING("OUTBOX_COALESCE_MS", US_CONFIG_INT, outbox_coalesce_ms, 0, "20", 0, 1000, NULL,
	        "after an outbox notice, wait this long to send more emails in one call"),
	SETTING("OUTBOX_POLL_MS", US_CONFIG_INT, outbox_poll_ms, 0, "1000", 10, 60000, NULL,
	        "how often the outbox is checked when no change announces itself"),
	SETTING("LINK_JOIN_CONFIRM_HOURS", US_CONFIG_INT, link_join_confirm_hours, 0, "48", 1, 720,
	        NULL, "how long the link confirming a permanent-link join's address stays valid"),
};

static us_err open_peer(const char *url, us_rpc_client **out, char *err, size_t err_size)
{
	us_rpc_client_opts opts = {.url = url, .caller = "usher-invitationd", .wait_for_server = true};
	return us_rpc_client_open(&opts, out, err, err_size);
}

static void stop(void *ctx)
{
	(void)ctx;
	inv_recovery_stop();
	inv_outbox_stop();
	us_rpc_client_close(inv.identity);
	us_rpc_client_close(inv.tenancy);
	us_rpc_client_close(inv.notification);
	inv_disposable_free();
	sodium_memzero(inv.token_key, sizeof(inv.token_key));
	sodium_memzero(inv.seal_key, sizeof(inv.seal_key));
	sodium_memzero(inv.request_key, sizeof(inv.request_key));
}

static us_err start(void *ctx, const us_daemon_config *cfg, char *err, size_t err_size)
{
	(void)ctx;
	inv.database_url = cfg->database_url;
	uint8_t master[US_TOKEN_KEY_BYTES];
	if (us_token_key_from_hex(inv.cfg.token_key_hex, master) != 0) {
		snprintf(err, err_size, "INVITATION_TOKEN_KEY: must be 64 hex digits");
		return US_EINVAL;
	}
	/* Three keys from one secret: one hashes tokens, one seals them in the outbox, one
	 * hashes the accept and join requests a retry is recognised by. */
	crypto_kdf_derive_from_key(inv.token_key, sizeof(inv.token_key), 1, "ushtoken", master);
	crypto_kdf_derive_from_key(inv.seal_key, sizeof(inv.seal_key), 2, "ushseal_", master);
	crypto_kdf_derive_from_key(inv.request_key, sizeof(inv.request_key), 3, "ushreqh_", master);
	sodium_memzero(master, sizeof(master));

	us_err rc = inv_disposable_load(err, err_size);
	if (rc == US_OK)
		rc = open_peer(inv.cfg.identity_url, &inv.identity, err, err_size);
	if (rc == US_OK)
		rc = open_peer(inv.cfg.tenancy_url, &inv.tenancy, err, err_size);
	if (rc == US_OK)
		rc = open_peer(inv.cfg.notification_url, &inv.notification, err, err_size);
	if (rc == US_OK)
		rc = inv_outbox_start(err, err_size);
	if (rc == US_OK)
		rc = inv_recovery_start(err, err_size);
	if (rc != US_OK)
		stop(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	const us_daemon_spec spec = {
		.name = "usher-invitationd",
		.summary = "invitations, permanent links and the accept saga",
		.schema = "invitation",
		.migrations = invitation_migrations,
		.services = invitation_services,
		.n_services = invitation_n_services,
		.config = invitation_vars,
		.n_config = sizeof(invitation_vars) / sizeof(invitation_vars[0]),
		.config_struct = &inv.cfg,
		.principal_lookup = us_principal_lookup_remote,
		.principal_lookup_ctx = &inv.identity,
		.reply_secrets = inv_reply_secrets,
		.n_reply_secrets = inv_n_reply_secrets,
		.start = start,
		.stop = stop,
	};
	return us_daemon_main(&spec, argc, argv);
}
