#include "common/arena.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (16 * 1024)

typedef struct chunk {
	struct chunk *next;
	size_t used;
	size_t size;
	alignas(max_align_t) unsigned char data[];
} chunk;

struct us_arena {
	chunk *head;
};

us_arena *us_arena_new(void)
{
	return calloc(1, sizeof(us_arena));
}

void us_arena_free(us_arena *a)
{
	if (a == NULL)
		return;
	chunk *c = a->head;
	while (c != NULL) {
		chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

static chunk *chunk_new(size_t size)
{
	chunk *c = malloc(sizeof(chunk) + size);
	if (c == NULL)
		return NULL;
	c->next = NULL;
	c->used = 0;
	c->size = size;
	return c;
}

void *us_arena_alloc(us_arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - align)
		return NULL;
	size = (size + align - 1) & ~(align - 1);

	chunk *c = a->head;
	if (c == NULL || c->size - c->used < size) {
		if (size > CHUNK_SIZE / 4) {
			/* A big block gets a chunk of its own behind the current one, so the
			 * current chunk's free space is not wasted. */
			chunk *big = chunk_new(size);
			if (big == NULL)
				return NULL;
			big->used = size;
			if (c == NULL) {
				a->head = big;
			} else {
				big->next = c->next;
				c->next = big;
			}
			memset(big->data, 0, size);
			return big->data;
		}
		c = chunk_new(CHUNK_SIZE);
		if (c == NULL)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *us_arena_strndup(us_arena *a, const char *s, size_t n)
{
	char *p = us_arena_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *us_arena_strdup(us_arena *a, const char *s)
{
	return us_arena_strndup(a, s, strlen(s));
}

char *us_arena_printf(us_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = us_arena_alloc(a, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static void *arena_pb_alloc(void *data, size_t size)
{
	/* protobuf-c writes every field itself, so the zeroing is only a cost we accept
	 * for simplicity. */
	return us_arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

ProtobufCAllocator us_arena_protobuf_allocator(us_arena *a)
{
	ProtobufCAllocator alloc = {arena_pb_alloc, arena_pb_free, a};
	return alloc;
}
