/* GET /v1/accounts/{account}/invitations/pending.csv: every pending invitation of an
 * account as one CSV file (email,role,status,sent_at,expires_at,times_sent), newest first.
 * Whoever may list the account's invitations may export them: a signed-in person (session
 * cookie or Bearer token) or a service principal's API key; usher-invitationd checks.
 *
 * Streamed: the gateway reads usher-invitationd's keyset pages of up to
 * GATEWAY_EXPORT_PAGE_SIZE and writes each as it arrives (chunked), so its memory holds one
 * page whatever the count. The first page is read before answering: a refusal is a plain
 * JSON error with its status. A failure later can only cut the transfer short (the last
 * chunk never comes, so the client sees an incomplete download, never a short file that
 * looks whole). */
#ifndef GATEWAY_EXPORT_H
#define GATEWAY_EXPORT_H

#include "routes.h"

/* usher-invitationd's largest ListInvitations page. */
#define GATEWAY_EXPORT_PAGE_SIZE 5000

gateway_handler gateway_export_pending;

#endif
