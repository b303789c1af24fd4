/* The gateway's HTTP plumbing (libmicrohttpd): requests with bounded bodies, routing,
 * and JSON replies with the headers every response carries. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "arena.h"
#include "caller_key.h"
#include "err.h"
#include "status.h"

typedef struct gw_request {
	struct MHD_Connection *conn;
	us_arena *arena;     /* freed with the request */
	const char *method;
	const char *path;
	char *body;          /* NUL-terminated; a streaming route's is not kept */
	size_t body_len;
	size_t received;     /* bytes of the body read so far, kept or not */
	size_t reserved;     /* of HTTP_MAX_BODY_MEMORY, released when the request ends */
	bool replied_early;  /* before the body, which is then never read */
	bool skipping;       /* the rest of the body is read and dropped */
	unsigned skip_status; /* 413 or 503 to answer then; 0: the handler answers */
	char client_address[64];
	int64_t started_ms;
	const struct gw_route *route; /* NULL: no route (the reply says why) */
	unsigned no_route_status;
	void *upload;                 /* a streaming route's state */
	void (*upload_free)(void *);
	/* A service principal's key from "Authorization: Bearer usk_...": the request's calls
	 * are signed with it, so each daemon sees the principal itself. NULL for people. */
	const us_caller_key *api_key;
} gw_request;

typedef struct gw_response {
	unsigned status;
	json_t *json;            /* owned: the body */
	const char *cookies[2];  /* Set-Cookie values, in the request's arena */
	size_t n_cookies;
	bool no_referrer;        /* for pages whose URL holds a secret */
	char *raw;               /* instead of json: a body in the request's arena */
	size_t raw_len;
	const char *content_type;
	const char *disposition; /* Content-Disposition, for downloads */
	unsigned retry_after_s;  /* Retry-After, when not 0 */
} gw_response;

/* Starts serving with the settings in gw.cfg. */
US_MUST_USE us_err gateway_http_start(char *err, size_t err_size);
void gateway_http_stop(void); /* safe when never started */

/* A request header, or NULL. */
const char *gw_header(gw_request *req, const char *name);
/* A cookie, or NULL. */
const char *gw_cookie(gw_request *req, const char *name);

/* The body as a JSON object; on failure replies 400 and returns NULL. An empty body
 * reads as {}. The result belongs to the caller (json_decref). */
json_t *gw_body_json(gw_request *req, gw_response *res);

void gw_reply_json(gw_response *res, unsigned status, json_t *json); /* takes json */
/* {"code": "...", "message": "...", "violations": [...]} with the matching HTTP status. */
void gw_reply_error(gw_response *res, us_err code, const char *message, const us_status *st);
/* The HTTP status for an RPC status code. */
unsigned gw_http_status(us_err code);

#endif
