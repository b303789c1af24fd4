/* An HTTP client for end-to-end tests against usher-gatewayd (libcurl), keeping cookies
 * like a browser and sending the CSRF token it was given. */
#ifndef UT_HTTP_H
#define UT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "harness.h"

typedef struct ut_browser ut_browser;

/* A client of the gateway of sys (started), with an empty cookie jar. */
ut_browser *ut_browser_new(ut_system *sys);
void ut_browser_free(ut_browser *b);

/* The CSRF token sent as X-CSRF-Token on POSTs; NULL sends none. Copied. */
void ut_browser_set_csrf(ut_browser *b, const char *token);

/* The Accept header sent from now on (NULL: none), as a browser sends text/html. Copied. */
void ut_browser_set_accept(ut_browser *b, const char *accept);

/* A header line sent from now on ("Authorization: Bearer ..."); copied. */
void ut_browser_add_header(ut_browser *b, const char *line);
void ut_browser_clear_headers(ut_browser *b);
/* The one extra header line sent from now on, replacing those added before
 * ("X-Forwarded-For: 203.0.113.5"; NULL: none). Copied. */
void ut_browser_set_header(ut_browser *b, const char *line);

typedef struct ut_reply {
	long status;
	char *body;    /* malloc'd, NUL-terminated */
	size_t len;
	json_t *json;  /* the body parsed, or NULL */
	char *headers; /* malloc'd: the response's header lines */
} ut_reply;

/* path is appended to the gateway's base URL. body may be NULL (GET). content_type NULL:
 * application/json. Fails the test when the transfer itself fails. */
void ut_http(ut_browser *b, const char *method, const char *path, const char *body, size_t len,
             const char *content_type, ut_reply *out);
void ut_reply_free(ut_reply *r);

/* GET url: the HTTP status (0 when the transfer failed) and the body (malloc'd, when
 * body is not NULL). */
long ut_url_get(const char *url, char **body);

/* GET path from the daemon's admin HTTP server (ADMIN_LISTEN): as ut_url_get. */
long ut_admin_get(const ut_daemon *d, const char *path, char **body);

/* Polls the daemon's /readyz every 10 ms until it answers 200 (ready) or 503 (not
 * ready); returns how long that took in ms, or -1 after timeout_ms. */
int64_t ut_admin_wait_ready(const ut_daemon *d, bool ready, int timeout_ms);

/* The port the gateway of sys listens on (from its log). */
int ut_gateway_port(ut_system *sys);

#endif
