/* usher-gatewayd's state: its settings and what its request threads share. One struct,
 * built in main.c and handed to libmicrohttpd as its cls; each request carries it
 * (gateway_request.ctx) to what needs it. Filled at start-up, read-only while serving but
 * for body_memory, which the request threads count atomically. */
#ifndef GATEWAY_CONTEXT_H
#define GATEWAY_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/rpc_client.h"
#include "proxies.h"

typedef struct gateway_settings {
	char *http_address;
	int64_t http_port;
	int64_t http_threads;
	int64_t http_max_connections;
	int64_t http_timeout_s;
	int64_t http_max_body_bytes;
	int64_t http_max_upload_bytes;
	int64_t http_max_body_memory;
	int64_t http_max_header_bytes;
	char *public_base_url;
	char *csrf_key_hex;
	char *identity_url;
	char *tenancy_url;
	char *invitation_url;
	char *notification_url;
	char *trusted_proxies;
} gateway_settings;

enum { GATEWAY_IDENTITY, GATEWAY_TENANCY, GATEWAY_INVITATION, GATEWAY_NOTIFICATION, GATEWAY_N_BACKENDS };

struct MHD_Daemon;

typedef struct gateway_ctx {
	gateway_settings cfg;
	uint8_t csrf_key[32];
	bool secure_cookies;       /* PUBLIC_BASE_URL is https */
	gateway_proxies proxies;   /* TRUSTED_PROXIES */
	us_rpc_client *backends[GATEWAY_N_BACKENDS];
	struct MHD_Daemon *http;   /* NULL until serving */
	atomic_size_t body_memory; /* bytes of request bodies all connections hold together
	                            * (HTTP_MAX_BODY_MEMORY) */
} gateway_ctx;

#endif
