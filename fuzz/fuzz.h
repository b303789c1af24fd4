/* What every fuzz target defines (libFuzzer's interface), and helpers to cut an input
 * into the pieces a target needs. A target checks properties with FUZZ_CHECK: a failed
 * one aborts, which libFuzzer reports as a crash and saves the input. */
#ifndef USHER_FUZZ_H
#define USHER_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                                   \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property does not hold: %s\n", __FILE__, __LINE__,    \
			        #cond);                                                                \
			abort();                                                                       \
		}                                                                                  \
	} while (0)

/* The input, read front to back. */
typedef struct fuzz_input {
	const uint8_t *data;
	size_t size;
} fuzz_input;

/* The next byte, or 0 when the input is spent. */
static inline uint8_t fuzz_byte(fuzz_input *in)
{
	if (in->size == 0)
		return 0;
	in->size--;
	return *in->data++;
}

/* The bytes up to the next NUL (or the end), as a malloc'd C string; free() it. */
static inline char *fuzz_string(fuzz_input *in)
{
	const uint8_t *nul = memchr(in->data, 0, in->size);
	size_t len = nul != NULL ? (size_t)(nul - in->data) : in->size;
	char *s = malloc(len + 1);
	if (s == NULL)
		abort();
	memcpy(s, in->data, len);
	s[len] = '\0';
	in->data += len + (nul != NULL);
	in->size -= len + (nul != NULL);
	return s;
}

/* Piece sizes for feeding a streaming reader: 1 to 64 bytes, from a seed the input gives,
 * so every split point gets tried. */
static inline size_t fuzz_piece(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (*seed >> 16) % 64;
}

#endif
