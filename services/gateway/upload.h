/* POST /accounts/{account}/invitations/import: a CSV of up to 50,000 addresses, streamed
 * (multipart/form-data with a "file" part, or a text/csv body), invited in one batch.
 * Options as query parameters or form fields: role, subaccount, products (comma-separated),
 * dry_run, format (json, or csv for a downloadable report). Every row gets an outcome with
 * its row number. The session and its CSRF token are checked as soon as the headers are
 * in: nobody else gets a byte of their body read. */
#ifndef GATEWAY_UPLOAD_H
#define GATEWAY_UPLOAD_H

#include "routes.h"

gateway_stream gateway_upload_chunk;
gateway_handler gateway_upload_finish;

#endif
