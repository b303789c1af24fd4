/* A bump allocator for one request's lifetime: the request is unpacked into it, the
 * handler builds its reply in it, and everything goes with one us_arena_free(). */
#ifndef US_ARENA_H
#define US_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct us_arena us_arena;

/* Returns an empty arena, or NULL when out of memory. Free with us_arena_free(). */
us_arena *us_arena_new(void);

/* Frees the arena and everything allocated in it. Takes NULL. */
void us_arena_free(us_arena *a);

/* Zeroed memory aligned for any type, owned by the arena; NULL when out of memory. */
void *us_arena_alloc(us_arena *a, size_t size);

/* A copy of s (or of its first n bytes, NUL-terminated) in the arena. */
char *us_arena_strdup(us_arena *a, const char *s);
char *us_arena_strndup(us_arena *a, const char *s, size_t n);

/* printf into the arena. */
char *us_arena_printf(us_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Typed helpers: an array of n zeroed T. */
#define US_ARENA_NEW(a, T) ((T *)us_arena_alloc((a), sizeof(T)))
#define US_ARENA_ARRAY(a, T, n) ((T *)us_arena_alloc((a), sizeof(T) * (n)))

/* A protobuf-c allocator that allocates from the arena and never frees: pass it to
 * protobuf_c_message_unpack() and drop the message with the arena. */
ProtobufCAllocator us_arena_protobuf_allocator(us_arena *a);

#endif
