/* usher-gatewayd's settings and the state its request threads share. */
#ifndef GATEWAY_STATE_H
#define GATEWAY_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "proxies.h"
#include "rpc_client.h"

typedef struct gw_settings {
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
	char *trusted_proxies;
} gw_settings;

enum { GW_IDENTITY, GW_TENANCY, GW_INVITATION, GW_N_BACKENDS };

typedef struct gw_state {
	gw_settings cfg;
	uint8_t csrf_key[32];
	bool secure_cookies; /* PUBLIC_BASE_URL is https */
	gw_proxies proxies;  /* TRUSTED_PROXIES */
	us_rpc_client *backends[GW_N_BACKENDS];
} gw_state;

extern gw_state gw;

#endif
