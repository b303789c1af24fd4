#include "disposable.h"

#include <stdlib.h>
#include <string.h>

#include "common/strmap.h"

struct invitation_disposable {
	char *text;    /* a writable copy of the list; the set's keys point into it */
	us_strmap *set;
};

us_err invitation_disposable_load(const char *list, size_t len, invitation_disposable **out)
{
	invitation_disposable *d = calloc(1, sizeof(*d));
	*out = NULL;
	if (d == NULL)
		return US_EEXHAUSTED;
	d->text = malloc(len + 1);
	d->set = us_strmap_new(16384);
	if (d->text == NULL || d->set == NULL) {
		invitation_disposable_free(d);
		return US_EEXHAUSTED;
	}
	memcpy(d->text, list, len);
	d->text[len] = '\0';
	for (char *line = d->text; line != NULL && *line;) {
		char *next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] != '#' && line[0] != '\0' && us_strmap_put(d->set, line, NULL) < 0) {
			invitation_disposable_free(d);
			return US_EEXHAUSTED;
		}
		line = next;
	}
	*out = d;
	return US_OK;
}

void invitation_disposable_free(invitation_disposable *d)
{
	if (d == NULL)
		return;
	us_strmap_free(d->set);
	free(d->text);
	free(d);
}

bool invitation_disposable_has(const invitation_disposable *d, const char *domain)
{
	for (const char *p = domain; p != NULL; p = strchr(p, '.')) {
		if (*p == '.')
			p++;
		if (us_strmap_get(d->set, p, NULL))
			return true;
	}
	return false;
}
