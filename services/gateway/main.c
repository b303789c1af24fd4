/* usher-gatewayd: the HTTP/JSON front door for people and platforms; see
 * docs/architecture.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/daemon.h"
#include "http.h"
#include "openapi.h"
#include "proxies.h"
#include "context.h"
#include "common/token.h"

#define SETTING(name, type, field, flags, fallback, min, max, check, help)                      \
	{name, type, offsetof(gateway_settings, field), flags, fallback, min, max, check, help}

static const char *trusted_proxies_check(const char *value)
{
	gateway_proxies parsed;
	return gateway_proxies_parse(value, &parsed);
}

static const us_config_var gateway_vars[] = {
	SETTING("HTTP_ADDRESS", US_CONFIG_STRING, http_address, 0, "127.0.0.1", 2, 45,
	        gateway_http_check_address,
	        "IPv4 or IPv6 address to serve HTTP on (\"::\": every address, IPv4 and IPv6)"),
	SETTING("HTTP_PORT", US_CONFIG_INT, http_port, 0, "8080", 0, 65535, NULL,
	        "TCP port to serve HTTP on (0: any free port, logged)"),
	SETTING("HTTP_THREADS", US_CONFIG_INT, http_threads, 0, "8", 1, 256, NULL,
	        "threads serving HTTP requests"),
	SETTING("HTTP_MAX_CONNECTIONS", US_CONFIG_INT, http_max_connections, 0, "512", 1, 65536, NULL,
	        "concurrent HTTP connections"),
	SETTING("HTTP_TIMEOUT_S", US_CONFIG_INT, http_timeout_s, 0, "30", 1, 3600, NULL,
	        "a connection idle this long is closed"),
	SETTING("HTTP_MAX_BODY_BYTES", US_CONFIG_INT, http_max_body_bytes, 0, "4194304", 1024,
	        64 * 1024 * 1024, NULL, "largest JSON request body (413 beyond)"),
	SETTING("HTTP_MAX_UPLOAD_BYTES", US_CONFIG_INT, http_max_upload_bytes, 0, "33554432", 1024,
	        1024 * 1024 * 1024, NULL, "largest CSV upload (413 beyond)"),
	SETTING("HTTP_MAX_BODY_MEMORY", US_CONFIG_INT, http_max_body_memory, 0, "134217728",
	        1024 * 1024, INT64_C(64) * 1024 * 1024 * 1024, NULL,
	        "request bodies held at once by all connections (503 beyond)"),
	SETTING("HTTP_MAX_HEADER_BYTES", US_CONFIG_INT, http_max_header_bytes, 0, "32768", 4096,
	        1024 * 1024, NULL, "memory for a request's headers (431 beyond)"),
	SETTING("PUBLIC_BASE_URL", US_CONFIG_STRING, public_base_url, 0, "http://127.0.0.1:8080", 8,
	        200, NULL, "where people reach this gateway; https makes cookies Secure"),
	SETTING("GATEWAY_CSRF_KEY", US_CONFIG_STRING, csrf_key_hex, US_CONFIG_REQUIRED | US_CONFIG_SECRET,
	        NULL, 64, 64, us_token_check_key_hex, "64 hex digits: the key CSRF tokens derive from"),
	SETTING("IDENTITY_RPC_URL", US_CONFIG_STRING, identity_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	        us_config_check_nng_urls, "address of usher-identityd"),
	SETTING("TENANCY_RPC_URL", US_CONFIG_STRING, tenancy_url, US_CONFIG_REQUIRED, NULL, 1, 0,
	        us_config_check_nng_urls, "address of usher-tenancyd"),
	SETTING("INVITATION_RPC_URL", US_CONFIG_STRING, invitation_url, US_CONFIG_REQUIRED, NULL, 1,
	        0, us_config_check_nng_urls, "address of usher-invitationd"),
	SETTING("NOTIFICATION_RPC_URL", US_CONFIG_STRING, notification_url, US_CONFIG_REQUIRED, NULL,
	        1, 0, us_config_check_nng_urls, "address of usher-notificationd (events, webhooks)"),
	SETTING("TRUSTED_PROXIES", US_CONFIG_STRING, trusted_proxies, 0, NULL, 1, 2000,
	        trusted_proxies_check,
	        "reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For "
	        "names the client; unset: the socket's peer is the client"),
};

static void stop(void *ctx)
{
	gateway_ctx *gateway = ctx;
	gateway_http_stop(gateway);
	for (int i = 0; i < GATEWAY_N_BACKENDS; i++) {
		us_rpc_client_close(gateway->backends[i]);
		gateway->backends[i] = NULL;
	}
	sodium_memzero(gateway->csrf_key, sizeof(gateway->csrf_key));
}

static us_err start(void *ctx, const us_daemon_config *cfg, char *err, size_t err_size)
{
	gateway_ctx *gateway = ctx;
	(void)cfg;
	if (us_token_key_from_hex(gateway->cfg.csrf_key_hex, gateway->csrf_key) != 0) {
		snprintf(err, err_size, "GATEWAY_CSRF_KEY: must be 64 hex digits");
		return US_EINVAL;
	}
	if (gateway->cfg.http_max_body_memory < gateway->cfg.http_max_upload_bytes ||
	    gateway->cfg.http_max_body_memory < gateway->cfg.http_max_body_bytes) {
		snprintf(err, err_size, "HTTP_MAX_BODY_MEMORY: must be at least HTTP_MAX_UPLOAD_BYTES "
		                        "and HTTP_MAX_BODY_BYTES, or no such body could ever be read");
		return US_EINVAL;
	}
	gateway->secure_cookies = strncmp(gateway->cfg.public_base_url, "https://", 8) == 0;
	const char *why = gateway_proxies_parse(gateway->cfg.trusted_proxies, &gateway->proxies);
	if (why != NULL) {
		snprintf(err, err_size, "TRUSTED_PROXIES: %s", why);
		return US_EINVAL;
	}
	const char *urls[GATEWAY_N_BACKENDS] = {gateway->cfg.identity_url, gateway->cfg.tenancy_url,
	                                        gateway->cfg.invitation_url,
	                                        gateway->cfg.notification_url};
	us_err rc = US_OK;
	for (int i = 0; i < GATEWAY_N_BACKENDS && rc == US_OK; i++) {
		us_rpc_client_opts opts = {.url = urls[i], .caller = "usher-gatewayd",
		                           .wait_for_server = true};
		rc = us_rpc_client_open(&opts, &gateway->backends[i], err, err_size);
	}
	if (rc == US_OK)
		rc = gateway_http_start(gateway, err, err_size);
	if (rc != US_OK)
		stop(ctx);
	return rc;
}

/* --openapi: the HTTP API's OpenAPI document on stdout, with no setting needed. */
static int print_openapi(void)
{
	json_t *doc = gateway_openapi_document();
	int rc = doc != NULL && json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_SORT_KEYS) == 0 ? 0 : 1;
	json_decref(doc);
	putchar('\n');
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--openapi") == 0)
		return print_openapi();
	gateway_ctx gateway = {0};
	const us_admin_peer peers[] = {
		{"usher-identityd", &gateway.backends[GATEWAY_IDENTITY]},
		{"usher-tenancyd", &gateway.backends[GATEWAY_TENANCY]},
		{"usher-invitationd", &gateway.backends[GATEWAY_INVITATION]},
	};
	const us_daemon_spec spec = {
		.name = "usher-gatewayd",
		.summary = "HTTP/JSON gateway for people and platforms",
		.config = gateway_vars,
		.n_config = sizeof(gateway_vars) / sizeof(gateway_vars[0]),
		.config_struct = &gateway.cfg,
		.ctx = &gateway,
		.start = start,
		.stop = stop,
		.admin_listen = "127.0.0.1:9105",
		.peers = peers,
		.n_peers = sizeof(peers) / sizeof(peers[0]),
	};
	return us_daemon_main(&spec, argc, argv);
}
