/* The gateway's HTTP plumbing (libmicrohttpd): requests with bounded bodies, routing,
 * and JSON replies with the headers every response carries. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/caller_key.h"
#include "common/err.h"
#include "common/status.h"
#include "common/trace.h"
#include "context.h"

typedef struct gateway_request {
	const gateway_ctx *ctx; /* the daemon's state */
	struct MHD_Connection *conn;
	us_arena *arena;     /* freed with the request */
	const char *method;
	const char *path;
	us_buf body;         /* NUL-terminated once anything arrived; limited to the body's max */
	size_t body_len;     /* bytes of the body read so far (a streaming route keeps none of
	                      * them in body) */
	size_t reserved;     /* of HTTP_MAX_BODY_MEMORY, released when the request ends */
	bool replied_early;  /* before the body, which is then never read */
	bool skipping;       /* the rest of the body is read and dropped */
	unsigned skip_status; /* 413 or 503 to answer then; 0: the handler answers */
	char client_address[64];
	int64_t started_ms;
	int64_t started_us;
	const struct gateway_route *route; /* NULL: no route (the reply says why) */
	unsigned no_route_status;
	void *upload;                 /* a streaming route's state */
	void (*upload_free)(void *);
	/* A service principal's key from "Authorization: Bearer usk_...": the request's calls
	 * are signed with it, so each daemon sees the principal itself. NULL for people. */
	const us_caller_key *api_key;
	/* The caller's X-Request-Id when valid (trace.h), else a new one: returned on the
	 * response and carried to every daemon. */
	char request_id[US_REQUEST_ID_MAX + 1];
	/* This hop's W3C traceparent: the caller's trace continued, or a new one. */
	char traceparent[US_TRACEPARENT_SIZE];
} gateway_request;

typedef struct gateway_response {
	unsigned status;
	json_t *json;            /* owned: the body */
	const char *cookies[2];  /* Set-Cookie values, in the request's arena */
	size_t n_cookies;
	bool no_referrer;        /* for pages whose URL holds a secret */
	char *raw;               /* instead of json: a body in the request's arena */
	char *owned;             /* instead of json or raw: a malloc'd body, owned */
	size_t raw_len;          /* the length of raw or owned */
	/* Instead of json or raw: a body of unknown length, sent chunked as the reader writes
	 * it (libmicrohttpd's response from callback). stream_free frees stream_cls, once,
	 * whether or not the body was ever sent. */
	MHD_ContentReaderCallback stream;
	void *stream_cls;
	MHD_ContentReaderFreeCallback stream_free;
	const char *content_type;
	const char *disposition; /* Content-Disposition, for downloads */
	const char *location;    /* Location, for a redirect; NULL: none */
	unsigned retry_after_s;  /* Retry-After, when not 0 */
} gateway_response;

/* NULL when address is a valid HTTP_ADDRESS (an IPv4 or IPv6 literal), else the reason. */
const char *gateway_http_check_address(const char *address);

/* Starts serving with the settings in ctx->cfg, handing ctx to every request. */
US_MUST_USE us_err gateway_http_start(gateway_ctx *ctx, char *err, size_t err_size);
void gateway_http_stop(gateway_ctx *ctx); /* safe when never started */

/* A request header, or NULL. */
const char *gateway_http_header(gateway_request *req, const char *name);
/* A cookie, or NULL. */
const char *gateway_http_cookie(gateway_request *req, const char *name);

/* The body as a JSON object; on failure replies 400 and returns NULL. An empty body
 * reads as {}. The result belongs to the caller (json_decref). */
json_t *gateway_http_body_json(gateway_request *req, gateway_response *res);

void gateway_http_reply_json(gateway_response *res, unsigned status, json_t *json); /* takes json */
/* {"code": "...", "message": "...", "violations": [...]} with the matching HTTP status. */
void gateway_http_reply_error(gateway_response *res, us_err code, const char *message, const us_status *st);
/* The HTTP status for an RPC status code. */
unsigned gateway_http_status(us_err code);

#endif
