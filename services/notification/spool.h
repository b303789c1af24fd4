/* The spool: without an SMTP server, each message becomes a complete RFC 5322 file,
 * MAIL_SPOOL_DIR/<message id>.eml, that a person can open and tests can read. A file
 * appears whole (written under a temporary name, synced, then renamed) or not at all. */
#ifndef NOTIFICATION_SPOOL_H
#define NOTIFICATION_SPOOL_H

#include <stddef.h>

#include "common/err.h"
#include "policy.h"

/* Creates dir (and its parents) when missing and checks it can be written. */
US_MUST_USE us_err notification_spool_prepare(const char *dir, char *err, size_t err_size);

/* Writes dir/<id>.eml. */
void notification_spool_write(const char *dir, const char *id, const char *data, size_t len,
                              notification_send_result *result);

#endif
