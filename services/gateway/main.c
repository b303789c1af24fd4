/* usher-gatewayd: the HTTP/JSON front door; see docs/architecture.md. */
#include <stddef.h>

#include "daemon.h"
#include "http.h"

static gateway_http_config http_config;

static const us_config_var gateway_vars[] = {
	{"HTTP_ADDRESS", US_CONFIG_STRING, offsetof(gateway_http_config, http_address), 0,
	 "127.0.0.1", 7, 15, NULL, "IPv4 address to serve HTTP on"},
	{"HTTP_PORT", US_CONFIG_INT, offsetof(gateway_http_config, http_port), 0, "8080", 0, 65535,
	 NULL, "TCP port to serve HTTP on (0: any free port)"},
	{"HTTP_MAX_CONNECTIONS", US_CONFIG_INT, offsetof(gateway_http_config, http_max_connections),
	 0, "512", 1, 65536, NULL, "concurrent HTTP connections"},
	{"HTTP_TIMEOUT_S", US_CONFIG_INT, offsetof(gateway_http_config, http_timeout_s), 0, "30", 1,
	 3600, NULL, "idle HTTP connection timeout, seconds"},
};

static us_err start(const us_daemon_config *cfg, char *err, size_t err_size)
{
	(void)cfg;
	return gateway_http_start(&http_config, err, err_size);
}

int main(int argc, char **argv)
{
	const us_daemon_spec spec = {
		.name = "usher-gatewayd",
		.summary = "HTTP/JSON gateway for people and platforms",
		.config = gateway_vars,
		.n_config = sizeof(gateway_vars) / sizeof(gateway_vars[0]),
		.config_struct = &http_config,
		.start = start,
		.stop = gateway_http_stop,
	};
	return us_daemon_main(&spec, argc, argv);
}
