/* RFC 5322 messages: the headers Usher sends (From, To, Subject, Date, Message-ID,
 * MIME-Version, Auto-Submitted) and a multipart/alternative body with a plain-text and
 * an HTML part. The output depends only on the input, so every attempt of a message
 * sends the same bytes. */
#ifndef NOTIFICATION_MIME_H
#define NOTIFICATION_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define MIME_ADDRESS_MAX 254
#define MIME_DISPLAY_NAME_MAX 64

typedef struct notification_mime_mailbox {
	char name[MIME_DISPLAY_NAME_MAX + 1]; /* "" when none */
	char address[MIME_ADDRESS_MAX + 1];
} notification_mime_mailbox;

typedef struct notification_mime_message {
	const notification_mime_mailbox *from;
	const char *to;         /* an address */
	const char *subject;    /* UTF-8, one line */
	const char *message_id; /* "<id@domain>" */
	int64_t date;           /* seconds since the epoch */
	const char *boundary;   /* a token unique to the message: [0-9A-Za-z-] */
	const char *text;       /* UTF-8; LF or CRLF line ends */
	const char *html;
} notification_mime_message;

/* Parses "Name <address>" or "address": NULL when fine, else the reason. The name is
 * printable ASCII without quotes, backslashes or angle brackets. */
const char *notification_mime_parse_mailbox(const char *s, notification_mime_mailbox *out);

/* Appends the whole message, CRLF line ends, to out. */
void notification_mime_build(const notification_mime_message *m, us_buf *out);

#endif
