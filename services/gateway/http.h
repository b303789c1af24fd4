/* The gateway's HTTP listener (libmicrohttpd). */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct gateway_http_config {
	char *http_address;
	int64_t http_port;
	int64_t http_max_connections;
	int64_t http_timeout_s;
} gateway_http_config;

/* Starts serving; the listener lives until gateway_http_stop(). */
US_MUST_USE us_err gateway_http_start(const gateway_http_config *cfg, char *err, size_t err_size);

/* Stops the listener; safe when it never started. */
void gateway_http_stop(void);

#endif
