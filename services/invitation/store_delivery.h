/* usher-invitationd's SQL for delivery: per-account settings, reminders and expiry. */
#ifndef INVITATION_STORE_DELIVERY_H
#define INVITATION_STORE_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct invitation_account_settings {
	char *account_id;
	char **redirect_urls;
	size_t n_redirect_urls;
	int reminder_delay_hours;
	bool reminders_off;
	char *email_locale; /* "" : English */
	bool notify_inviter_on_expiry;
	char *home_url; /* "" : My accounts */
} invitation_account_settings;

/* The account's settings, the defaults when it has none stored; strings in a. */
US_MUST_USE us_err invitation_store_settings_get(PGconn *c, us_arena *a, const char *account_id,
                                                 invitation_account_settings *out);

/* Stores s (every field replaces the stored one). */
US_MUST_USE us_err invitation_store_settings_put(PGconn *c, us_arena *a,
                                                 const invitation_account_settings *s);

/* Queues reminders for up to limit emailed invitations that are pending at now_ms (Unix
 * ms), unexpired then, have had fewer than max reminders and whose last send or reminder
 * is the account's delay old, in one statement that also announces the outbox. *queued
 * gets how many. */
US_MUST_USE us_err invitation_store_remind_due(PGconn *c, int64_t now_ms, int max, int limit,
                                               int *queued);

/* Marks expired up to limit pending invitations past their expiry at now_ms, queueing the
 * inviter's notice where the account asks for it. *expired gets how many. */
US_MUST_USE us_err invitation_store_expire_due(PGconn *c, int64_t now_ms, int limit, int *expired);

/* Wipes the sealed token of invitations that can have no more reminders (no longer
 * pending, expired at now_ms, or reminded max times). */
US_MUST_USE us_err invitation_store_wipe_sealed(PGconn *c, int64_t now_ms, int max);

#endif
