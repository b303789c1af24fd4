#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "log.h"

static struct MHD_Daemon *http_daemon;

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *body)
{
	struct MHD_Response *res = MHD_create_response_from_buffer(strlen(body), (void *)body,
	                                                           MHD_RESPMEM_PERSISTENT);
	if (res == NULL)
		return MHD_NO;
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, status, res);
	MHD_destroy_response(res);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/livez") == 0 || strcmp(url, "/readyz") == 0)
		return send_text(conn, MHD_HTTP_OK, "ok\n");
	return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

us_err gateway_http_start(const gateway_http_config *cfg, char *err, size_t err_size)
{
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)cfg->http_port);
	if (inet_pton(AF_INET, cfg->http_address, &addr.sin_addr) != 1) {
		snprintf(err, err_size, "HTTP_ADDRESS: \"%s\" is not an IPv4 address", cfg->http_address);
		return US_EINVAL;
	}
	http_daemon = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)cfg->http_port, NULL,
	        NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->http_max_connections,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->http_timeout_s, MHD_OPTION_END);
	if (http_daemon == NULL) {
		snprintf(err, err_size, "could not listen on http://%s:%lld", cfg->http_address,
		         (long long)cfg->http_port);
		return US_EUNAVAILABLE;
	}
	char port[16];
	snprintf(port, sizeof(port), "%lld", (long long)cfg->http_port);
	us_log_fields(US_LOG_INFO, "http listening", "address", cfg->http_address, "port", port, NULL);
	return US_OK;
}

void gateway_http_stop(void)
{
	if (http_daemon != NULL) {
		MHD_stop_daemon(http_daemon);
		http_daemon = NULL;
	}
}
