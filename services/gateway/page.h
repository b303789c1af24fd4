/* The invitee's web pages: a browser opening an invitation's link gets a page (not JSON)
 * saying who invited them to what, with a form to accept (signing up, or signing in with
 * their password) and a button to decline. The forms post back here; no script runs. */
#ifndef GATEWAY_PAGE_H
#define GATEWAY_PAGE_H

#include <stdbool.h>

#include "http.h"

/* True when the request prefers HTML (a browser following a link). */
bool gateway_page_wanted(gateway_request *req);

/* GET /i/<token> for a browser. */
void gateway_page_invitation(gateway_request *req, gateway_response *res, char *token);

/* POST /i/<token>/accept-form and /i/<token>/decline-form (form-encoded bodies). */
void gateway_page_accept(gateway_request *req, gateway_response *res, char *token);
void gateway_page_decline(gateway_request *req, gateway_response *res, char *token);

#endif
