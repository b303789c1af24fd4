/* SendEmail and SendEmails. Checks an Email of a request before anything is queued,
 * renders its subject and seals its variables. Every problem becomes a violation naming the field
 * ("emails[3].variables[1].value"), so a caller can fix all of them at once. */
#ifndef NOTIFICATION_INTAKE_H
#define NOTIFICATION_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/rpc_server.h"
#include "context.h"
#include "store.h"
#include "usher/v1/notification.pb-c.h"

#define INTAKE_KEY_MAX 200
#define INTAKE_REFERENCE_MAX 200

/* Checks email (its fields named under prefix, e.g. "email" or "emails[3]"). When it is
 * fine, fills *out with strings in the call's arena or borrowed from email. Returns
 * US_EINVAL with violations recorded on call, or US_EEXHAUSTED. */
US_MUST_USE us_err notification_intake_check(us_call *call, const notification_ctx *ctx,
                                             const char *prefix, const Usher__V1__Email *email,
                                             notification_store_new_email *out);

/* Checks a short text field (a key, a reference): at most max bytes of UTF-8 without
 * control characters; "" is fine unless required. Records a violation on field and
 * returns false when it is not. */
bool notification_intake_text(us_call *call, const char *field, const char *value, size_t max,
                              bool required);

/* Normalises and checks an address for a request field; NULL (with a violation recorded)
 * when it is not one. */
char *notification_intake_address(us_call *call, const char *field, const char *value);

/* SendEmail and SendEmails: check every email, then queue them all in one transaction and
 * wake the delivery workers. */
us_rpc_handler notification_intake_send_email;
us_rpc_handler notification_intake_send_emails;

#endif
