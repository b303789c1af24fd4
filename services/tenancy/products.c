#include "products.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_file.h"

/* The compiled-in products.conf (usher_embed). */
extern const char tenancy_default_products[];
extern const size_t tenancy_default_products_len;

#define PRODUCT_MAX 40

struct tenancy_catalogue {
	char (*names)[PRODUCT_MAX + 1]; /* sorted */
	size_t n;
};

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > PRODUCT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* The one name on [p, end) (comment cut), or len 0 for an empty line; -1 when the line
 * holds more than one word. */
static int line_name(const char *p, const char *end, const char **name, size_t *len)
{
	const char *hash = memchr(p, '#', (size_t)(end - p));
	if (hash != NULL)
		end = hash;
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	*name = p;
	*len = (size_t)(end - p);
	for (const char *q = p; q < end; q++) {
		if (is_blank(*q))
			return -1;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

us_err tenancy_catalogue_parse(const char *text, size_t len, const char *origin,
                               tenancy_catalogue **out, char *err, size_t err_size)
{
	tenancy_catalogue *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->names = calloc(TENANCY_CATALOGUE_MAX, PRODUCT_MAX + 1)) == NULL) {
		tenancy_catalogue_free(c);
		snprintf(err, err_size, "%s: out of memory", origin);
		return US_EEXHAUSTED;
	}
	const char *p = text, *end = text + len;
	for (size_t line = 1; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		const char *name;
		size_t name_len;
		const char *why = NULL;
		if (line_name(p, eol, &name, &name_len) != 0)
			why = "expected one product name";
		else if (name_len > 0 && !name_ok(name, name_len))
			why = "a product name is 1 to 40 of a-z, 0-9, _ . -";
		else if (name_len > 0 && c->n == TENANCY_CATALOGUE_MAX)
			why = "too many products";
		if (why != NULL) {
			snprintf(err, err_size, "%s:%zu: %s", origin, line, why);
			tenancy_catalogue_free(c);
			return US_EINVAL;
		}
		if (name_len > 0) {
			memcpy(c->names[c->n], name, name_len);
			c->names[c->n++][name_len] = '\0';
		}
		p = eol + 1;
	}
	qsort(c->names, c->n, PRODUCT_MAX + 1, by_name);
	for (size_t i = 1; i < c->n; i++) {
		if (strcmp(c->names[i], c->names[i - 1]) == 0) {
			snprintf(err, err_size, "%s: product \"%s\" is listed twice", origin, c->names[i]);
			tenancy_catalogue_free(c);
			return US_EINVAL;
		}
	}
	*out = c;
	return US_OK;
}

us_err tenancy_catalogue_load(const char *path, tenancy_catalogue **out, char *err,
                              size_t err_size)
{
	if (path == NULL)
		return tenancy_catalogue_parse(tenancy_default_products,
		                               tenancy_default_products_len, "products.conf (built in)",
		                               out, err, err_size);
	char *text;
	size_t len;
	us_err rc = tenancy_conf_read(path, TENANCY_CATALOGUE_FILE_MAX, &text, &len, err, err_size);
	if (rc != US_OK)
		return rc;
	rc = tenancy_catalogue_parse(text, len, path, out, err, err_size);
	free(text);
	return rc;
}

bool tenancy_catalogue_has(const tenancy_catalogue *c, const char *product)
{
	if (strlen(product) > PRODUCT_MAX)
		return false;
	return bsearch(product, c->names, c->n, PRODUCT_MAX + 1, by_name) != NULL;
}

size_t tenancy_catalogue_size(const tenancy_catalogue *c)
{
	return c->n;
}

void tenancy_catalogue_free(tenancy_catalogue *c)
{
	if (c == NULL)
		return;
	free(c->names);
	free(c);
}

void tenancy_products_install(tenancy_ctx *ctx, tenancy_catalogue *c)
{
	pthread_rwlock_wrlock(&ctx->rules_lock);
	tenancy_catalogue *old = ctx->catalogue;
	ctx->catalogue = c;
	pthread_rwlock_unlock(&ctx->rules_lock);
	tenancy_catalogue_free(old);
}

bool tenancy_products_offered(tenancy_ctx *ctx, const char *product)
{
	pthread_rwlock_rdlock(&ctx->rules_lock);
	bool has = ctx->catalogue != NULL && tenancy_catalogue_has(ctx->catalogue, product);
	pthread_rwlock_unlock(&ctx->rules_lock);
	return has;
}
