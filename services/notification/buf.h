/* A growable byte buffer for building messages and statements. Appends never fail
 * loudly: the first allocation failure marks the buffer, later appends do nothing, and
 * the caller checks buf_failed() once at the end (curl's dynbuf habit). */
#ifndef NOTIFICATION_BUF_H
#define NOTIFICATION_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct buf {
	char *data; /* NUL-terminated once anything was appended; owned */
	size_t len;
	size_t cap;
	bool failed;
} buf;

#define BUF_INIT {NULL, 0, 0, false}

void buf_append(buf *b, const void *data, size_t len);
void buf_puts(buf *b, const char *s);
void buf_putc(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool buf_failed(const buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(buf *b);
/* Frees the memory; the buffer is empty and usable again. */
void buf_free(buf *b);

#endif
