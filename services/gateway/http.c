#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "proxies.h"
#include "routes.h"
#include "context.h"

/* A streamed body reserves its share of HTTP_MAX_BODY_MEMORY in steps of this much. */
#define RESERVE_STEP (64 * 1024)

unsigned gateway_http_status(us_err code)
{
	switch (code) {
	case US_OK: return 200;
	case US_ECANCELLED: return 499;
	case US_EINVAL:
	case US_EPRECONDITION:
	case US_ERANGE: return 400;
	case US_EUNAUTHENTICATED: return 401;
	case US_EDENIED: return 403;
	case US_ENOTFOUND: return 404;
	case US_EEXISTS:
	case US_EABORTED: return 409;
	case US_EEXHAUSTED: return 429;
	case US_EUNIMPLEMENTED: return 501;
	case US_EUNAVAILABLE: return 503;
	case US_EDEADLINE: return 504;
	default: return 500;
	}
}

void gateway_http_reply_json(gateway_response *res, unsigned status, json_t *json)
{
	json_decref(res->json);
	res->status = status;
	res->json = json;
}

void gateway_http_reply_error(gateway_response *res, us_err code, const char *message, const us_status *st)
{
	json_t *violations = json_array();
	for (size_t i = 0; st != NULL && i < st->n_violations; i++)
		json_array_append_new(violations, json_pack("{s:s, s:s}", "field", st->violations[i].field,
		                                             "description",
		                                             st->violations[i].description));
	json_t *body = json_pack("{s:s, s:s, s:o}", "code", us_err_name(code), "message",
	                         code == US_EINTERNAL ? "internal error" : message, "violations",
	                         violations);
	gateway_http_reply_json(res, gateway_http_status(code), body);
}

