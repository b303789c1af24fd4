/* multipart/form-data (RFC 7578) read as it streams in: the boundary from the
 * Content-Type, each part's name and filename from its Content-Disposition, and its
 * content handed on in pieces as they arrive. Nothing is buffered but one header line, so
 * memory does not grow with the body; parts, header lines and names are bounded. */
#ifndef GATEWAY_MULTIPART_H
#define GATEWAY_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define GATEWAY_MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 */
#define GATEWAY_MULTIPART_PARTS_MAX 32
#define GATEWAY_MULTIPART_HEADERS_MAX 16     /* header lines in one part */
#define GATEWAY_MULTIPART_HEADER_LINE_MAX 1024
#define GATEWAY_MULTIPART_NAME_MAX 100       /* a field's name */
#define GATEWAY_MULTIPART_FILENAME_MAX 255

typedef struct gateway_multipart gateway_multipart;

/* Called with data NULL when a part begins (so an empty part is seen too), then with each
 * piece of its content (len > 0). name and filename ("" when none) are borrowed for the
 * call. Returns false to stop the reading. */
typedef bool gateway_multipart_data(void *ctx, const char *name, const char *filename,
                                    const char *data, size_t len);

/* The boundary parameter of a multipart/form-data Content-Type, into out (at least
 * GATEWAY_MULTIPART_BOUNDARY_MAX + 1 bytes). Returns NULL, or why there is none. */
const char *gateway_multipart_boundary(const char *content_type, char *out, size_t size);

/* A reader for a body cut by boundary (borrowed for the call). NULL when out of memory
 * or when boundary is empty or too long. Free with gateway_multipart_free(). */
gateway_multipart *gateway_multipart_new(const char *boundary, gateway_multipart_data *on_data,
                                         void *ctx);
void gateway_multipart_free(gateway_multipart *m); /* takes NULL */

/* Reads the next piece of the body. INVALID_ARGUMENT when it is malformed or passes a
 * limit (gateway_multipart_error() says how), CANCELLED when on_data stopped it; after a
 * failure every later piece is refused the same way. */
US_MUST_USE us_err gateway_multipart_feed(gateway_multipart *m, const char *data, size_t len);

/* The body ended: INVALID_ARGUMENT unless its closing boundary was read. */
US_MUST_USE us_err gateway_multipart_finish(gateway_multipart *m);

/* Why the last failure happened, for people; "" when nothing failed. */
const char *gateway_multipart_error(const gateway_multipart *m);

#endif
