/* Reading an application/x-www-form-urlencoded body (the invitee's forms). */
#ifndef GATEWAY_FORM_H
#define GATEWAY_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "common/limits.h"

/* The longest field value a form may carry, decoded: a password is the longest. */
#define GATEWAY_FORM_FIELD_MAX US_PASSWORD_MAX_BYTES

/* The field called name of body (NUL-terminated; NULL reads as empty), decoded into a:
 * "" when absent, NULL when malformed (a cut escape, an encoded NUL), longer than
 * GATEWAY_FORM_FIELD_MAX, or out of memory. The first field of that name counts. */
char *gateway_form_value(us_arena *a, const char *body, const char *name);
/* The same for a field that may be longer (a pasted list of addresses): at most max bytes
 * decoded. */
char *gateway_form_value_up_to(us_arena *a, const char *body, const char *name, size_t max);

/* Splits list in place at its commas into out (empty items skipped), at most max items;
 * sets *n. False when it holds more than max. Reentrant: uploads are read on several
 * threads at once (strtok() shares one position between them). */
bool gateway_form_split_list(char *list, char **out, size_t max, size_t *n);

#endif
