/* SMTP delivery through libcurl: smtp:// or smtps://, STARTTLS, AUTH, connect and total
 * timeouts on every transfer. One client per delivery thread, so its connection is
 * reused from one message to the next. */
#ifndef NOTIFICATION_SMTP_H
#define NOTIFICATION_SMTP_H

#include <stddef.h>

#include "common/err.h"
#include "policy.h"
#include "settings.h"

typedef struct smtp_client smtp_client;

/* Call once, before any thread uses libcurl. */
US_MUST_USE us_err smtp_global_init(char *err, size_t err_size);
void smtp_global_cleanup(void);

/* Returns owned *out (smtp_close()), or an error with the reason in err. s is borrowed
 * for the client's life. */
US_MUST_USE us_err smtp_open(const notification_settings *s, smtp_client **out, char *err,
                             size_t err_size);

/* Sends one message (CRLF line ends) from the envelope sender to one recipient. */
void smtp_send(smtp_client *c, const char *from, const char *to, const char *data, size_t len,
               send_result *result);

/* Takes NULL. */
void smtp_close(smtp_client *c);

/* Checks an SMTP_URL setting. */
const char *smtp_check_url(const char *url);

/* Checks an SMTP_STARTTLS setting. */
const char *smtp_check_starttls(const char *value);

#endif
