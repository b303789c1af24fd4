/* Reading an application/x-www-form-urlencoded body (the invitee's forms). */
#ifndef GATEWAY_FORM_H
#define GATEWAY_FORM_H

#include "common/arena.h"
#include "common/limits.h"

/* The longest field value a form may carry, decoded: a password is the longest. */
#define GATEWAY_FORM_FIELD_MAX US_PASSWORD_MAX_BYTES

/* The field called name of body (NUL-terminated; NULL reads as empty), decoded into a:
 * "" when absent, NULL when malformed (a cut escape, an encoded NUL), longer than
 * GATEWAY_FORM_FIELD_MAX, or out of memory. The first field of that name counts. */
char *gateway_form_value(us_arena *a, const char *body, const char *name);

#endif
