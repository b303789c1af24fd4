/* Reading tenancyd's data files (the permission matrix, the product catalogue). */
#ifndef TENANCY_CONF_FILE_H
#define TENANCY_CONF_FILE_H

#include <stddef.h>

#include "common/err.h"

/* Reads the file at path, at most max bytes. Returns owned *text (free()) and its
 * length, or INVALID_ARGUMENT with one line in err naming the file and the problem. */
US_MUST_USE us_err tenancy_conf_read(const char *path, size_t max, char **text, size_t *len,
                                     char *err, size_t err_size);

#endif
