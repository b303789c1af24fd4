/* The body of a CSV upload, read as it streams in: a multipart/form-data form with one
 * "file" part and option fields, or (any other Content-Type) the CSV itself. Memory grows
 * with the addresses kept, never with the raw body. */
#ifndef GATEWAY_UPLOAD_BODY_H
#define GATEWAY_UPLOAD_BODY_H

#include <stddef.h>

#include "common/email_csv.h"
#include "common/err.h"

#define GATEWAY_UPLOAD_OPTION_MAX 400

enum {
	GATEWAY_UPLOAD_ROLE,
	GATEWAY_UPLOAD_SUBACCOUNT,
	GATEWAY_UPLOAD_PRODUCTS,
	GATEWAY_UPLOAD_DRY_RUN,
	GATEWAY_UPLOAD_FORMAT,
	GATEWAY_UPLOAD_CSRF, /* the console's form carries the CSRF token as a field */
	GATEWAY_UPLOAD_N_OPTIONS
};
/* The options' names, as form fields and as query parameters. */
extern const char *const gateway_upload_body_option_names[GATEWAY_UPLOAD_N_OPTIONS];

typedef struct gateway_upload_body gateway_upload_body;

/* A reader for a body of content_type (NULL when absent) with at most max_rows rows.
 * INVALID_ARGUMENT with the reason in err for a form without a usable boundary;
 * RESOURCE_EXHAUSTED when out of memory. Owned *out, free with gateway_upload_body_free(). */
US_MUST_USE us_err gateway_upload_body_new(const char *content_type, size_t max_rows,
                                           gateway_upload_body **out, char *err,
                                           size_t err_size);
void gateway_upload_body_free(gateway_upload_body *b); /* takes NULL */

/* Reads the next piece. INVALID_ARGUMENT when the body cannot be what it should (a
 * malformed form or CSV, too many rows, a second file, an option too long): the reason is
 * in gateway_upload_body_error(), and later pieces are refused; reading more is pointless. */
US_MUST_USE us_err gateway_upload_body_feed(gateway_upload_body *b, const char *data, size_t len);

/* The body ended: fails like feed, and for a form without a "file" part. */
US_MUST_USE us_err gateway_upload_body_finish(gateway_upload_body *b);

const char *gateway_upload_body_error(const gateway_upload_body *b);

/* An option given as a form field (borrowed), or NULL. */
const char *gateway_upload_body_option(const gateway_upload_body *b, int which);

/* The rows read, after a successful finish. */
const us_email_csv_row *gateway_upload_body_rows(const gateway_upload_body *b, size_t *n);

#endif
