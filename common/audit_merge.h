/* Reading the audit log of an account as one list, although each daemon keeps its own
 * rows (audit.h): the gateway and usherctl ask every daemon for a page after the same
 * position, merge the answers newest first and keep one page. Every daemon orders by
 * (created_at, id) and stores times to the millisecond, so the merge orders exactly as
 * they do and the last entry's cursor is the next page's position on all of them. */
#ifndef US_AUDIT_MERGE_H
#define US_AUDIT_MERGE_H

#include <stddef.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "common/status.h"
#include "usher/v1/audit.pb-c.h"

#define US_AUDIT_METHOD "usher.v1.AuditService/ListAudit"

/* Lists one page of req across clients[0..n) with opts (the actor, the budget): the
 * newest req->page_size entries (default 100) of all of them, and the token of the next
 * page ("" when none is left). The first daemon that fails fails the call, its status in
 * st. *out lives in arena. */
US_MUST_USE us_err us_audit_merge_page(us_rpc_client *const *clients, size_t n,
                                       const us_rpc_call_opts *opts,
                                       const Usher__V1__ListAuditRequest *req, us_arena *arena,
                                       Usher__V1__ListAuditReply **out, us_status *st);

/* The CSV header line and one line per entry (CRLF line ends, every cell quoted; a cell a
 * spreadsheet would read as a formula gets an apostrophe in front). */
void us_audit_csv_header(us_buf *out);
void us_audit_csv_rows(us_buf *out, Usher__V1__AuditEntry *const *entries, size_t n);

#endif
