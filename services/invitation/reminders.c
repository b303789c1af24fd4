#include "reminders.h"

#include <stdio.h>

#include "common/db.h"
#include "common/log.h"
#include "common/wake.h"
#include "schedule.h"
#include "store_delivery.h"

/* Rows per statement; a round goes on while statements come back full, and until a stop
 * is asked. */
#define PER_STATEMENT 500
#define STATEMENTS_PER_ROUND 20

static void log_count(const char *msg, int n)
{
	char count[16];
	snprintf(count, sizeof(count), "%d", n);
	us_log_fields(US_LOG_INFO, msg, "count", count, NULL);
}

static bool stop_asked(const invitation_ctx *ctx)
{
	return ctx->reminders != NULL && us_ticker_stopping(ctx->reminders);
}

static void reminders_round(void *arg)
{
	const invitation_ctx *ctx = arg;
	PGconn *db = ctx->reminders_db;
	if (us_db_ensure(db, "invitation") != US_OK)
		return;
	int64_t now = invitation_schedule_now_ms();
	int changed = 0; /* invitations expired or reminded: events and outbox rows written */
	/* Expiry first: an invitation that lapsed is never reminded. */
	int n = PER_STATEMENT;
	for (int i = 0; i < STATEMENTS_PER_ROUND && n == PER_STATEMENT && !stop_asked(ctx); i++) {
		if (invitation_store_expire_due(db, now, PER_STATEMENT, &n) != US_OK) {
			us_warn("could not mark lapsed invitations expired");
			goto out;
		}
		changed += n;
		if (n > 0)
			log_count("invitations expired", n);
	}
	n = PER_STATEMENT;
	for (int i = 0; i < STATEMENTS_PER_ROUND && n == PER_STATEMENT && !stop_asked(ctx); i++) {
		if (invitation_store_remind_due(db, now, INVITATION_REMINDERS_MAX, PER_STATEMENT, &n) !=
		    US_OK) {
			us_warn("could not queue reminders");
			goto out;
		}
		changed += n;
		if (n > 0)
			log_count("reminders queued", n);
	}
	if (invitation_store_wipe_sealed(db, now, INVITATION_REMINDERS_MAX) != US_OK)
		us_warn("could not wipe the sealed tokens of closed invitations");
out:
	if (changed > 0)
		us_wake_committed();
}

us_err invitation_reminders_start(invitation_ctx *ctx, char *err, size_t err_size)
{
	us_err rc = us_db_connect(ctx->database_url, "invitation", &ctx->reminders_db, err, err_size);
	if (rc != US_OK)
		return rc;
	rc = us_ticker_start("reminders", (uint32_t)ctx->settings.reminder_interval_ms,
	                     reminders_round, ctx, &ctx->reminders);
	if (rc != US_OK) {
		PQfinish(ctx->reminders_db);
		ctx->reminders_db = NULL;
		snprintf(err, err_size, "could not start the reminder thread");
	}
	return rc;
}

void invitation_reminders_stop(invitation_ctx *ctx)
{
	us_ticker_stop(ctx->reminders);
	ctx->reminders = NULL;
	PQfinish(ctx->reminders_db);
	ctx->reminders_db = NULL;
}
