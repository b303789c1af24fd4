/* GET /accounts/{account}/audit: the account's audit log (docs/audit.md), merged from
 * usher-tenancyd's and usher-invitationd's rows, newest first, as JSON pages or, with
 * format=csv, every matching entry as one CSV file. Filters are query parameters:
 * actor, subject, action, since, until, page_size, page_token. Each daemon checks that
 * the signed-in person holds audit.view. */
#ifndef GATEWAY_AUDIT_H
#define GATEWAY_AUDIT_H

#include "routes.h"

/* At most this many entries in one CSV export: past it, narrow the time range. */
#define GATEWAY_AUDIT_EXPORT_MAX 100000

gateway_handler gateway_audit_list;

#endif
