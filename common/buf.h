/* A growable, bounded byte buffer for building messages, pages and statements. Appends
 * never fail loudly: the first failure (out of memory, or growing past the buffer's
 * limit) marks the buffer, later appends do nothing, and the caller checks
 * us_buf_failed() once at the end. */
#ifndef US_BUF_H
#define US_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct us_buf {
	char *data; /* NUL-terminated once anything was appended; owned */
	size_t len;
	size_t cap;
	size_t limit; /* the most bytes it holds (not counting the NUL); 0: US_BUF_LIMIT */
	bool failed;
} us_buf;

/* The default limit: larger than any message, page or statement Usher builds. */
#define US_BUF_LIMIT ((size_t)64 * 1024 * 1024)

#define US_BUF_INIT {NULL, 0, 0, 0, false}
#define US_BUF_WITH_LIMIT(max) {NULL, 0, 0, (max), false}

void us_buf_append(us_buf *b, const void *data, size_t len);
void us_buf_puts(us_buf *b, const char *s);
void us_buf_putc(us_buf *b, char c);
void us_buf_printf(us_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool us_buf_failed(const us_buf *b);
/* Empties the buffer, keeping its memory and limit. */
void us_buf_reset(us_buf *b);
/* Frees the memory; the buffer is empty (same limit) and usable again. */
void us_buf_free(us_buf *b);

#endif
