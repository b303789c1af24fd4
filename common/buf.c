#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(us_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	size_t limit = b->limit ? b->limit : US_BUF_LIMIT;
	if (extra > limit - b->len) {
		b->failed = true;
		return false;
	}
	if (b->len + extra + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	if (cap > limit + 1)
		cap = limit + 1;
	char *data = realloc(b->data, cap);
	if (data == NULL) {
		b->failed = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void us_buf_append(us_buf *b, const void *data, size_t len)
{
	if (!reserve(b, len))
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void us_buf_puts(us_buf *b, const char *s)
{
	us_buf_append(b, s, strlen(s));
}

void us_buf_putc(us_buf *b, char c)
{
	us_buf_append(b, &c, 1);
}

void us_buf_printf(us_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0) {
		b->failed = true;
		return;
	}
	if (!reserve(b, (size_t)need))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)need + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)need;
}

bool us_buf_failed(const us_buf *b)
{
	return b->failed;
}

void us_buf_reset(us_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void us_buf_free(us_buf *b)
{
	free(b->data);
	*b = (us_buf)US_BUF_WITH_LIMIT(b->limit);
}
