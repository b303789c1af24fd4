/* The invitee's web pages: a browser opening an invitation's link gets a page (not JSON)
 * saying who invited them to what, with a form to accept (signing up, or signing in with
 * their password) and a button to decline. The forms post back here; no script runs. */
#ifndef GATEWAY_PAGE_H
#define GATEWAY_PAGE_H

#include <stdbool.h>

#include "http.h"

#define GW_FORM_FIELD_MAX 1024

/* The field called name of an application/x-www-form-urlencoded body (the first, when
 * there are several), decoded, in a: "" when absent, NULL when malformed (a cut escape,
 * an escaped NUL) or longer than GW_FORM_FIELD_MAX bytes decoded. */
char *gw_form_value(us_arena *a, const char *body, const char *name);

/* True when the request prefers HTML (a browser following a link). */
bool gw_page_wanted(gw_request *req);

/* GET /i/<token> for a browser. */
void gw_page_invitation(gw_request *req, gw_response *res, char *token);

/* POST /i/<token>/accept-form and /i/<token>/decline-form (form-encoded bodies). */
void gw_page_accept(gw_request *req, gw_response *res, char *token);
void gw_page_decline(gw_request *req, gw_response *res, char *token);

#endif
