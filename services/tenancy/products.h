/* The product catalogue: the products the platform offers, as data (products.conf,
 * compiled in as the default), so accounts cannot invent product names and adding a
 * product needs no release of tenancyd. */
#ifndef TENANCY_PRODUCTS_H
#define TENANCY_PRODUCTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "context.h"

#define TENANCY_CATALOGUE_FILE_MAX (256 * 1024)
#define TENANCY_CATALOGUE_MAX 1000

typedef struct tenancy_catalogue tenancy_catalogue;

/* Parses len bytes of catalogue text; origin names it in errors. Blank lines and "#"
 * comments are ignored. Returns owned *out (tenancy_catalogue_free()), or
 * INVALID_ARGUMENT with one line in err naming origin:line and the problem. */
US_MUST_USE us_err tenancy_catalogue_parse(const char *text, size_t len, const char *origin,
                                           tenancy_catalogue **out, char *err,
                                           size_t err_size);

/* Reads and parses the file at path, or the built-in default when path is NULL. */
US_MUST_USE us_err tenancy_catalogue_load(const char *path, tenancy_catalogue **out, char *err,
                                          size_t err_size);

bool tenancy_catalogue_has(const tenancy_catalogue *c, const char *product);
size_t tenancy_catalogue_size(const tenancy_catalogue *c);

/* Takes NULL. */
void tenancy_catalogue_free(tenancy_catalogue *c);

/* The daemon's catalogue (ctx->catalogue), shared by the worker threads. Install takes c
 * and frees the one it replaces (NULL: just free the current one, at stop). */
void tenancy_products_install(tenancy_ctx *ctx, tenancy_catalogue *c);

/* tenancy_catalogue_has() on the installed catalogue; safe from any thread. */
bool tenancy_products_offered(tenancy_ctx *ctx, const char *product);

#endif
