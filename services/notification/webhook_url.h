/* Which URLs a webhook endpoint may have: http or https, a host, no credentials (they
 * would be stored and logged as part of the URL), no spaces or control characters, at
 * most WEBHOOK_URL_MAX bytes. Checked at registration, so a bad URL never gets stored. */
#ifndef NOTIFICATION_WEBHOOK_URL_H
#define NOTIFICATION_WEBHOOK_URL_H

#define WEBHOOK_URL_MAX 2048

/* NULL when url may be registered, else why not ("must be http or https"). */
const char *notification_webhook_url_problem(const char *url);

#endif
