/* Who is calling: the session token a request carries (a cookie for people in a
 * browser, or "Authorization: Bearer" for programs), CSRF tokens, and session cookies. */
#ifndef GATEWAY_SESSION_H
#define GATEWAY_SESSION_H

#include <stdbool.h>

#include "http.h"
#include "usher/v1/identity.pb-c.h"

#define GATEWAY_SESSION_COOKIE "usher_session"
#define GATEWAY_CSRF_HEADER "X-CSRF-Token"

typedef struct gateway_auth {
	const char *token; /* NULL when the request carries none */
	bool via_cookie;   /* ambient: a mutating request needs the CSRF token too */
} gateway_auth;

void gateway_session_auth_read(gateway_request *req, gateway_auth *auth);

/* The CSRF token of a session: a keyed hash of its token, so nothing is stored. */
char *gateway_session_csrf_token(const gateway_ctx *ctx, us_arena *a, const char *session_token);

/* May this request change things? True unless it is authenticated by cookie and lacks the
 * session's CSRF token in the X-CSRF-Token header. */
bool gateway_session_csrf_ok(gateway_request *req, const gateway_auth *auth);

/* A Set-Cookie value holding the session (max_age 0: one that deletes it). */
char *gateway_session_cookie(const gateway_ctx *ctx, us_arena *a, const char *token, long max_age);

/* Logs in with usher-identityd and adds the session cookie to res. On failure returns the
 * code with the reason in st (us_status_clear() it) and adds nothing. */
US_MUST_USE us_err gateway_session_start(gateway_request *req, gateway_response *res, const char *email,
                                    const char *password, Usher__V1__LoginReply **login,
                                    us_status *st);

/* The signed-in user, resolved with usher-identityd. On failure replies (401 when the
 * request carries no valid session) and returns NULL. */
Usher__V1__User *gateway_session_signed_in(gateway_request *req, gateway_response *res, const gateway_auth *auth);

#endif
