#include "disposable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strmap.h"

extern const char disposable_domains[];
extern const size_t disposable_domains_len;

static char *text;     /* a writable copy of the list; the map's keys point into it */
static us_strmap *set;

us_err inv_disposable_load(char *err, size_t err_size)
{
	text = malloc(disposable_domains_len + 1);
	set = us_strmap_new(16384);
	if (text == NULL || set == NULL) {
		inv_disposable_free();
		snprintf(err, err_size, "out of memory loading the disposable-domain list");
		return US_EEXHAUSTED;
	}
	memcpy(text, disposable_domains, disposable_domains_len + 1);
	for (char *line = text; line != NULL && *line;) {
		char *next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] != '#' && line[0] != '\0' && us_strmap_put(set, line, NULL) < 0) {
			inv_disposable_free();
			snprintf(err, err_size, "out of memory loading the disposable-domain list");
			return US_EEXHAUSTED;
		}
		line = next;
	}
	return US_OK;
}

void inv_disposable_free(void)
{
	us_strmap_free(set);
	free(text);
	set = NULL;
	text = NULL;
}

bool inv_disposable_domain(const char *domain)
{
	for (const char *d = domain; d != NULL; d = strchr(d, '.')) {
		if (*d == '.')
			d++;
		if (us_strmap_get(set, d, NULL))
			return true;
	}
	return false;
}
