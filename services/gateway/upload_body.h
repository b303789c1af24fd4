/* The body of a CSV upload, read as it streams in: a multipart/form-data form with one
 * "file" part and option fields, or (any other Content-Type) the CSV itself. Memory grows
 * with the addresses kept, never with the raw body. */
#ifndef GATEWAY_UPLOAD_BODY_H
#define GATEWAY_UPLOAD_BODY_H

#include <stddef.h>

#include "email_csv.h"
#include "err.h"

#define GW_UPLOAD_OPTION_MAX 400

enum { GW_OPT_ROLE, GW_OPT_SUBACCOUNT, GW_OPT_PRODUCTS, GW_OPT_DRY_RUN, GW_OPT_FORMAT, GW_N_OPTS };
/* The options' names, as form fields and as query parameters. */
extern const char *const gw_upload_option_names[GW_N_OPTS];

typedef struct gw_upload_body gw_upload_body;

/* A reader for a body of content_type (NULL when absent) with at most max_rows rows.
 * INVALID_ARGUMENT with the reason in err for a form without a usable boundary;
 * RESOURCE_EXHAUSTED when out of memory. Owned *out, free with gw_upload_body_free(). */
US_MUST_USE us_err gw_upload_body_new(const char *content_type, size_t max_rows,
                                      gw_upload_body **out, char *err, size_t err_size);
void gw_upload_body_free(gw_upload_body *b); /* takes NULL */

/* Reads the next piece. INVALID_ARGUMENT when the body cannot be what it should (a
 * malformed form or CSV, too many rows, a second file, an option too long): the reason is
 * in gw_upload_body_error(), and later pieces are refused; reading more is pointless. */
US_MUST_USE us_err gw_upload_body_feed(gw_upload_body *b, const char *data, size_t len);

/* The body ended: fails like feed, and for a form without a "file" part. */
US_MUST_USE us_err gw_upload_body_finish(gw_upload_body *b);

const char *gw_upload_body_error(const gw_upload_body *b);

/* An option given as a form field (borrowed), or NULL. */
const char *gw_upload_body_option(const gw_upload_body *b, int which);

/* The rows read, after a successful finish. */
const us_email_csv_row *gw_upload_body_rows(const gw_upload_body *b, size_t *n);

#endif
