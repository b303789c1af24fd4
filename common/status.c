#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void us_status_init(us_status *st)
{
	memset(st, 0, sizeof(*st));
}

void us_status_clear(us_status *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_violations; i++) {
		free(st->violations[i].field);
		free(st->violations[i].description);
	}
	free(st->violations);
	us_status_init(st);
}

us_err us_status_set(us_status *st, us_err code, const char *fmt, ...)
{
	st->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
	return code;
}

void us_status_add_violation(us_status *st, const char *field, const char *fmt, ...)
{
	if (st->n_violations >= US_STATUS_VIOLATIONS_MAX)
		return;
	if (st->n_violations % 8 == 0) {
		us_violation *grown = realloc(st->violations,
		                              (st->n_violations + 8) * sizeof(us_violation));
		if (grown == NULL)
			return;
		st->violations = grown;
	}
	char description[US_STATUS_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(description, sizeof(description), fmt, ap);
	va_end(ap);
	us_violation *v = &st->violations[st->n_violations];
	v->field = strdup(field);
	v->description = strdup(description);
	if (v->field == NULL || v->description == NULL) {
		free(v->field);
		free(v->description);
		return;
	}
	st->n_violations++;
}

const char *us_status_violation(const us_status *st, const char *field)
{
	for (size_t i = 0; i < st->n_violations; i++) {
		if (strcmp(st->violations[i].field, field) == 0)
			return st->violations[i].description;
	}
	return NULL;
}
