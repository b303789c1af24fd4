/* The shipped list of disposable-mail domains (data/disposable_domains.txt, CC0). */
#ifndef INVITATION_DISPOSABLE_H
#define INVITATION_DISPOSABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

US_MUST_USE us_err inv_disposable_load(char *err, size_t err_size);
void inv_disposable_free(void);

/* True when domain, or a domain it is a subdomain of, is on the list. */
bool inv_disposable_domain(const char *domain);

#endif
