#include "store_delivery.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/db.h"
#include "common/row.h"
#include "store.h"

/* A Unix time in milliseconds as a timestamptz: the time the reminder loop goes by, which
 * tests move (see common/test_clock.h). */
#define AT_MS(param) "to_timestamp(" param "::bigint / 1000.0)"


us_err invitation_store_settings_get(PGconn *c, us_arena *a, const char *account_id,
                                     invitation_account_settings *out)
{
	const char *params[] = {account_id};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT redirect_urls, reminder_delay_hours, reminders_off,"
	                        " email_locale, notify_inviter_on_expiry, home_url"
	                       " FROM account_settings WHERE account_id = $1",
	                       1, params, &res);
	if (rc != US_OK)
		return rc;
	*out = (invitation_account_settings){
		.account_id = (char *)account_id,
		.reminder_delay_hours = 72,
		.email_locale = "",
		.home_url = "",
	};
	if (PQntuples(res) == 0) {
		PQclear(res);
		return US_OK;
	}
	us_row r = us_row_at(a, res, 0, 0);
	out->redirect_urls = us_row_array(&r, 0, &out->n_redirect_urls);
	out->reminder_delay_hours = (int)us_row_int(&r, 1);
	out->reminders_off = us_row_bool(&r, 2);
	out->email_locale = us_row_text(&r, 3);
	out->notify_inviter_on_expiry = us_row_bool(&r, 4);
	out->home_url = us_row_text(&r, 5);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_settings_put(PGconn *c, us_arena *a, const invitation_account_settings *s)
{
	char hours[16];
	snprintf(hours, sizeof(hours), "%d", s->reminder_delay_hours);
	const char *params[] = {
		s->account_id,
		us_db_text_array(a, (const char *const *)s->redirect_urls, s->n_redirect_urls),
		hours,
		s->reminders_off ? "t" : "f",
		s->email_locale,
		s->notify_inviter_on_expiry ? "t" : "f",
		s->home_url,
	};
	if (params[1] == NULL)
		return US_EEXHAUSTED;
	return us_db_exec(c,
	                  "INSERT INTO account_settings (account_id, redirect_urls,"
	                  " reminder_delay_hours, reminders_off, email_locale,"
	                  " notify_inviter_on_expiry, home_url)"
	                  " VALUES ($1, $2::text[], $3::int, $4, $5, $6, $7)"
	                  " ON CONFLICT (account_id) DO UPDATE SET"
	                  " redirect_urls = EXCLUDED.redirect_urls,"
	                  " reminder_delay_hours = EXCLUDED.reminder_delay_hours,"
	                  " reminders_off = EXCLUDED.reminders_off,"
	                  " email_locale = EXCLUDED.email_locale,"
	                  " notify_inviter_on_expiry = EXCLUDED.notify_inviter_on_expiry,"
	                  " home_url = EXCLUDED.home_url,"
	                  " updated_at = now()",
	                  7, params, NULL);
}

static us_err exec_rows(PGconn *c, const char *sql, int n, const char *const *params, int *rows)
{
	PGresult *res;
	us_err rc = us_db_exec(c, sql, n, params, &res);
	if (rc != US_OK)
		return rc;
	*rows = PQntuples(res);
	PQclear(res);
	return US_OK;
}

us_err invitation_store_remind_due(PGconn *c, int64_t now_ms, int max, int limit, int *queued)
{
	char now[24], maxs[16], lim[16];
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	snprintf(maxs, sizeof(maxs), "%d", max);
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *params[] = {now, maxs, lim};
	/* Only emailed invitations keep a sealed token, so the index on it finds the
	 * candidates; SKIP LOCKED keeps replicas (and a concurrent accept) apart. The outbox
	 * row carries the same sealed token: the reminder holds the link the invitee has. */
	return exec_rows(
	        c,
	        "WITH due AS ("
	        " SELECT i.id FROM invitations i"
	        " LEFT JOIN account_settings s ON s.account_id = i.account_id"
	        " WHERE i.sealed_token IS NOT NULL AND i.state = 'pending'"
	        "  AND i.expires_at > " AT_MS("$1") " AND i.reminders_sent < $2::int"
	        "  AND NOT coalesce(s.reminders_off, false)"
	        "  AND coalesce(i.last_reminded_at, i.last_sent_at)"
	        "   + make_interval(hours => coalesce(s.reminder_delay_hours, 72)) <= " AT_MS("$1")
	        " ORDER BY i.last_sent_at LIMIT $3::int FOR UPDATE OF i SKIP LOCKED),"
	        " r AS (UPDATE invitations i SET reminders_sent = i.reminders_sent + 1,"
	        "  last_reminded_at = " AT_MS("$1") ", updated_at = now()"
	        "  FROM due WHERE i.id = due.id"
	        "  RETURNING i.id, i.account_id, i.send_count, i.reminders_sent, i.sealed_token),"
	        " ob AS (INSERT INTO outbox (kind, invitation_id, send_number, sealed_token,"
	        "  reminder_number, account_id)"
	        "  SELECT 'reminder', id, send_count, sealed_token, reminders_sent, account_id FROM r"
	        "  RETURNING 1),"
	        /* No trigger sees a reminder: its event is recorded here (docs/events.md). */
	        " ev AS (SELECT record_event('invitation.reminded', i.account_id, 'system',"
	        "  'invitation', i.id, invitation_json(i, b)"
	        "   || jsonb_build_object('reminder_number', r.reminders_sent))"
	        "  FROM r JOIN invitations i ON i.id = r.id AND i.account_id = r.account_id"
	        "  JOIN batches b ON b.id = i.batch_id AND b.account_id = i.account_id)"
	        /* A CTE nobody reads is never run: the count makes ev run, once per reminder. */
	        "SELECT 1 FROM ob WHERE (SELECT count(*) FROM ev) >= 0",
	        3, params, queued);
}

us_err invitation_store_expire_due(PGconn *c, int64_t now_ms, int limit, int *expired)
{
	char now[24], lim[16];
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *params[] = {now, lim};
	return exec_rows(
	        c,
	        "WITH due AS ("
	        " SELECT id FROM invitations WHERE state = 'pending'"
	        "  AND expires_at <= " AT_MS("$1")
	        " ORDER BY expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED),"
	        " e AS (UPDATE invitations i SET state = 'expired', updated_at = now(),"
	        "  sealed_token = NULL"
	        "  FROM due WHERE i.id = due.id RETURNING i.id, i.account_id, i.send_count),"
	        /* invitation.expired: the events trigger records it (the state changes). */
	        " ob AS (INSERT INTO outbox (kind, invitation_id, send_number, account_id)"
	        "  SELECT 'expired', e.id, e.send_count, e.account_id FROM e"
	        "  JOIN account_settings s ON s.account_id = e.account_id"
	        "  WHERE s.notify_inviter_on_expiry RETURNING 1)"
	        "SELECT 1 FROM e",
	        2, params, expired);
}

us_err invitation_store_wipe_sealed(PGconn *c, int64_t now_ms, int max)
{
	char now[24], maxs[16];
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	snprintf(maxs, sizeof(maxs), "%d", max);
	const char *params[] = {now, maxs};
	return us_db_exec(c,
	                  "UPDATE invitations SET sealed_token = NULL"
	                  " WHERE sealed_token IS NOT NULL AND (state <> 'pending'"
	                  "  OR expires_at <= " AT_MS("$1") " OR reminders_sent >= $2::int)",
	                  2, params, NULL);
}
