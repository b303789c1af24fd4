/* The emails usher-identityd sends through usher-notificationd: a link to follow, queued
 * while the handler's transaction is open, so a change whose email could not be queued
 * is rolled back. */
#ifndef IDENTITY_MAILER_H
#define IDENTITY_MAILER_H

#include "context.h"
#include "common/rpc_server.h"

typedef struct identity_mail {
	const char *template_name; /* of usher-notificationd */
	const char *key;           /* its idempotency key: the same key queues one email */
	const char *recipient;
	const char *reference;     /* "user:<id>" */
	const char *name;          /* the "name" variable */
	const char *path;          /* the link: PUBLIC_BASE_URL/<path>/<token> */
	const char *token;
	const char *expires_at;
} identity_mail;

/* The link of an email: base_url/path/token, in a; NULL when out of memory. */
char *identity_mail_url(us_arena *a, const char *base_url, const char *path, const char *token);

/* Queues the email (variables name, link, expires_at). On failure logs why and returns
 * the code; the token never reaches the log. */
US_MUST_USE us_err identity_mail_link(us_call *call, const identity_ctx *ctx,
                                      const identity_mail *m);

#endif
