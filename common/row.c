#include "common/row.h"

#include <stdlib.h>
#include <string.h>

us_row us_row_at(us_arena *arena, const PGresult *res, int row, int base)
{
	return (us_row){arena, res, row, base, false};
}

static const char *value(const us_row *r, int col)
{
	return PQgetvalue(r->res, r->row, r->base + col);
}

bool us_row_null(const us_row *r, int col)
{
	return PQgetisnull(r->res, r->row, r->base + col) != 0;
}

void *us_row_alloc(us_row *r, size_t size)
{
	void *p = us_arena_alloc(r->arena, size);
	if (p == NULL)
		r->failed = true;
	return p;
}

char *us_row_text(us_row *r, int col)
{
	/* PQgetvalue gives "" for NULL. */
	char *s = us_arena_strdup(r->arena, value(r, col));
	if (s == NULL) {
		r->failed = true;
		return (char *)"";
	}
	return s;
}

char *us_row_uuid(us_row *r, int col)
{
	return us_row_text(r, col);
}

char *us_row_timestamp(us_row *r, int col)
{
	return us_row_text(r, col);
}

int64_t us_row_int(us_row *r, int col)
{
	return strtoll(value(r, col), NULL, 10);
}

bool us_row_bool(us_row *r, int col)
{
	return value(r, col)[0] == 't';
}

/* Copies the element at *p (quoted or bare) into out, which has room for it, and moves *p
 * past it. A bare NULL is SQL NULL: it reads as "". */
static void element(const char **p, char *out)
{
	const char *s = *p;
	char *o = out;
	bool quoted = *s == '"';
	if (quoted) {
		for (s++; *s != '\0' && *s != '"'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			*o++ = *s;
		}
		if (*s == '"')
			s++;
	} else {
		while (*s != '\0' && *s != ',' && *s != '}')
			*o++ = *s++;
	}
	*o = '\0';
	if (!quoted && strcmp(out, "NULL") == 0)
		out[0] = '\0';
	*p = s;
}

char **us_row_array(us_row *r, int col, size_t *n)
{
	*n = 0;
	const char *s = value(r, col);
	/* "[1:2]={...}" when the lower bound is not 1. */
	if (*s == '[') {
		const char *eq = strchr(s, '=');
		s = eq != NULL ? eq + 1 : s + strlen(s);
	}
	if (*s != '{' || s[1] == '}' || s[1] == '\0')
		return NULL;
	size_t count = 1;
	bool quoted = false;
	for (const char *p = s + 1; *p != '\0'; p++) {
		if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == ',' && !quoted)
			count++;
	}
	char **items = US_ROW_ARRAY(r, char *, count);
	/* Every element fits in the text's length. */
	char *space = us_row_alloc(r, strlen(s) + count);
	if (items == NULL || space == NULL)
		return NULL;
	const char *p = s + 1;
	for (size_t i = 0; i < count; i++) {
		items[i] = space;
		element(&p, space);
		space += strlen(space) + 1;
		if (*p == ',')
			p++;
	}
	*n = count;
	return items;
}

bool us_row_failed(const us_row *r)
{
	return r->failed;
}
