/* The list of disposable-mail domains (the shipped data/disposable_domains.txt, CC0). */
#ifndef INVITATION_DISPOSABLE_H
#define INVITATION_DISPOSABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "context.h"

/* A set of the domains in list (len bytes: one a line; "#" starts a comment line);
 * *out is owned (invitation_disposable_free() it). */
US_MUST_USE us_err invitation_disposable_load(const char *list, size_t len,
                                              invitation_disposable **out);
void invitation_disposable_free(invitation_disposable *d); /* takes NULL */

/* True when domain, or a domain it is a subdomain of, is in d. */
bool invitation_disposable_has(const invitation_disposable *d, const char *domain);

#endif
