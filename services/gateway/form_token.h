/* The form token of pages people use before they are signed in (the invitation, sign-in,
 * password reset, a permanent link): those forms sign people in, so a cross-site form must
 * not be able to post them (login CSRF). The page sets a random token in a SameSite=Strict
 * cookie and in its forms; a post must bring both, equal. Another site can neither read
 * the cookie nor make the browser send it. Signed-in forms carry the session's CSRF token
 * instead (session.h). */
#ifndef GATEWAY_FORM_TOKEN_H
#define GATEWAY_FORM_TOKEN_H

#include <stdbool.h>

#include "http.h"

/* The browser's form token: the one its cookie (cookie_name, on path) holds, or a new one
 * set in res. NULL when out of memory. */
const char *gateway_form_token(gateway_request *req, gateway_response *res,
                               const char *cookie_name, const char *path);

/* Does given equal the token in the cookie? */
bool gateway_form_token_ok(gateway_request *req, const char *cookie_name, const char *given);

#endif
