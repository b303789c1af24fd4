/* Turns a queued message (template, variables, subject, Message-ID, queue time) into the
 * bytes that go on the wire or into the spool. Rendering happens at delivery, from the
 * variables stored at queue time; the result is the same on every attempt. */
#ifndef NOTIFICATION_COMPOSE_H
#define NOTIFICATION_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "mime.h"
#include "template.h"

typedef struct notification_compose_input {
	const char *id;              /* the message's UUID: names its MIME boundary */
	const char *template;
	const char *recipient;
	const char *subject;
	const char *variables;       /* a JSON object of strings */
	const char *smtp_message_id; /* "<...>" */
	int64_t created_at;          /* seconds since the epoch: the Date header */
} notification_compose_input;

/* Appends the message to out. Fails with US_EINVAL and the reason in why when the
 * template is unknown, the variables are not a JSON object of strings or one the
 * template uses is missing; US_EEXHAUSTED when out of memory. */
US_MUST_USE us_err notification_compose_message(const notification_template_set *templates,
                                                const notification_mime_mailbox *from,
                                                const notification_compose_input *in, us_buf *out,
                                                char *why, size_t why_size);

#endif
