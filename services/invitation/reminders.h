/* The reminder loop: every REMINDER_INTERVAL_MS it marks lapsed invitations expired
 * (queueing the inviter's notice where the account asks), then queues reminders for
 * emailed invitations still pending after the account's delay (at most
 * INVITATION_REMINDERS_MAX per send, never once expired), then wipes the sealed tokens no
 * reminder will need. Safe with several replicas (row locks, SKIP LOCKED). */
#ifndef INVITATION_REMINDERS_H
#define INVITATION_REMINDERS_H

#include <stddef.h>

#include "common/err.h"
#include "context.h"

#define INVITATION_REMINDERS_MAX 2

US_MUST_USE us_err invitation_reminders_start(invitation_ctx *ctx, char *err, size_t err_size);
void invitation_reminders_stop(invitation_ctx *ctx);

#endif
