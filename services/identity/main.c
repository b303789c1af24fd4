/* usher-identityd: users, credentials, sessions and self-service profiles; see
 * docs/architecture.md. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "context.h"
#include "common/daemon.h"
#include "password.h"
#include "principals.h"
#include "server.h"
#include "store.h"

#define MIB (1024 * 1024)

extern const us_migration identity_migrations[];

static const char *check_base_url(const char *value)
{
	bool scheme = strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0;
	if (!scheme || value[strlen(value) - 1] == '/')
		return "must be an http:// or https:// URL without a trailing slash";
	return NULL;
}

#define VAR(name, type, field, flags, fallback, min, max, check, help)                           \
	{name, type, offsetof(identity_settings, field), flags, fallback, min, max, check, help}

static const us_config_var identity_vars[] = {
	VAR("IDENTITY_TOKEN_KEY", US_CONFIG_STRING, token_key_hex,
	    US_CONFIG_REQUIRED | US_CONFIG_SECRET, NULL, 64, 64, us_token_check_key_hex,
	    "64 hex digits: the key of the hashes stored for session and email-change tokens"),
	VAR("IDENTITY_PREVIOUS_TOKEN_KEYS", US_CONFIG_STRING, previous_token_keys, US_CONFIG_SECRET,
	    NULL, 1, 1024, us_token_check_previous_keys,
	    "after a rotation, the IDENTITY_TOKEN_KEYs replaced, each with the time it stops "
	    "verifying tokens issued with it: KEY@2026-12-31T00:00:00Z[,...] (at most "
	    US_TOKEN_PREVIOUS_MAX_TEXT ")"),
	VAR("NOTIFICATION_RPC_URL", US_CONFIG_STRING, notification_rpc_url, US_CONFIG_REQUIRED,
	    NULL, 1, 0, us_config_check_nng_urls, "usher-notificationd's RPC address"),
	VAR("PUBLIC_BASE_URL", US_CONFIG_STRING, public_base_url, 0, "http://127.0.0.1:8080", 8,
	    1000, check_base_url, "where people reach Usher; links in emails start with it"),
	VAR("PASSWORD_OPSLIMIT", US_CONFIG_INT, password_opslimit, 0, "2", 2, 64, NULL,
	    "argon2id passes per password hash (raising it rehashes passwords at login)"),
	VAR("PASSWORD_MEMLIMIT_MIB", US_CONFIG_INT, password_memlimit_mib, 0, "64", 64, 4096, NULL,
	    "argon2id memory per password hash, MiB (raising it rehashes passwords at login)"),
	VAR("PASSWORD_HASH_CONCURRENCY", US_CONFIG_INT, password_hash_concurrency, 0, "4", 1, 256,
	    NULL, "password hashes or checks at once, each holding PASSWORD_MEMLIMIT_MIB; "
	          "more are refused with RESOURCE_EXHAUSTED"),
	VAR("SESSION_TTL_HOURS", US_CONFIG_INT, session_ttl_hours, 0, "720", 1, 8760, NULL,
	    "how long a session lasts after login"),
	VAR("LOGIN_MAX_FAILURES", US_CONFIG_INT, login_max_failures, 0, "5", 1, 1000, NULL,
	    "failed logins for one email from one client network before each further try waits "
	    "a backoff (doubling from LOGIN_BACKOFF_BASE_MS)"),
	VAR("LOGIN_MAX_FAILURES_PER_ADDRESS", US_CONFIG_INT, login_max_failures_per_address, 0,
	    "50", 1, 1000000, NULL,
	    "failed logins from one client network, any email, before its tries wait a backoff"),
	VAR("LOGIN_MAX_FAILURES_PER_EMAIL", US_CONFIG_INT, login_max_failures_per_email, 0, "100",
	    1, 1000000, NULL,
	    "failed logins for one email, any network, before tries from networks that never "
	    "signed in to it wait a backoff"),
	VAR("LOGIN_BACKOFF_BASE_MS", US_CONFIG_INT, login_backoff_base_ms, 0, "1000", 1, 3600000,
	    NULL, "the first backoff past a limit; it doubles with each further failure"),
	VAR("LOGIN_BACKOFF_MAX_S", US_CONFIG_INT, login_backoff_max_s, 0, "900", 1, 86400, NULL,
	    "the longest backoff"),
	VAR("LOGIN_FAILURE_WINDOW_S", US_CONFIG_INT, login_failure_window_s, 0, "900", 1, 86400,
	    NULL, "failures are forgotten once none has happened for this long"),
	VAR("LOGIN_KNOWN_NETWORK_DAYS", US_CONFIG_INT, login_known_network_days, 0, "30", 1, 365,
	    NULL, "a network that signed in to an email within this many days is exempt from "
	          "that email's own limit"),
	VAR("EMAIL_CHANGE_TTL_HOURS", US_CONFIG_INT, email_change_ttl_hours, 0, "24", 1, 168, NULL,
	    "how long an email change verification link stays valid"),
	VAR("PASSWORD_RESET_TTL_MINUTES", US_CONFIG_INT, password_reset_ttl_minutes, 0, "60", 5,
	    1440, NULL, "how long a password reset link stays valid"),
	VAR("PASSWORD_RESET_MAX_PER_EMAIL", US_CONFIG_INT, password_reset_max_per_email, 0, "3", 1,
	    100, NULL, "reset links sent to one address per PASSWORD_RESET_WINDOW_S; past it "
	               "requests get the same answer and send nothing"),
	VAR("PASSWORD_RESET_MAX_PER_ADDRESS", US_CONFIG_INT, password_reset_max_per_address, 0,
	    "20", 1, 100000, NULL, "reset requests from one client address per "
	                           "PASSWORD_RESET_WINDOW_S; past it they are RESOURCE_EXHAUSTED"),
	VAR("PASSWORD_RESET_WINDOW_S", US_CONFIG_INT, password_reset_window_s, 0, "3600", 60,
	    86400, NULL, "the window the reset limits count in"),
	VAR("SESSION_RETENTION_DAYS", US_CONFIG_INT, session_retention_days, 0, "30", 0, 36500,
	    NULL, "expired sessions are deleted this long after they expired (0: never)"),
	VAR("TOKEN_RETENTION_DAYS", US_CONFIG_INT, token_retention_days, 0, "7", 0, 36500, NULL,
	    "email change, password reset and email verification links are deleted this long "
	    "after they expired (0: never)"),
	VAR("THROTTLE_RETENTION_DAYS", US_CONFIG_INT, throttle_retention_days, 0, "365", 0, 36500,
	    NULL, "login and reset throttle counters are deleted this long after their last use "
	          "(0: never; keep it above LOGIN_KNOWN_NETWORK_DAYS)"),
};

static us_err start(void *arg, const us_daemon_config *cfg, char *err, size_t err_size)
{
	(void)cfg;
	identity_ctx *ctx = arg;
	const identity_settings *s = &ctx->settings;
	if (us_token_key_from_hex(s->token_key_hex, ctx->token_keys.current) != 0) {
		snprintf(err, err_size, "IDENTITY_TOKEN_KEY: must be 64 hex digits");
		return US_EINVAL;
	}
	const char *why = us_token_previous_parse(s->previous_token_keys, &ctx->token_keys);
	if (why != NULL) {
		snprintf(err, err_size, "IDENTITY_PREVIOUS_TOKEN_KEYS: %s", why);
		return US_EINVAL;
	}
	crypto_kdf_derive_from_key(ctx->request_hash_key, sizeof(ctx->request_hash_key), 1,
	                           "ushreqhs", ctx->token_keys.current);
	if (identity_password_init(&ctx->passwords, (unsigned long long)s->password_opslimit,
	                           (size_t)s->password_memlimit_mib * MIB,
	                           (int)s->password_hash_concurrency) != US_OK) {
		snprintf(err, err_size, "could not hash with PASSWORD_MEMLIMIT_MIB=%lld: out of memory",
		         (long long)s->password_memlimit_mib);
		return US_EEXHAUSTED;
	}
	us_rpc_client_opts opts = {
		.url = s->notification_rpc_url,
		.caller = "usher-identityd",
		.wait_for_server = true,
	};
	return us_rpc_client_open(&opts, &ctx->notification, err, err_size);
}

static void stop(void *arg)
{
	identity_ctx *ctx = arg;
	us_rpc_client_close(ctx->notification);
	ctx->notification = NULL;
	us_token_keyring_wipe(&ctx->token_keys);
	sodium_memzero(ctx->request_hash_key, sizeof(ctx->request_hash_key));
}

int main(int argc, char **argv)
{
	identity_ctx ctx = {0};
	us_rpc_service services[IDENTITY_N_SERVICES];
	identity_server_services(&ctx, services);
	const us_retention_rule retention[] = {
		{"sessions", identity_store_purge_sessions, &ctx.settings.session_retention_days},
		{"email changes", identity_store_purge_email_changes,
		 &ctx.settings.token_retention_days},
		{"password resets", identity_store_purge_password_resets,
		 &ctx.settings.token_retention_days},
		{"email verifications", identity_store_purge_email_verifications,
		 &ctx.settings.token_retention_days},
		{"login throttle counters", identity_store_purge_login_throttle,
		 &ctx.settings.throttle_retention_days},
		{"reset throttle counters", identity_store_purge_request_counters,
		 &ctx.settings.throttle_retention_days},
	};
	const us_daemon_spec spec = {
		.name = "usher-identityd",
		.summary = "users, credentials, sessions and self-service profiles",
		.schema = "identity",
		.migrations = identity_migrations,
		.services = services,
		.n_services = IDENTITY_N_SERVICES,
		.config = identity_vars,
		.n_config = sizeof(identity_vars) / sizeof(identity_vars[0]),
		.config_struct = &ctx.settings,
		.request_hash_key = ctx.request_hash_key,
		.principal_lookup = identity_principal_lookup,
		.retention = retention,
		.n_retention = sizeof(retention) / sizeof(retention[0]),
		.ctx = &ctx,
		.start = start,
		.stop = stop,
		.admin_listen = "127.0.0.1:9101",
	};
	return us_daemon_main(&spec, argc, argv);
}
