/* The recovery loop: finds accepts interrupted by a crash (state accepting, and the
 * database session that claimed it gone; or claimed longer than ACCEPT_STALE_S ago) and
 * resumes them with the saga's idempotent steps; likewise joins through permanent links
 * whose steps nobody attends to, and joins whose confirmation lapsed (joins.h). It runs
 * on a us_ticker every RECOVERY_INTERVAL_MS, with a database connection of its own. */
#ifndef INVITATION_RECOVERY_H
#define INVITATION_RECOVERY_H

#include <stddef.h>

#include "common/err.h"
#include "context.h"

/* Starts the loop; ctx->recovery and ctx->recovery_db are its. */
US_MUST_USE us_err invitation_recovery_start(invitation_ctx *ctx, char *err, size_t err_size);
/* Stops it after the round in progress; safe when it never started. */
void invitation_recovery_stop(invitation_ctx *ctx);

#endif
