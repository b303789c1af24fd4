/* Per-account delivery settings (redirect allow-list, reminders, email language) and the
 * checks of what a CreateInvitations request asks of them: redirect_url, metadata and
 * locale. */
#ifndef INVITATION_SETTINGS_H
#define INVITATION_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/rpc_server.h"
#include "store_delivery.h"

#define INVITATION_URL_MAX 2048
#define INVITATION_REDIRECT_URLS_MAX 20
#define INVITATION_METADATA_MAX 4096
#define INVITATION_LOCALE_MAX 35
#define INVITATION_REMINDER_DELAY_DEFAULT_H 72

/* Why url is not an absolute http(s) URL fit to send a browser to (no credentials, no
 * fragment, no spaces or control characters, a host), or NULL when it is. */
const char *invitation_url_check(const char *url);

/* Whether url matches an entry of the allow-list: equal to it, or starting with an entry
 * that ends with "/". Borrows both. */
bool invitation_redirect_allowed(char *const *allowed, size_t n, const char *url);

/* Why text is not a JSON object of at most INVITATION_METADATA_MAX bytes, or NULL. */
const char *invitation_metadata_check(const char *text);

/* Why locale is not a language tag ("fr", "de-CH": 2-3 letters, then "-" and 1-8 letters
 * or digits, at most INVITATION_LOCALE_MAX bytes), or NULL. "" is fine (the default). */
const char *invitation_locale_check(const char *locale);

/* Where a person goes after accepting or joining account_id: redirect_url when given (the
 * invitation's, checked when it was created), else the account's home_url; "" for the
 * gateway's My accounts. *out borrows redirect_url or lives in the call's arena. */
US_MUST_USE us_err invitation_next_url(us_call *call, const char *account_id,
                                       const char *redirect_url, char **out);

us_rpc_handler invitation_get_settings;
us_rpc_handler invitation_set_settings;

#endif