const char *gateway_http_header(gateway_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *gateway_http_cookie(gateway_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

json_t *gateway_http_body_json(gateway_request *req, gateway_response *res)
{
	if (req->body_len == 0)
		return json_object();
	json_error_t jerr;
	json_t *doc = json_loadb(req->body.data, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		char message[256];
		snprintf(message, sizeof(message), "malformed JSON at line %d, column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		gateway_http_reply_error(res, US_EINVAL, message, NULL);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		gateway_http_reply_error(res, US_EINVAL, "the body must be a JSON object", NULL);
		return NULL;
	}
	return doc;
}

/* Keeps the value of the last X-Forwarded-For header: the one the nearest proxy wrote. */
static enum MHD_Result last_forwarded_for(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
	(void)kind;
	if (strcasecmp(key, "X-Forwarded-For") == 0)
		*(const char **)cls = value;
	return MHD_YES;
}

static void client_address(const gateway_ctx *ctx, struct MHD_Connection *conn, char *out,
                           size_t size)
{
	const union MHD_ConnectionInfo *info =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char peer[GATEWAY_ADDRESS_TEXT_MAX] = "";
	const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof(peer));
	else if (sa != NULL && sa->sa_family == AF_INET6 &&
	         IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr))
		/* An IPv4 client of a dual-stack socket: its plain address, as TRUSTED_PROXIES
		 * names it. */
		inet_ntop(AF_INET, &((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[12], peer,
		          sizeof(peer));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof(peer));
	const char *forwarded = NULL;
	if (ctx->proxies.n > 0)
		MHD_get_connection_values(conn, MHD_HEADER_KIND, last_forwarded_for, &forwarded);
	gateway_proxies_client(&ctx->proxies, peer, forwarded, out, size);
}

/* Is the request's Content-Type application/json (parameters allowed)? A cross-site form
 * can send only form encodings and text/plain, so JSON routes refuse everything else. */
static bool json_content_type(gateway_request *req)
{
	const char *type = gateway_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	static const char json[] = "application/json";
	if (type == NULL)
		return false;
	type += strspn(type, " \t");
	if (strncasecmp(type, json, sizeof(json) - 1) != 0)
		return false;
	char next = type[sizeof(json) - 1];
	return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* The block a streamed body is read in: a few rows of CSV at a time. */
#define STREAM_BLOCK_BYTES (32 * 1024)

static struct MHD_Response *make_body(gateway_response *res)
{
	if (res->stream != NULL) {
		struct MHD_Response *r = MHD_create_response_from_callback(
		        MHD_SIZE_UNKNOWN, STREAM_BLOCK_BYTES, res->stream, res->stream_cls,
		        res->stream_free);
		if (r == NULL)
			res->stream_free(res->stream_cls);
		res->stream = NULL; /* the response owns stream_cls now */
		return r;
	}
	if (res->raw != NULL)
		return MHD_create_response_from_buffer(res->raw_len, res->raw, MHD_RESPMEM_MUST_COPY);
	if (res->owned != NULL) { /* not copied: a large report would be held twice */
		struct MHD_Response *r = MHD_create_response_from_buffer(res->raw_len, res->owned,
		                                                         MHD_RESPMEM_MUST_FREE);
		if (r != NULL)
			res->owned = NULL;
		return r;
	}
	char *text = res->json != NULL ? json_dumps(res->json, JSON_COMPACT) : strdup("{}");
	if (text == NULL)
		return NULL;
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
	                                                         MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		free(text);
	return r;
}

/* The access log line and the HTTP metrics of a request answered with status. */
static void access_log(const gateway_request *req, unsigned status)
{
	int64_t took_us = us_monotonic_us() - req->started_us;
	char status_text[8], took[24];
	snprintf(status_text, sizeof(status_text), "%u", status);
	snprintf(took, sizeof(took), "%lld", (long long)(took_us / 1000));
	/* The route's name, not the path: a path can hold an invitation's token. */
	const char *route = req->route ? req->route->name : "(none)";
	us_log_fields(status >= 500 ? US_LOG_WARN : US_LOG_INFO, "http request", "method",
	              req->method, "route", route, "status", status_text, "ms", took, "client",
	              req->client_address, NULL);
	const char *labels[] = {route, status_text};
	us_metrics_add(us_metrics_family(US_METRIC_COUNTER, "usher_http_requests_total",
	                                 "HTTP requests answered, by route and status", "route,status"),
	               labels, 1);
	us_metrics_observe(us_metrics_family(US_METRIC_HISTOGRAM, "usher_http_request_duration_seconds",
	                                     "time from a request's headers to its response",
	                                     "route"),
	                   labels, (double)took_us / 1e6);
}

static enum MHD_Result send_response(gateway_request *req, gateway_response *res)
{
	struct MHD_Response *r = make_body(res);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        res->content_type ? res->content_type : "application/json; charset=utf-8");
	if (res->disposition != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, res->disposition);
	if (res->location != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, res->location);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (res->no_referrer)
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (res->content_type != NULL && strncmp(res->content_type, "text/html", 9) == 0) {
		/* Pages run no script and only post to the gateway itself. */
		MHD_add_response_header(r, "Content-Security-Policy",
		                        "default-src 'none'; style-src 'unsafe-inline'; "
		                        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
	}
	for (size_t i = 0; i < res->n_cookies; i++)
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, res->cookies[i]);
	if (res->retry_after_s > 0) {
		char retry[16];
		snprintf(retry, sizeof(retry), "%u", res->retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
	}
	/* Returned on every response, errors too, so a person can quote it. */
	MHD_add_response_header(r, "X-Request-Id", req->request_id);
	/* A body left unread (or read and dropped) ends the connection. */
	if (req->skipping || req->replied_early)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(req->conn, res->status, r);
	MHD_destroy_response(r);
	access_log(req, res->status);
	return ret;
}

static enum MHD_Result reply(gateway_request *req, gateway_response *res)
{
	enum MHD_Result ret = send_response(req, res);
	json_decref(res->json);
	free(res->owned);
	return ret;
}

static enum MHD_Result reply_too_large(gateway_request *req)
{
	gateway_response res = {0};
	gateway_http_reply_error(&res, US_EEXHAUSTED, "the request body is too large", NULL);
	res.status = MHD_HTTP_CONTENT_TOO_LARGE;
	return reply(req, &res);
}

static enum MHD_Result reply_busy(gateway_request *req)
{
	gateway_response res = {0};
	gateway_http_reply_error(&res, US_EUNAVAILABLE,
	                         "the gateway is reading too many request bodies; try again shortly",
	                         NULL);
	res.retry_after_s = 5;
	return reply(req, &res);
}

/* Holds at least need bytes of the body budget (ctx->body_memory) for req; false when it
 * is spent. */
static bool reserve(gateway_ctx *ctx, gateway_request *req, size_t need, size_t max)
{
	if (need <= req->reserved)
		return true;
	size_t want = need - req->reserved;
	if (want < RESERVE_STEP)
		want = RESERVE_STEP;
	if (req->reserved + want > max)
		want = max > req->reserved ? max - req->reserved : 0;
	if (req->reserved + want < need)
		return false;
	size_t budget = (size_t)ctx->cfg.http_max_body_memory;
	size_t held = atomic_load(&ctx->body_memory);
	do {
		if (held > budget || want > budget - held)
			return false;
	} while (!atomic_compare_exchange_weak(&ctx->body_memory, &held, held + want));
	req->reserved += want;
	return true;
}

/* The body will not be used: what still comes is read and dropped, and the final call
 * replies (status 0: the handler does). */
static void skip_body(gateway_request *req, unsigned status)
{
	req->skipping = true;
	if (status != 0)
		req->skip_status = status;
}

/* The most a request's body may hold: an upload's limit for a streaming route. */
static size_t body_max(const gateway_request *req)
{
	if (req->route != NULL && req->route->stream != NULL)
		return (size_t)req->ctx->cfg.http_max_upload_bytes;
	return (size_t)req->ctx->cfg.http_max_body_bytes;
}

static enum MHD_Result on_headers(gateway_ctx *ctx, gateway_request *req, size_t max)
{
	const char *length = gateway_http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long declared = length != NULL ? strtoull(length, NULL, 10) : 0;
	if (declared > max) {
		req->replied_early = true;
		return reply_too_large(req);
	}
	if (req->route != NULL && req->route->json && !json_content_type(req)) {
		req->replied_early = true;
		gateway_response res = {0};
		gateway_http_reply_error(&res, US_EINVAL,
		                         "send the body as JSON, with Content-Type: application/json",
		                         NULL);
		res.status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		return reply(req, &res);
	}
	if (req->route != NULL && req->route->stream != NULL) {
		gateway_response res = {.status = 200};
		if (!req->route->stream(req, &res, NULL, 0)) {
			req->replied_early = true;
			return reply(req, &res);
		}
		json_decref(res.json);
	}
	if (declared > 0 && !reserve(ctx, req, (size_t)declared, max)) {
		req->replied_early = true;
		return reply_busy(req);
	}
	return MHD_YES;
}

/* A piece of the body. Past the route's limit the answer is 413, whatever else happened;
 * more than the limit again is not read at all: the connection is cut. */
static enum MHD_Result on_body(gateway_ctx *ctx, gateway_request *req, const char *data,
                               size_t n, size_t max)
{
	req->body_len += n;
	if (req->body_len > max) {
		skip_body(req, MHD_HTTP_CONTENT_TOO_LARGE);
		return req->body_len - max > max ? MHD_NO : MHD_YES;
	}
	if (req->skipping)
		return MHD_YES;
	if (!reserve(ctx, req, req->body_len, max)) {
		skip_body(req, MHD_HTTP_SERVICE_UNAVAILABLE);
		return MHD_YES;
	}
	if (req->route != NULL && req->route->stream != NULL) {
		/* A stream that stops has seen enough to answer (a malformed form, too many
		 * rows): the handler replies with its reason once the rest is dropped. */
		if (!req->route->stream(req, NULL, data, n))
			skip_body(req, 0);
		return MHD_YES;
	}
	us_buf_append(&req->body, data, n);
	return us_buf_failed(&req->body) ? MHD_NO : MHD_YES;
}

/* The request's id and traceparent, from its headers or new. */
static void identify(gateway_request *req)
{
	const char *given = gateway_http_header(req, "X-Request-Id");
	if (given != NULL && us_request_id_valid(given))
		snprintf(req->request_id, sizeof(req->request_id), "%s", given);
	else
		us_request_id_new(req->request_id);
	us_traceparent_next(gateway_http_header(req, "traceparent"), req->traceparent);
}

static enum MHD_Result handle(gateway_ctx *ctx, gateway_request *req, struct MHD_Connection *conn,
                              const char *url, const char *method, const char *upload_data,
                              size_t *upload_data_size, void **req_cls);

/* Every call about a request logs with its id and traceparent. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	(void)version;
	gateway_request *req = *req_cls;
	if (req != NULL) {
		us_log_set_request(req->request_id, NULL);
		us_log_set_trace(req->traceparent);
	}
	enum MHD_Result ret = handle(cls, req, conn, url, method, upload_data, upload_data_size,
	                             req_cls);
	us_log_set_request(NULL, NULL);
	us_log_set_trace(NULL);
	return ret;
}

static enum MHD_Result handle(gateway_ctx *ctx, gateway_request *req, struct MHD_Connection *conn,
                              const char *url, const char *method, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	if (req == NULL) {
		/* Headers only, so far. */
		req = calloc(1, sizeof(*req));
		if (req == NULL || (req->arena = us_arena_new()) == NULL) {
			free(req);
			return MHD_NO;
		}
		req->ctx = ctx;
		req->conn = conn;
		req->started_ms = us_monotonic_ms();
		req->started_us = us_monotonic_us();
		identify(req);
		us_log_set_request(req->request_id, NULL);
		us_log_set_trace(req->traceparent);
		req->method = method;
		req->path = url;
		client_address(ctx, conn, req->client_address, sizeof(req->client_address));
		*req_cls = req;
		req->route = gateway_routes_find(req, &req->no_route_status);
		req->body = (us_buf)US_BUF_WITH_LIMIT(body_max(req));
		return on_headers(ctx, req, body_max(req));
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return req->replied_early ? MHD_YES : on_body(ctx, req, upload_data, n, body_max(req));
	}
	if (req->replied_early)
		return MHD_YES;
	if (req->skipping && req->skip_status == MHD_HTTP_CONTENT_TOO_LARGE)
		return reply_too_large(req);
	if (req->skipping && req->skip_status == MHD_HTTP_SERVICE_UNAVAILABLE)
		return reply_busy(req);
	gateway_response res = {.status = 200};
	if (req->route != NULL) {
		req->route->handler(req, &res);
	} else if (req->no_route_status == 405) {
		gateway_http_reply_error(&res, US_EUNIMPLEMENTED, "method not allowed", NULL);
		res.status = 405;
	} else {
		gateway_http_reply_error(&res, US_ENOTFOUND, "not found", NULL);
	}
	return reply(req, &res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
	(void)conn;
	(void)code;
	gateway_ctx *ctx = cls;
	gateway_request *req = *req_cls;
	if (req == NULL)
		return;
	if (req->upload_free != NULL)
		req->upload_free(req->upload);
	atomic_fetch_sub(&ctx->body_memory, req->reserved);
	us_arena_free(req->arena);
	us_buf_free(&req->body);
	free(req);
	*req_cls = NULL;
}

const char *gateway_http_check_address(const char *address)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address, &v6) == 1)
		return NULL;
	return "must be an IPv4 or IPv6 address (\"::\" serves both)";
}

