/* Who is calling: the session token a request carries (a cookie for people in a
 * browser, or "Authorization: Bearer" for programs), CSRF tokens, and session cookies. */
#ifndef GATEWAY_SESSION_H
#define GATEWAY_SESSION_H

#include <stdbool.h>

#include "http.h"
#include "usher/v1/identity.pb-c.h"

#define GW_SESSION_COOKIE "usher_session"
#define GW_CSRF_HEADER "X-CSRF-Token"

typedef struct gw_auth {
	const char *token; /* NULL when the request carries none */
	bool via_cookie;   /* ambient: a mutating request needs the CSRF token too */
} gw_auth;

void gw_auth_read(gw_request *req, gw_auth *auth);

/* The CSRF token of a session: a keyed hash of its token, so nothing is stored. */
char *gw_csrf_token(us_arena *a, const char *session_token);

/* May this request change things? True unless it is authenticated by cookie and lacks the
 * session's CSRF token in the X-CSRF-Token header. */
bool gw_csrf_ok(gw_request *req, const gw_auth *auth);

/* A Set-Cookie value holding the session (max_age 0: one that deletes it). */
char *gw_session_cookie(us_arena *a, const char *token, long max_age);

/* Logs in with usher-identityd and adds the session cookie to res. On failure returns the
 * code with the reason in st (us_status_clear() it) and adds nothing. */
US_MUST_USE us_err gw_session_start(gw_request *req, gw_response *res, const char *email,
                                    const char *password, Usher__V1__LoginReply **login,
                                    us_status *st);

/* The signed-in user, resolved with usher-identityd. On failure replies (401 when the
 * request carries no valid session) and returns NULL. */
Usher__V1__User *gw_signed_in(gw_request *req, gw_response *res, const gw_auth *auth);

#endif
