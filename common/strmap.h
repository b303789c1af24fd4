/* A hash map from borrowed NUL-terminated strings to borrowed values, for sets and
 * lookups over large batches (50,000 addresses) in linear time. */
#ifndef US_STRMAP_H
#define US_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct us_strmap us_strmap;

/* A map sized for about expected entries (it grows past that). NULL when out of memory.
 * Free with us_strmap_free(). */
us_strmap *us_strmap_new(size_t expected);
void us_strmap_free(us_strmap *m); /* takes NULL; frees no key or value */

/* Adds key → value (both borrowed: they must outlive the map). Returns 1 when added,
 * 0 when the key was there already (its value unchanged), -1 when out of memory. */
int us_strmap_put(us_strmap *m, const char *key, void *value);

/* True when key is present; *value (may be NULL) gets its value. */
bool us_strmap_get(const us_strmap *m, const char *key, void **value);

size_t us_strmap_count(const us_strmap *m);

#endif