us_err gateway_http_start(gateway_ctx *ctx, char *err, size_t err_size)
{
	struct sockaddr_storage addr;
	memset(&addr, 0, sizeof(addr));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, ctx->cfg.http_address, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)ctx->cfg.http_port);
	} else if (inet_pton(AF_INET6, ctx->cfg.http_address, &v6->sin6_addr) == 1) {
		/* Dual stack: "::" takes IPv4 clients too. */
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)ctx->cfg.http_port);
		flags |= MHD_USE_DUAL_STACK;
	} else {
		snprintf(err, err_size, "HTTP_ADDRESS: \"%s\" %s", ctx->cfg.http_address,
		         gateway_http_check_address(ctx->cfg.http_address));
		return US_EINVAL;
	}
	ctx->http = MHD_start_daemon(
	        flags, (uint16_t)ctx->cfg.http_port, NULL, NULL, on_request, ctx, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ctx->cfg.http_threads,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned)ctx->cfg.http_max_connections,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ctx->cfg.http_timeout_s,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ctx->cfg.http_max_header_bytes,
	        MHD_OPTION_NOTIFY_COMPLETED, on_completed, ctx, MHD_OPTION_END);
	if (ctx->http == NULL) {
		snprintf(err, err_size, "could not listen on http://%s:%lld", ctx->cfg.http_address,
		         (long long)ctx->cfg.http_port);
		return US_EUNAVAILABLE;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(ctx->http, MHD_DAEMON_INFO_BIND_PORT);
	char port[16];
	snprintf(port, sizeof(port), "%u", info != NULL ? info->port : 0);
	us_log_fields(US_LOG_INFO, "http listening", "address", ctx->cfg.http_address, "port", port, NULL);
	return US_OK;
}

void gateway_http_stop(gateway_ctx *ctx)
{
	if (ctx->http != NULL) {
		MHD_stop_daemon(ctx->http);
		ctx->http = NULL;
	}
}
