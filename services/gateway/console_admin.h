/* The console's pages for an account's admins, under /a/<account>/: Users, Invite, Upload
 * CSV, Pending, Permanent link, Settings. The daemons decide who may do what; a refusal
 * is shown in their words. */
#ifndef GATEWAY_CONSOLE_ADMIN_H
#define GATEWAY_CONSOLE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "report.h"

void gateway_console_admin(gateway_request *req, gateway_response *res); /* GET and POST /a/... */

/* The report of a CSV upload sent from the console's form (upload.c, format=html). */
void gateway_console_upload_report(gateway_request *req, gateway_response *res,
                                   const char *account_id, const gateway_report_row *rows,
                                   size_t n, bool dry_run);

/* The upload's JSON refusal in res, replaced by a page saying the same. */
void gateway_console_upload_failed(gateway_request *req, gateway_response *res);

#endif
