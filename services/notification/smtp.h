/* SMTP delivery through libcurl: smtp:// or smtps://, STARTTLS, AUTH, connect and total
 * timeouts on every transfer. One client per delivery thread, so its connection is
 * reused from one message to the next. */
#ifndef NOTIFICATION_SMTP_H
#define NOTIFICATION_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "policy.h"
#include "settings.h"

typedef struct notification_smtp_client notification_smtp_client;

/* Call once, before any thread uses libcurl. */
US_MUST_USE us_err notification_smtp_global_init(char *err, size_t err_size);
void notification_smtp_global_cleanup(void);

/* Returns owned *out (notification_smtp_close()), or an error with the reason in err. s is borrowed
 * for the client's life. */
US_MUST_USE us_err notification_smtp_open(const notification_settings *s,
                                          notification_smtp_client **out, char *err,
                                          size_t err_size);

/* Sends one message (CRLF line ends) from the envelope sender to one recipient. */
void notification_smtp_send(notification_smtp_client *c, const char *from, const char *to,
                            const char *data, size_t len, notification_send_result *result);

/* Takes NULL. */
void notification_smtp_close(notification_smtp_client *c);

/* The reply code a server line starts with (200 to 599), or 0 when it starts with none. */
int notification_smtp_reply_code(const char *reply);

/* How an attempt ended: transferred when the server took the data. Otherwise a 5xx
 * refuses this recipient or this message only when it answers RCPT, DATA or the data
 * (about_recipient); before that (greeting, AUTH, MAIL FROM) it is about our session,
 * which an operator can fix, so the message waits instead of failing. */
notification_send_outcome notification_smtp_outcome(bool transferred, const char *last_reply,
                                                    bool about_recipient);

/* A server line as stored and shown to people: line ends dropped, anything but printable
 * ASCII as '?', cut to out_size - 1 bytes. */
void notification_smtp_printable(char *out, size_t out_size, const char *line, size_t size);

/* Checks an SMTP_URL setting. */
const char *notification_smtp_check_url(const char *url);

/* Checks an SMTP_STARTTLS setting. */
const char *notification_smtp_check_starttls(const char *value);

#endif
