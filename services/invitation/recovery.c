#include "recovery.h"

#include <stdbool.h>
#include <stdio.h>

#include "common/db.h"
#include "common/log.h"
#include "erasure.h"
#include "common/metrics.h"
#include "common/wake.h"
#include "joins.h"
#include "peers.h"
#include "saga.h"
#include "store.h"

#define PER_ROUND 100
#define CALL_TIMEOUT_MS 10000

/* Which user the interrupted accept was for: known for an existing user; for a new user,
 * whoever identityd now has at the invited address (the CreateUser step may or may not
 * have run). NULL when there is none. */
static us_err find_user(invitation_peer *p, const invitation_row *row, const char **user_id)
{
	*user_id = NULL;
	if (row->accepted_user_id[0] != '\0') {
		*user_id = row->accepted_user_id;
		return US_OK;
	}
	Usher__V1__LookupEmailsReply *users;
	us_err rc = invitation_peer_lookup_emails(p, (char **)&row->email, 1, &users);
	if (rc == US_OK && users->n_matches == 1 && users->matches[0]->email_verified)
		*user_id = users->matches[0]->user_id;
	return rc;
}

/* Resumes one interrupted accept that this session has taken (see
 * invitation_store_take_stale_accept): its calls hold no lock and no transaction; each
 * step that follows is a short statement of its own. When a step fails, the claim is let
 * go, so the next round takes it again. */
static us_err resume(const invitation_ctx *ctx, PGconn *db, us_arena *a,
                     const invitation_row *row, int64_t taken_us)
{
	invitation_peer p = {.ctx = ctx, .arena = a};
	us_status_init(&p.status);
	p.opts.timeout_ms = CALL_TIMEOUT_MS;
	p.opts.request_id = us_arena_printf(a, "recovery-%s", row->id);
	const char *user_id;
	us_err rc = find_user(&p, row, &user_id);
	if (rc == US_OK && user_id == NULL) {
		/* No user was created: the accept never really started. The link works again,
		 * unless someone (a retried accept) took the invitation up meanwhile. */
		bool released = false;
		rc = invitation_store_release_taken(db, row->id, taken_us, &released);
		if (rc == US_OK && released)
			us_log_fields(US_LOG_INFO, "interrupted accept released", "invitation_id", row->id,
			              NULL);
	} else if (rc == US_OK) {
		invitation_saga_result result;
		Usher__V1__Membership *membership;
		rc = invitation_saga_finish(db, &p, row, user_id, &result, &membership, NULL, NULL);
		if (rc == US_OK && result == INVITATION_SAGA_RETRY)
			rc = US_EUNAVAILABLE;
		if (rc == US_OK)
			us_log_fields(US_LOG_INFO, "interrupted accept resumed", "invitation_id", row->id,
			              NULL);
	}
	if (rc != US_OK && invitation_store_let_go(db, row->id) != US_OK)
		us_warn("could not let go of an interrupted accept; it waits for ACCEPT_STALE_S");
	invitation_peer_clear(&p);
	return rc;
}

/* Settles up to PER_ROUND joins through links (joins.c). True when it found any. */
static bool round_of_join_recovery(const invitation_ctx *ctx, PGconn *db)
{
	for (int i = 0; i < PER_ROUND; i++) {
		us_arena *a = us_arena_new();
		if (a == NULL)
			return i > 0;
		bool found = false;
		us_err rc = us_db_ensure(db, "invitation");
		if (rc == US_OK)
			rc = invitation_join_recover_one(ctx, db, a, &found);
		us_arena_free(a);
		if (rc != US_OK || !found)
			return i > 0 || found;
	}
	return true;
}

/* Resumes up to PER_ROUND accepts, one at a time. True when it found any. */
static bool round_of_recovery(const invitation_ctx *ctx, PGconn *db)
{
	for (int i = 0; i < PER_ROUND; i++) {
		us_arena *a = us_arena_new();
		if (a == NULL)
			return i > 0;
		invitation_row row;
		int64_t taken_us = 0;
		us_err rc = us_db_ensure(db, "invitation");
		if (rc == US_OK)
			rc = invitation_store_take_stale_accept(db, a, ctx->settings.accept_stale_s, &row,
			                                        &taken_us);
		bool found = rc == US_OK;
		if (found)
			rc = resume(ctx, db, a, &row, taken_us);
		us_arena_free(a);
		if (rc != US_OK || !found)
			return i > 0 || found;
	}
	return true;
}

/* Resumes up to PER_ROUND DeleteUser sagas (erasure.h). True when it found any. */
static bool round_of_erasure_recovery(const invitation_ctx *ctx, PGconn *db)
{
	for (int i = 0; i < PER_ROUND; i++) {
		us_arena *a = us_arena_new();
		if (a == NULL)
			return i > 0;
		bool found = false;
		us_err rc = us_db_ensure(db, "invitation");
		if (rc == US_OK)
			rc = invitation_erasure_recover_one(ctx, db, a, &found);
		us_arena_free(a);
		if (rc != US_OK || !found)
			return i > 0 || found;
	}
	return true;
}

static void recovery_round(void *arg)
{
	const invitation_ctx *ctx = arg;
	us_metrics_upkeep_run("accept_recovery");
	bool worked = round_of_recovery(ctx, ctx->recovery_db);
	worked |= round_of_join_recovery(ctx, ctx->recovery_db);
	worked |= round_of_erasure_recovery(ctx, ctx->recovery_db);
	/* What it finished (accepts, joins, erasures) wrote events and outbox rows. */
	if (worked)
		us_wake_committed();
}

us_err invitation_recovery_start(invitation_ctx *ctx, char *err, size_t err_size)
{
	us_err rc = us_db_connect(ctx->database_url, "invitation", &ctx->recovery_db, err, err_size);
	if (rc != US_OK)
		return rc;
	rc = us_ticker_start("recovery", (uint32_t)ctx->settings.recovery_interval_ms, recovery_round,
	                     ctx, &ctx->recovery);
	if (rc != US_OK) {
		PQfinish(ctx->recovery_db);
		ctx->recovery_db = NULL;
		snprintf(err, err_size, "could not start the recovery thread");
	}
	return rc;
}

void invitation_recovery_stop(invitation_ctx *ctx)
{
	us_ticker_stop(ctx->recovery);
	ctx->recovery = NULL;
	PQfinish(ctx->recovery_db);
	ctx->recovery_db = NULL;
}
