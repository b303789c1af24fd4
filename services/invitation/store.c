#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/housekeeping.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/page_token.h"
#include "common/row.h"
#include "common/strmap.h"
#include "common/timestamp.h"

#define TS(col) US_SQL_TIMESTAMP(col)

/* The columns of an invitation_row, in read_row()'s order. */
#define INV_COLUMNS                                                                            \
	"i.id, i.account_id, i.batch_id, i.email, i.state, "                                       \
	"(i.state = 'pending' AND i.expires_at <= now()), i.existing_user, "                       \
	"b.invited_by, b.inviter_name, b.inviter_email, b.account_name, "      \
	"b.role, b.organization, "                                                                 \
	"b.subaccount_ids, b.products, b.flags, "                                                  \
	TS("i.created_at") ", " TS("i.expires_at") ", " TS("i.last_sent_at") ", "                  \
	TS("i.decided_at") ", "                                                                    \
	"i.revoke_reason, to_char(i.expires_at, 'YYYY-MM-DD HH24:MI \"UTC\"'), "     \
	"i.send_count, i.accepted_user_id, "                                  \
	US_SQL_MICROS("i.created_at") ", "                                                         \
	"b.invited_by_principal, i.accept_request_hash, "                                          \
	"b.redirect_url, b.metadata::text, b.send_email, b.locale, i.reminders_sent"
#define INV_NCOLS 32
/* The batch joined by its key, account included: a join Citus keeps on one shard. */
#define INV_FROM                                                                               \
	" FROM invitations i JOIN batches b ON b.id = i.batch_id AND b.account_id = i.account_id "

/* A token arrives without its account: token_routes (written by triggers, migration 0040)
 * names it, so a lookup by the token's hash $1 reads one account's rows (in Citus, one
 * shard). */
#define ROUTED(t) t ".account_id = (SELECT account_id FROM token_routes WHERE token_hash = $1)"

/* Reads an invitation_row from columns base.. of the reader's row. */
static void read_row(us_row *r, int base, invitation_row *out)
{
	int saved = r->base;
	r->base = base;
	memset(out, 0, sizeof(*out));
	out->id = us_row_uuid(r, 0);
	out->account_id = us_row_uuid(r, 1);
	out->batch_id = us_row_uuid(r, 2);
	out->email = us_row_text(r, 3);
	out->state = us_row_text(r, 4);
	out->expired = us_row_bool(r, 5);
	out->existing_user = us_row_bool(r, 6);
	out->invited_by = us_row_text(r, 7);
	out->inviter_name = us_row_text(r, 8);
	out->inviter_email = us_row_text(r, 9);
	out->account_name = us_row_text(r, 10);
	out->role = (int)us_row_int(r, 11);
	out->organization = us_row_bool(r, 12);
	out->subaccount_ids = us_row_array(r, 13, &out->n_subaccount_ids);
	out->products = us_row_array(r, 14, &out->n_products);
	out->flags = us_row_array(r, 15, &out->n_flags);
	out->created_at = us_row_timestamp(r, 16);
	out->expires_at = us_row_timestamp(r, 17);
	out->last_sent_at = us_row_timestamp(r, 18);
	out->decided_at = us_row_timestamp(r, 19);
	out->revoke_reason = us_row_text(r, 20);
	out->expires_text = us_row_text(r, 21);
	out->send_count = (int)us_row_int(r, 22);
	out->accepted_user_id = us_row_text(r, 23);
	out->created_us = us_row_int(r, 24);
	out->invited_by_principal = us_row_text(r, 25);
	out->accept_request_hash = us_row_text(r, 26);
	out->redirect_url = us_row_text(r, 27);
	out->metadata = us_row_text(r, 28);
	out->send_email = us_row_bool(r, 29);
	out->locale = us_row_text(r, 30);
	out->reminders_sent = (int)us_row_int(r, 31);
	r->base = saved;
}

/* Every row of res as invitation_rows in a; frees res. */
static us_err read_rows(us_arena *a, PGresult *res, invitation_row **rows, size_t *n)
{
	*n = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	*rows = US_ROW_ARRAY(&r, invitation_row, *n ? *n : 1);
	for (size_t i = 0; *rows != NULL && i < *n; i++) {
		r.row = (int)i;
		read_row(&r, 0, &(*rows)[i]);
	}
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_open_emails(PGconn *c, us_arena *a, const char *account_id, char **emails, size_t n,
                         bool *open, bool *lapsed)
{
	memset(open, 0, n * sizeof(bool));
	*lapsed = false;
	if (n == 0)
		return US_OK;
	const char *params[] = {account_id, us_db_text_array(a, (const char *const *)emails, n)};
	if (params[1] == NULL)
		return US_EEXHAUSTED;
	PGresult *res;
	/* The state list is the unique index's predicate, so the index answers: an account's
	 * other invitations are never read. */
	us_err rc = us_db_exec(c,
	                       "SELECT email, state = 'pending' AND expires_at <= now()"
	                       " FROM invitations WHERE account_id = $1"
	                       " AND email = ANY($2::text[]) AND state IN ('pending', 'accepting')",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	us_strmap *found = us_strmap_new((size_t)PQntuples(res));
	if (found == NULL) {
		PQclear(res);
		return US_EEXHAUSTED;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetvalue(res, i, 1)[0] == 't')
			*lapsed = true;
		else
			us_strmap_put(found, PQgetvalue(res, i, 0), NULL);
	}
	for (size_t i = 0; i < n; i++)
		open[i] = us_strmap_get(found, emails[i], NULL);
	us_strmap_free(found);
	PQclear(res);
	return US_OK;
}

us_err invitation_store_batch_begin(PGconn *c, us_arena *a, const invitation_batch *b, char **emails, size_t n,
                         bool expire_lapsed, char **batch_id)
{
	char role[8];
	snprintf(role, sizeof(role), "%d", b->role);
	us_err rc = US_OK;
	/* Addresses whose pending invitation has lapsed get a fresh one: mark the old one.
	 * Only when there is one: the update's event trigger costs a plan even for no rows. */
	if (expire_lapsed) {
		const char *expire_params[] = {b->account_id,
		                               us_db_text_array(a, (const char *const *)emails, n)};
		if (expire_params[1] == NULL)
			return US_EEXHAUSTED;
		rc = us_db_exec(c,
		                "UPDATE invitations SET state = 'expired', updated_at = now() "
		                "WHERE account_id = $1 AND email = ANY($2::text[]) "
		                "AND state = 'pending' AND expires_at <= now()",
		                2, expire_params, NULL);
		if (rc != US_OK)
			return rc;
	}
	const char *params[] = {
		b->account_id, b->account_name, b->invited_by, b->inviter_name, b->inviter_email, role,
		b->organization ? "t" : "f",
		us_db_text_array(a, (const char *const *)b->subaccount_ids, b->n_subaccount_ids),
		us_db_text_array(a, (const char *const *)b->products, b->n_products),
		us_db_text_array(a, (const char *const *)b->flags, b->n_flags),
		b->invited_by_principal,
		b->send_email ? "t" : "f",
		b->redirect_url[0] ? b->redirect_url : NULL,
		b->metadata[0] ? b->metadata : NULL,
		b->locale,
	};
	if (params[7] == NULL || params[8] == NULL || params[9] == NULL)
		return US_EEXHAUSTED;
	PGresult *res;
	/* A NULL parameter is SQL NULL: exactly one of the two inviters is given. */
	rc = us_db_exec(c,
	                "INSERT INTO batches (account_id, account_name, invited_by, inviter_name,"
	                " inviter_email, role, organization, subaccount_ids, products, flags,"
	                " invited_by_principal, send_email, redirect_url, metadata, locale)"
	                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[], $9::text[], $10::text[], $11,"
	                " $12, $13, $14::jsonb, $15)"
	                " RETURNING id",
	                15, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	*batch_id = us_row_uuid(&r, 0);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_batch_add(PGconn *c, us_arena *scratch, us_arena *keep, const char *batch_id,
                       const invitation_batch *b, const char *caller, const char *audit_detail,
                       invitation_new *rows, size_t n)
{
	const char **emails = US_ARENA_ARRAY(scratch, const char *, n ? n : 1);
	const char **hashes = US_ARENA_ARRAY(scratch, const char *, n ? n : 1);
	bool *existing = US_ARENA_ARRAY(scratch, bool, n ? n : 1);
	const char **kept = US_ARENA_ARRAY(scratch, const char *, n ? n : 1);
	if (emails == NULL || hashes == NULL || existing == NULL || kept == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n; i++) {
		emails[i] = rows[i].email;
		hashes[i] = rows[i].token_hash_hex;
		existing[i] = rows[i].existing_user;
		/* The sealed copy a reminder needs; none when the caller delivers the link. */
		kept[i] = b->send_email ? rows[i].sealed_token : "";
	}
	char hours[16];
	snprintf(hours, sizeof(hours), "%d", b->expires_in_hours);
	const char *params[] = {
		batch_id, b->account_id, us_db_text_array(scratch, emails, n),
		us_db_text_array(scratch, hashes, n), us_db_bool_array(scratch, existing, n), hours,
		us_db_text_array(scratch, kept, n), us_log_request_id(), b->send_email ? "t" : "f",
		b->invited_by, b->invited_by_principal, caller, audit_detail,
	};
	if (params[2] == NULL || params[3] == NULL || params[4] == NULL || params[6] == NULL)
		return US_EEXHAUSTED;
	PGresult *res;
	/* The outbox rows (when Usher sends the emails), the relays' wake-up and the audit rows
	 * (common/audit.h: the actor is the inviter, a person or a service principal) in the
	 * same statement, read from the rows just inserted: no join, no more round trips. A
	 * NULL parameter is SQL NULL: exactly one of the two inviters is given. */
	us_err rc = us_db_exec(
	        c,
	        "WITH i AS ("
	        " INSERT INTO invitations (batch_id, account_id, email, token_hash, existing_user,"
	        "  expires_at, sealed_token)"
	        " SELECT $1, $2, u.email, decode(u.token_hash, 'hex'), u.existing_user,"
	        "  now() + make_interval(hours => $6::int), nullif(u.sealed, '')"
	        " FROM unnest($3::text[], $4::text[], $5::boolean[], $7::text[]) AS u (email,"
	        "  token_hash, existing_user, sealed)"
	        " ON CONFLICT (account_id, email) WHERE state IN ('pending', 'accepting') DO NOTHING"
	        " RETURNING id, email, sealed_token),"
	        " ob AS (INSERT INTO outbox (kind, invitation_id, send_number, sealed_token,"
	        "  request_id, account_id)"
	        "  SELECT 'invite', id, 1, sealed_token, $8, $2 FROM i WHERE $9::boolean RETURNING 1),"
	        " au AS (INSERT INTO audit_log (account_id, actor_user_id, actor_principal_id,"
	        "  actor_caller, action, subject_type, subject_id, subject_email, detail)"
	        "  SELECT $2::uuid, $10::uuid, $11::uuid, $12, 'invitation.create', 'invitation', id,"
	        "  email, $13 FROM i ORDER BY id)"
	        "SELECT id, email FROM i",
	        13, params, &res);
	if (rc != US_OK)
		return rc;
	us_strmap *by_email = us_strmap_new(n);
	if (by_email == NULL) {
		PQclear(res);
		return US_EEXHAUSTED;
	}
	for (size_t i = 0; i < n; i++)
		us_strmap_put(by_email, rows[i].email, &rows[i]);
	us_row r = us_row_at(keep, res, 0, 0);
	for (int i = 0; i < PQntuples(res); i++) {
		void *row;
		r.row = i;
		if (us_strmap_get(by_email, PQgetvalue(res, i, 1), &row))
			((invitation_new *)row)->id = us_row_uuid(&r, 0);
	}
	us_strmap_free(by_email);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

static us_err get_one(PGconn *c, us_arena *a, const char *sql, int n_params,
                      const char *const *params, const int *lengths, const int *formats,
                      invitation_row *out)
{
	PGresult *res;
	us_err rc = us_db_exec_bin(c, sql, n_params, params, lengths, formats, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	us_row r = us_row_at(a, res, 0, 0);
	read_row(&r, 0, out);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_get_by_id(PGconn *c, us_arena *a, const char *id, invitation_row *out)
{
	const char *params[] = {id};
	return get_one(c, a, "SELECT " INV_COLUMNS INV_FROM "WHERE i.id = $1", 1, params, NULL, NULL,
	               out);
}

us_err invitation_store_get_by_token(PGconn *c, us_arena *a, const uint8_t *hash, invitation_row *out)
{
	const char *params[] = {(const char *)hash};
	const int lengths[] = {32};
	const int formats[] = {1};
	return get_one(c, a, "SELECT " INV_COLUMNS INV_FROM "WHERE i.token_hash = $1 AND " ROUTED("i"),
	               1, params, lengths, formats, out);
}

static us_err exec_count(PGconn *c, const char *sql, int n, const char *const *params, int *rows)
{
	PGresult *res;
	us_err rc = us_db_exec(c, sql, n, params, &res);
	if (rc != US_OK)
		return rc;
	*rows = PQntuples(res) > 0 ? PQntuples(res) : atoi(PQcmdTuples(res));
	PQclear(res);
	return US_OK;
}

us_err invitation_store_get_locked(PGconn *c, us_arena *a, const char *id, invitation_row *out)
{
	const char *params[] = {id};
	return get_one(c, a, "SELECT " INV_COLUMNS INV_FROM "WHERE i.id = $1 FOR UPDATE OF i", 1,
	               params, NULL, NULL, out);
}

us_err invitation_store_claim(PGconn *c, const char *id, const char *account_id, const char *user_id,
                   const char *request_hash, bool *claimed)
{
	const char *params[] = {id, user_id, request_hash, account_id};
	int rows = 0;
	/* An existing user's claim is committed without waiting for the disk (set_config's
	 * local value holds until this statement's own commit): the finish's durable commit
	 * flushes it with itself, and a database crash before then loses the claim alone.
	 * The caller got no reply and retries; tenancyd replays the membership under the
	 * saga's key. A new user's claim stays durable: identityd creates the user under it. */
	us_err rc = exec_count(c,
	                       "UPDATE invitations SET state = 'accepting', accept_started_at = now(),"
	                       " updated_at = now(), accepted_user_id = $2::uuid,"
	                       " claim_pid = pg_backend_pid(), accept_request_hash = $3"
	                       " WHERE id = $1 AND account_id = $4 AND state = 'pending'"
	                       " AND expires_at > now()"
	                       " AND pg_catalog.set_config('synchronous_commit', CASE WHEN $2::uuid IS NULL"
	                       " THEN current_setting('synchronous_commit') ELSE 'off' END, true) <> ''",
	                       4, params, &rows);
	*claimed = rc == US_OK && rows == 1;
	return rc;
}

/* The claim of a signed-in invitee's accept, for anybody yet: the user and their address
 * are checked (and the user stamped) before the commit, which does not wait for the disk
 * (as invitation_store_claim's). $1 the token's hash or the id, $2 the hash of the
 * request. */
#define CLAIM_AHEAD_SET                                                                        \
	"UPDATE invitations i SET state = 'accepting', accept_started_at = now(),"                 \
	" updated_at = now(), claim_pid = pg_backend_pid(), accept_request_hash = $2"              \
	" FROM batches b"
#define CLAIM_AHEAD_OPEN                                                                       \
	" AND b.id = i.batch_id AND b.account_id = i.account_id"                                    \
	" AND i.state = 'pending' AND i.expires_at > now()"                                        \
	" AND pg_catalog.set_config('synchronous_commit', 'off', true) = 'off'"                    \
	" RETURNING " INV_COLUMNS

us_err invitation_store_claim_ahead_send(PGconn *c, const uint8_t *token_hash, const char *id,
                                         const char *request_hash)
{
	const char *params[] = {token_hash != NULL ? (const char *)token_hash : id, request_hash};
	const int lengths[] = {token_hash != NULL ? 32 : 0, 0};
	const int formats[] = {token_hash != NULL, 0};
	const us_db_stmt stmts[] = {
		{"BEGIN", 0, NULL, NULL, NULL},
		token_hash != NULL
		        ? (us_db_stmt){CLAIM_AHEAD_SET " WHERE i.token_hash = $1 AND " ROUTED("i")
		                       CLAIM_AHEAD_OPEN, 2, params, lengths, formats}
		        : (us_db_stmt){CLAIM_AHEAD_SET " WHERE i.id = $1::uuid" CLAIM_AHEAD_OPEN, 2,
		                       params, NULL, NULL},
	};
	us_err rc = us_db_send(c, stmts, 2);
	if (rc != US_OK)
		us_db_rollback(c);
	return rc;
}

us_err invitation_store_claim_ahead_end(PGconn *c, us_arena *a, const char *email,
                                        const char *user_id, invitation_row *out, bool *claimed)
{
	*claimed = false;
	PGresult *res[2];
	us_err rc = us_db_receive(c, 2, res);
	PQclear(res[0]);
	bool found = rc == US_OK && PQntuples(res[1]) == 1;
	if (found) {
		us_row r = us_row_at(a, res[1], 0, 0);
		read_row(&r, 0, out);
		if (us_row_failed(&r))
			rc = US_EEXHAUSTED;
	}
	PQclear(res[1]);
	if (rc != US_OK || !found || email == NULL || strcmp(out->email, email) != 0) {
		us_db_rollback(c);
		return rc;
	}
	out->accepted_user_id = us_arena_strdup(a, user_id);
	const char *params[] = {out->id, user_id};
	const us_db_stmt stmts[] = {
		{"UPDATE invitations SET accepted_user_id = $2::uuid WHERE id = $1", 2, params, NULL,
		 NULL},
		{"COMMIT", 0, NULL, NULL, NULL},
	};
	rc = out->accepted_user_id != NULL ? us_db_pipeline(c, stmts, 2, NULL) : US_EEXHAUSTED;
	if (rc != US_OK) {
		us_db_rollback(c);
		return rc;
	}
	*claimed = true;
	return US_OK;
}

us_err invitation_store_release(PGconn *c, const char *id)
{
	const char *params[] = {id};
	return us_db_exec(c,
	                  "UPDATE invitations SET state = 'pending', accept_started_at = NULL,"
	                  " accepted_user_id = NULL, updated_at = now()"
	                  " WHERE id = $1 AND state = 'accepting'",
	                  1, params, NULL);
}

#define FINISH_ACCEPT                                                                          \
	"WITH done AS ("                                                                       \
	" UPDATE invitations SET state = 'accepted', decided_at = now(),"                      \
	"  updated_at = now(), accepted_user_id = $2::uuid"                                    \
	" WHERE id = $1 AND state = 'accepting'"                                               \
	" RETURNING id, send_count, decided_at, account_id),"                                  \
	" ob AS (INSERT INTO outbox (kind, invitation_id, send_number, request_id,"            \
	"  account_id)"                                                                        \
	"  SELECT 'accepted', id, send_count, $3, account_id FROM done RETURNING 1)"          \
	"SELECT " TS("done.decided_at") ", (SELECT count(*) FROM ob), "                        \
	"coalesce((SELECT s.home_url FROM account_settings s"                                  \
	" WHERE s.account_id = done.account_id), '') FROM done"

/* The finish's row: when, and the account's home URL (both NULL when nothing was
 * accepting any more). */
static us_err read_finish(us_arena *a, PGresult *res, char **decided_at, char **home_url)
{
	us_row r = us_row_at(a, res, 0, 0);
	if (decided_at != NULL)
		*decided_at = PQntuples(res) == 1 ? us_row_timestamp(&r, 0) : NULL;
	if (home_url != NULL)
		*home_url = PQntuples(res) == 1 ? us_row_text(&r, 2) : NULL;
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_finish_accept(PGconn *c, us_arena *a, const char *id, const char *user_id,
                           char **decided_at, char **home_url)
{
	const char *params[] = {id, user_id, us_log_request_id()};
	PGresult *res;
	us_err rc = us_db_exec(c, FINISH_ACCEPT, 3, params, &res);
	if (rc != US_OK)
		return rc;
	return read_finish(a, res, decided_at, home_url);
}

us_err invitation_store_finish_accept_send(PGconn *c, const char *id, const char *user_id)
{
	const char *params[] = {id, user_id, us_log_request_id()};
	const us_db_stmt stmts[] = {
		{"BEGIN", 0, NULL, NULL, NULL},
		{FINISH_ACCEPT, 3, params, NULL, NULL},
	};
	us_err rc = us_db_send(c, stmts, 2);
	if (rc != US_OK)
		us_db_rollback(c);
	return rc;
}

us_err invitation_store_finish_accept_end(PGconn *c, us_arena *a, bool commit, char **decided_at,
                                          char **home_url)
{
	PGresult *res[2];
	us_err rc = us_db_receive(c, 2, res);
	PQclear(res[0]);
	if (rc == US_OK && commit)
		rc = us_db_commit(c);
	else
		us_db_rollback(c);
	if (rc != US_OK || !commit) {
		PQclear(res[1]);
		return rc;
	}
	return read_finish(a, res[1], decided_at, home_url);
}

us_err invitation_store_fail_accept(PGconn *c, const char *id, const char *reason)
{
	const char *params[] = {id, reason};
	return us_db_exec(c,
	                  "UPDATE invitations SET state = 'revoked', decided_at = now(),"
	                  " updated_at = now(), revoke_reason = $2"
	                  " WHERE id = $1 AND state = 'accepting'",
	                  2, params, NULL);
}

us_err invitation_store_decline(PGconn *c, const char *id, bool *done)
{
	const char *params[] = {id, us_log_request_id()};
	int rows = 0;
	us_err rc = exec_count(c,
	                       "WITH d AS ("
	                       " UPDATE invitations SET state = 'declined', decided_at = now(),"
	                       "  updated_at = now()"
	                       " WHERE id = $1 AND state = 'pending' AND expires_at > now()"
	                       " RETURNING id, send_count, account_id),"
	                       " ob AS (INSERT INTO outbox (kind, invitation_id, send_number, request_id,"
	                       "  account_id)"
	                       "  SELECT 'declined', id, send_count, $2, account_id FROM d RETURNING 1)"
	                       "SELECT 1 FROM ob",
	                       2, params, &rows);
	*done = rc == US_OK && rows == 1;
	return rc;
}

us_err invitation_store_revoke(PGconn *c, const char *id, const char *reason, bool *done)
{
	const char *params[] = {id, reason};
	int rows = 0;
	us_err rc = exec_count(c,
	                       "UPDATE invitations SET state = 'revoked', decided_at = now(),"
	                       " updated_at = now(), revoke_reason = $2"
	                       " WHERE id = $1 AND state IN ('pending', 'expired')",
	                       2, params, &rows);
	*done = rc == US_OK && rows == 1;
	return rc;
}

us_err invitation_store_reinvite(PGconn *c, const char *id, const char *token_hash_hex,
                      const char *sealed_token, bool existing_user, int expires_in_hours,
                      int64_t min_interval_s, invitation_reinvite_result *result)
{
	char hours[16], interval[24];
	snprintf(hours, sizeof(hours), "%d", expires_in_hours);
	snprintf(interval, sizeof(interval), "%lld", (long long)min_interval_s);
	const char *params[] = {id, token_hash_hex, sealed_token, existing_user ? "t" : "f", hours,
	                        interval, us_log_request_id()};
	int rows = 0;
	us_err rc = exec_count(
	        c,
	        "WITH r AS ("
	        " UPDATE invitations SET token_hash = decode($2, 'hex'), state = 'pending',"
	        "  existing_user = $4, expires_at = now() + make_interval(hours => $5::int),"
	        "  last_sent_at = now(), send_count = send_count + 1, updated_at = now(),"
	        "  reminders_sent = 0, last_reminded_at = NULL, sealed_token = $3"
	        " WHERE id = $1 AND state IN ('pending', 'expired')"
	        "  AND last_sent_at <= now() - make_interval(secs => $6::int)"
	        " RETURNING id, send_count, account_id),"
	        " ob AS (INSERT INTO outbox (kind, invitation_id, send_number, sealed_token, request_id,"
	        "  account_id)"
	        "  SELECT 'invite', id, send_count, $3, $7, account_id FROM r WHERE $3 IS NOT NULL"
	        "  RETURNING 1)"
	        "SELECT 1 FROM r",
	        7, params, &rows);
	if (rc == US_EEXISTS) {
		*result = INVITATION_REINVITE_SUPERSEDED;
		return US_OK;
	}
	if (rc != US_OK)
		return rc;
	*result = rows == 1 ? INVITATION_REINVITE_DONE : INVITATION_REINVITE_TOO_SOON;
	return US_OK;
}

static const char *const state_names[] = {
	NULL, "pending", "accepting", "accepted", "declined", "revoked", "expired",
};

/* The list's filters past account and state: each one is off when its parameter is NULL.
 * None of them decides the order, so the index scan stays sorted. */
#define LIST_FILTERS                                                                           \
	" AND ($3::text IS NULL OR strpos(i.email, $3) > 0)"                                       \
	" AND ($4::uuid IS NULL OR (b.organization AND NOT $8::bool)"                              \
	"  OR $4::uuid = ANY (b.subaccount_ids))"

/* The keyset position, always present so it stays an index condition even in a generic
 * plan (prepared statements switch to one after five runs): the first page starts after
 * the end of time. */
#define LIST_AFTER                                                                             \
	" AND (i.created_at, i.id) < (COALESCE(" US_SQL_FROM_MICROS("$5") ", 'infinity'),"        \
	"  COALESCE($6::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))"                           \
	" ORDER BY i.created_at DESC, i.id DESC LIMIT $7"

/* The lists' join: each invitation's batch by key (with its account, for Citus), read
 * per row of the index scan ("OFFSET 0" keeps Postgres from flattening it into a join it
 * would estimate badly: the two correlated join columns made it expect 1% of the rows,
 * and sort them instead of reading the index in order and stopping at the page's end). */
#define LIST_FROM                                                                              \
	" FROM invitations i CROSS JOIN LATERAL (SELECT * FROM batches b"                          \
	"  WHERE b.id = i.batch_id AND b.account_id = i.account_id OFFSET 0) b "

/* The WHERE of the pending list: its own partial index (invitations_pending_by_account),
 * so page 500 costs what page 1 does. $2 is 'pending', named so that every list statement
 * takes the same parameters. */
#define PENDING_WHERE                                                                          \
	"WHERE i.account_id = $1 AND i.state = 'pending' AND $2::text = 'pending'"                 \
	" AND i.expires_at > now()" LIST_FILTERS LIST_AFTER

/* The list statements' parameters, in buffers of the caller. */
static void list_params(const invitation_list_query *q, char limit[16], char after[24],
                        const char *params[8])
{
	snprintf(limit, 16, "%u", q->page_size);
	snprintf(after, 24, "%lld", (long long)(q->after != NULL ? q->after->created_us : 0));
	params[0] = q->account_id;
	params[1] = q->state > 0 && q->state <= 6 ? state_names[q->state] : NULL;
	params[2] = q->email_contains;
	params[3] = q->subaccount_id;
	params[4] = q->after != NULL ? after : NULL;
	params[5] = q->after != NULL ? q->after->id : NULL;
	params[6] = limit;
	params[7] = q->subaccounts_only ? "true" : "false";
}

us_err invitation_store_list(PGconn *c, us_arena *a, const invitation_list_query *q, invitation_row **rows, size_t *n)
{
	char limit[16], after[24];
	const char *params[8];
	list_params(q, limit, after, params);
	PGresult *res;
	us_err rc;
	/* Pending, the list people page through most, has its own statement. */
	if (params[1] != NULL && strcmp(params[1], "pending") == 0)
		rc = us_db_exec(c, "SELECT " INV_COLUMNS LIST_FROM PENDING_WHERE, 8, params, &res);
	else
		rc = us_db_exec(c,
		                "SELECT " INV_COLUMNS LIST_FROM
		                "WHERE i.account_id = $1"
		                " AND ($2::text IS NULL OR CASE $2"
		                "  WHEN 'expired' THEN i.state = 'expired'"
		                "   OR (i.state = 'pending' AND i.expires_at <= now())"
		                "  ELSE i.state = $2 END)" LIST_FILTERS LIST_AFTER,
		                8, params, &res);
	if (rc != US_OK)
		return rc;
	return read_rows(a, res, rows, n);
}

/* A microseconds column as the reply's timestamp; NULL as "" (what us_row_timestamp gives). */
static char *micros_text(us_row *r, int col)
{
	if (us_row_null(r, col))
		return (char *)"";
	char *out = us_row_alloc(r, US_TIMESTAMP_LEN + 1);
	if (out != NULL)
		us_timestamp_format(us_row_int(r, col), out);
	return out != NULL ? out : (char *)"";
}

us_err invitation_store_list_pending_summaries(PGconn *c, us_arena *a,
                                               const invitation_list_query *q,
                                               invitation_summary **rows, size_t *n)
{
	char limit[16], after[24];
	const char *params[8];
	list_params(q, limit, after, params);
	PGresult *res;
	/* Timestamps as microseconds, formatted here: to_char of two per row was a quarter of
	 * the page's cost (common/timestamp.h). */
	us_err rc = us_db_exec(c,
	                       "SELECT i.id, i.email, b.role, " US_SQL_MICROS("i.last_sent_at") ", "
	                       US_SQL_MICROS("i.expires_at") ", i.send_count, " US_SQL_MICROS("i.created_at")
	                       LIST_FROM PENDING_WHERE,
	                       8, params, &res);
	if (rc != US_OK)
		return rc;
	*n = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	*rows = US_ROW_ARRAY(&r, invitation_summary, *n ? *n : 1);
	for (size_t i = 0; *rows != NULL && i < *n; i++) {
		r.row = (int)i;
		invitation_summary *s = &(*rows)[i];
		s->id = us_row_uuid(&r, 0);
		s->email = us_row_text(&r, 1);
		s->role = (int)us_row_int(&r, 2);
		s->last_sent_at = micros_text(&r, 3);
		s->expires_at = micros_text(&r, 4);
		s->send_count = (int)us_row_int(&r, 5);
		s->created_us = us_row_int(&r, 6);
	}
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_list_for_email(PGconn *c, us_arena *a, const char *email, invitation_row **rows, size_t *n)
{
	const char *params[] = {email};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT " INV_COLUMNS INV_FROM
	                       "WHERE i.email = $1 AND i.state = 'pending' AND i.expires_at > now()"
	                       " ORDER BY i.created_at DESC LIMIT " US_LIMIT_TEXT(US_PAGE_SIZE_MAX),
	                       1, params, &res);
	if (rc != US_OK)
		return rc;
	return read_rows(a, res, rows, n);
}

/* An accept nobody attends to: the session that claimed it is gone (a daemon that died;
 * pid 0, let go; or a backend started after the claim, reusing the pid), or it has been
 * in progress for stale (a parameter, in seconds). */
#define ACCEPT_UNATTENDED(stale)                                                               \
	"i.state = 'accepting' AND (NOT EXISTS ("                                                  \
	"  SELECT 1 FROM pg_stat_activity a WHERE a.pid = i.claim_pid"                             \
	"  AND a.backend_start <= i.accept_started_at)"                                            \
	" OR i.accept_started_at < now() - make_interval(secs => " stale "::int))"

us_err invitation_store_take_stale_accept(PGconn *c, us_arena *a, int64_t stale_s,
                                          invitation_row *out, int64_t *taken_us)
{
	char stale[24];
	snprintf(stale, sizeof(stale), "%lld", (long long)stale_s);
	const char *params[] = {stale};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "WITH t AS (UPDATE invitations SET claim_pid = pg_backend_pid(),"
	                       "  accept_started_at = now(), updated_at = now()"
	                       "  WHERE id = (SELECT i.id FROM invitations i WHERE "
	                       ACCEPT_UNATTENDED("$1")
	                       "   ORDER BY i.accept_started_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
	                       "  RETURNING *)"
	                       "SELECT " INV_COLUMNS ", " US_SQL_MICROS("i.updated_at")
	                       " FROM t i JOIN batches b ON b.id = i.batch_id AND b.account_id = i.account_id",
	                       1, params, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	us_row r = us_row_at(a, res, 0, 0);
	read_row(&r, 0, out);
	*taken_us = us_row_int(&r, INV_NCOLS);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_release_taken(PGconn *c, const char *id, int64_t taken_us,
                                      bool *released)
{
	char taken[24];
	snprintf(taken, sizeof(taken), "%lld", (long long)taken_us);
	const char *params[] = {id, taken};
	int rows = 0;
	us_err rc = exec_count(c,
	                       "UPDATE invitations SET state = 'pending', accept_started_at = NULL,"
	                       " accepted_user_id = NULL, updated_at = now()"
	                       " WHERE id = $1 AND state = 'accepting' AND claim_pid = pg_backend_pid()"
	                       " AND updated_at = " US_SQL_FROM_MICROS("$2"),
	                       2, params, &rows);
	*released = rc == US_OK && rows == 1;
	return rc;
}

us_err invitation_store_let_go(PGconn *c, const char *id)
{
	const char *params[] = {id};
	return us_db_exec(c,
	                  "UPDATE invitations SET claim_pid = 0"
	                  " WHERE id = $1 AND state = 'accepting' AND claim_pid = pg_backend_pid()",
	                  1, params, NULL);
}

us_err invitation_store_touch(PGconn *c, const char *id)
{
	const char *params[] = {id};
	return us_db_exec(c, "UPDATE invitations SET updated_at = now() WHERE id = $1", 1, params,
	                  NULL);
}

us_err invitation_store_outbox_take(PGconn *c, us_arena *a, size_t limit, invitation_outbox_row **rows, size_t *n)
{
	char lim[24];
	snprintf(lim, sizeof(lim), "%zu", limit);
	const char *params[] = {lim};
	PGresult *res;
	/* Both tables are reached by key with "= ANY (ARRAY(...))": written as joins, Postgres
	 * scanned the whole outbox and the whole invitations table for every chunk (a
	 * 50,000-row batch is 25 chunks of 2,000), a cost that grew with the batch. Planned at
	 * each call (the caller's transaction): a relay polls an empty outbox long before a
	 * batch fills it, and the plan Postgres would keep from then is for small tables. */
	us_err rc = us_db_exec(c, "SET LOCAL plan_cache_mode = force_custom_plan", 0, NULL, NULL);
	if (rc != US_OK)
		return rc;
	rc = us_db_exec(c,
	                "WITH t AS (DELETE FROM outbox WHERE id = ANY (ARRAY("
	                "  SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED))"
	                " RETURNING id, kind, send_number, sealed_token, invitation_id,"
	                "  reminder_number, request_id, account_id)"
	                "SELECT t.id, t.kind, t.send_number, t.sealed_token,"
	                " coalesce(t.reminder_number, 0), t.request_id, "
	                INV_COLUMNS " FROM t JOIN invitations i ON i.id = t.invitation_id"
	                " AND i.account_id = t.account_id"
	                " JOIN batches b ON b.id = i.batch_id AND b.account_id = i.account_id"
	                " WHERE i.id = ANY (ARRAY(SELECT invitation_id FROM t)) ORDER BY t.id",
	                1, params, &res);
	if (rc != US_OK)
		return rc;
	*n = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	*rows = US_ROW_ARRAY(&r, invitation_outbox_row, *n ? *n : 1);
	for (size_t i = 0; *rows != NULL && i < *n; i++) {
		invitation_outbox_row *o = &(*rows)[i];
		r.row = (int)i;
		o->kind = us_row_text(&r, 1);
		o->send_number = (int)us_row_int(&r, 2);
		o->sealed_token = us_row_text(&r, 3);
		o->reminder_number = (int)us_row_int(&r, 4);
		o->request_id = us_row_text(&r, 5);
		read_row(&r, 6, &o->inv);
	}
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

/* --- permanent links --- */

#define LINK_COLUMNS                                                                           \
	"id, account_id, subaccount_id, account_name, created_by, "           \
	"sealed_token, state = 'active', expires_at <= now(), "                  \
	"max_uses > 0 AND uses >= max_uses, " TS("expires_at") ", " TS("created_at") ", "          \
	"max_uses, uses, allowed_email_domains"

static void read_link(us_row *r, invitation_link_row *l)
{
	l->id = us_row_uuid(r, 0);
	l->account_id = us_row_uuid(r, 1);
	l->subaccount_id = us_row_text(r, 2);
	l->account_name = us_row_text(r, 3);
	l->created_by = us_row_uuid(r, 4);
	l->sealed_token = us_row_text(r, 5);
	l->active = us_row_bool(r, 6);
	l->expired = us_row_bool(r, 7);
	l->used_up = us_row_bool(r, 8);
	l->expires_at = us_row_timestamp(r, 9);
	l->created_at = us_row_timestamp(r, 10);
	l->max_uses = (unsigned)us_row_int(r, 11);
	l->uses = (unsigned)us_row_int(r, 12);
	l->domains = us_row_array(r, 13, &l->n_domains);
}

static us_err one_link(PGconn *c, us_arena *a, const char *sql, int n, const char *const *params,
                       const int *lengths, const int *formats, invitation_link_row *out)
{
	PGresult *res;
	us_err rc = us_db_exec_bin(c, sql, n, params, lengths, formats, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	us_row r = us_row_at(a, res, 0, 0);
	read_link(&r, out);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_link_enable(PGconn *c, us_arena *a, const invitation_link_spec *l, invitation_link_row *out)
{
	const char *scope_params[] = {l->account_id, l->subaccount_id};
	us_err rc = us_db_exec(c,
	                       "UPDATE links SET state = 'deleted', deleted_at = now()"
	                       " WHERE account_id = $1 AND subaccount_id IS NOT DISTINCT FROM $2::uuid"
	                       " AND state = 'active'",
	                       2, scope_params, NULL);
	if (rc != US_OK)
		return rc;
	char hours[16], max_uses[16];
	snprintf(hours, sizeof(hours), "%u", l->expires_in_hours);
	snprintf(max_uses, sizeof(max_uses), "%u", l->max_uses);
	const char *params[] = {
		l->account_id, l->subaccount_id, l->account_name, l->created_by, l->token_hash_hex,
		l->sealed_token, hours, max_uses,
		us_db_text_array(a, (const char *const *)l->domains, l->n_domains),
	};
	if (params[8] == NULL)
		return US_EEXHAUSTED;
	return one_link(c, a,
	                "INSERT INTO links (account_id, subaccount_id, account_name, created_by,"
	                " token_hash, sealed_token, expires_at, max_uses, allowed_email_domains)"
	                " VALUES ($1, $2::uuid, $3, $4, decode($5, 'hex'), $6,"
	                " CASE WHEN $7::int > 0 THEN now() + make_interval(hours => $7::int) END,"
	                " $8::int, $9::text[])"
	                " RETURNING " LINK_COLUMNS,
	                9, params, NULL, NULL, out);
}

us_err invitation_store_link_get(PGconn *c, us_arena *a, const char *account_id, const char *subaccount_id,
                      invitation_link_row *out)
{
	const char *params[] = {account_id, subaccount_id};
	return one_link(c, a,
	                "SELECT " LINK_COLUMNS " FROM links WHERE account_id = $1"
	                " AND subaccount_id IS NOT DISTINCT FROM $2::uuid AND state = 'active'",
	                2, params, NULL, NULL, out);
}

us_err invitation_store_link_delete(PGconn *c, us_arena *a, const char *account_id, const char *subaccount_id,
                         invitation_link_row *out)
{
	const char *params[] = {account_id, subaccount_id};
	return one_link(c, a,
	                "UPDATE links SET state = 'deleted', deleted_at = now() WHERE account_id = $1"
	                " AND subaccount_id IS NOT DISTINCT FROM $2::uuid AND state = 'active'"
	                " RETURNING " LINK_COLUMNS,
	                2, params, NULL, NULL, out);
}

us_err invitation_store_link_by_token(PGconn *c, us_arena *a, const uint8_t *hash, invitation_link_row *out)
{
	const char *params[] = {(const char *)hash};
	const int lengths[] = {32};
	const int formats[] = {1};
	return one_link(c, a,
	                "SELECT " LINK_COLUMNS " FROM links WHERE token_hash = $1 AND " ROUTED("links"),
	                1, params, lengths, formats, out);
}

us_err invitation_store_link_by_id(PGconn *c, us_arena *a, const char *id, invitation_link_row *out)
{
	const char *params[] = {id};
	return one_link(c, a, "SELECT " LINK_COLUMNS " FROM links WHERE id = $1", 1, params, NULL,
	                NULL, out);
}

/* The link's use, and the claim holding it, in one statement: a claim that conflicts undoes
 * the use with it. */
us_err invitation_store_link_claim(PGconn *c, const char *link_id, const char *email, const char *user_id,
                        const char *request_hash, const char *join_request_id, bool *taken,
                        unsigned *use)
{
	const char *params[] = {link_id, email, user_id, request_hash, join_request_id};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "WITH u AS (UPDATE links SET uses = uses + 1 WHERE id = $1"
	                       "  AND state = 'active' AND (expires_at IS NULL OR expires_at > now())"
	                       "  AND (max_uses = 0 OR uses < max_uses) RETURNING uses, account_id)"
	                       "INSERT INTO link_claims (link_id, email, user_id, use_number,"
	                       " request_hash, claim_pid, join_request_id, account_id)"
	                       " SELECT $1, $2, $3::uuid, u.uses, $4, pg_backend_pid(), $5::uuid,"
	                       "  u.account_id FROM u"
	                       " RETURNING use_number",
	                       5, params, &res);
	if (rc != US_OK)
		return rc;
	*taken = PQntuples(res) == 1;
	us_row r = us_row_at(NULL, res, 0, 0);
	*use = *taken ? (unsigned)us_row_int(&r, 0) : 0;
	PQclear(res);
	return US_OK;
}

#define CLAIM_COLUMNS                                                                          \
	"c.link_id, c.email, c.user_id, c.use_number, c.request_hash, "       \
	"c.join_request_id, c.claim_pid IS NOT NULL"

/* A claim nobody works on: its session is gone (a daemon that died; pid 0, let go; or a
 * backend started after the claim, reusing the pid), or it has been at it for stale_s. */
#define CLAIM_UNATTENDED(stale)                                                                \
	"c.claim_pid IS NOT NULL AND (NOT EXISTS (SELECT 1 FROM pg_stat_activity s"               \
	" WHERE s.pid = c.claim_pid AND s.backend_start <= c.claimed_at)"                         \
	" OR c.claimed_at < now() - make_interval(secs => " stale "::int))"

static void read_claim(us_row *r, invitation_link_claim_row *out)
{
	out->link_id = us_row_uuid(r, 0);
	out->email = us_row_text(r, 1);
	out->user_id = us_row_text(r, 2);
	out->use_number = (unsigned)us_row_int(r, 3);
	out->request_hash = us_row_text(r, 4);
	out->join_request_id = us_row_text(r, 5);
	out->working = us_row_bool(r, 6);
}

static us_err one_claim(PGconn *c, us_arena *a, const char *sql, int n, const char *const *params,
                        invitation_link_claim_row *out)
{
	PGresult *res;
	us_err rc = us_db_exec(c, sql, n, params, &res);
	if (rc != US_OK)
		return rc;
	rc = PQntuples(res) == 1 ? US_OK : US_ENOTFOUND;
	us_row r = us_row_at(a, res, 0, 0);
	if (rc == US_OK)
		read_claim(&r, out);
	PQclear(res);
	return rc == US_OK && us_row_failed(&r) ? US_EEXHAUSTED : rc;
}

/* The statement's affected rows, as *hit (rows > 0). */
static us_err exec_hit(PGconn *c, const char *sql, int n, const char *const *params, bool *hit)
{
	int rows = 0;
	us_err rc = exec_count(c, sql, n, params, &rows);
	*hit = rc == US_OK && rows > 0;
	return rc;
}

us_err invitation_store_link_claim_get(PGconn *c, us_arena *a, const char *link_id, const char *email,
                            bool lock, invitation_link_claim_row *out)
{
	const char *params[] = {link_id, email};
	return one_claim(c, a,
	                 lock ? "SELECT " CLAIM_COLUMNS " FROM link_claims c"
	                        " WHERE c.link_id = $1 AND c.email = $2 FOR UPDATE"
	                      : "SELECT " CLAIM_COLUMNS " FROM link_claims c"
	                        " WHERE c.link_id = $1 AND c.email = $2",
	                 2, params, out);
}

us_err invitation_store_link_claim_take_over(PGconn *c, const char *link_id, const char *email,
                                  int64_t stale_s, bool *taken)
{
	char stale[24];
	snprintf(stale, sizeof(stale), "%lld", (long long)stale_s);
	const char *params[] = {link_id, email, stale};
	return exec_hit(c,
	                "UPDATE link_claims c SET claim_pid = pg_backend_pid(), claimed_at = now()"
	                " WHERE c.link_id = $1 AND c.email = $2 AND " CLAIM_UNATTENDED("$3"),
	                3, params, taken);
}

us_err invitation_store_link_claim_let_go(PGconn *c, const char *link_id, const char *email)
{
	const char *params[] = {link_id, email};
	return us_db_exec(c,
	                  "UPDATE link_claims SET claim_pid = 0"
	                  " WHERE link_id = $1 AND email = $2 AND claim_pid = pg_backend_pid()",
	                  2, params, NULL);
}

us_err invitation_store_link_claim_user(PGconn *c, const char *link_id, const char *email, const char *user_id,
                             bool *kept)
{
	const char *params[] = {link_id, email, user_id};
	return exec_hit(c,
	                "UPDATE link_claims SET user_id = $3"
	                " WHERE link_id = $1 AND email = $2 AND claim_pid IS NOT NULL",
	                3, params, kept);
}

us_err invitation_store_link_release(PGconn *c, const char *link_id, const char *email)
{
	const char *params[] = {link_id, email};
	return us_db_exec(c,
	                  "WITH gone AS (DELETE FROM link_claims WHERE link_id = $1 AND email = $2"
	                  "  RETURNING link_id, join_request_id),"
	                  " cancelled AS (UPDATE link_join_requests SET state = 'cancelled',"
	                  "  decided_at = now(), sealed_token = NULL"
	                  "  WHERE id IN (SELECT join_request_id FROM gone) AND state = 'pending')"
	                  "UPDATE links SET uses = uses - 1 WHERE id IN (SELECT link_id FROM gone)"
	                  " AND uses > 0",
	                  2, params, NULL);
}

us_err invitation_store_link_complete(PGconn *c, const char *link_id, const char *email, const char *user_id,
                           const char *membership_id, bool *done)
{
	const char *params[] = {link_id, email, user_id, membership_id};
	return exec_hit(c,
	                "WITH done AS (DELETE FROM link_claims WHERE link_id = $1 AND email = $2"
	                "  RETURNING use_number, request_hash, join_request_id, account_id),"
	                " closed AS (UPDATE link_join_requests SET state = 'joined',"
	                "  decided_at = now(), sealed_token = NULL"
	                "  WHERE id IN (SELECT join_request_id FROM done) AND state = 'pending')"
	                "INSERT INTO link_joins (link_id, user_id, email, membership_id, use_number,"
	                " request_hash, account_id)"
	                " SELECT $1, $3, $2, $4, use_number, request_hash, account_id FROM done"
	                " ON CONFLICT (link_id, user_id, account_id) DO UPDATE SET email = EXCLUDED.email,"
	                " membership_id = EXCLUDED.membership_id, use_number = EXCLUDED.use_number,"
	                " request_hash = EXCLUDED.request_hash, joined_at = now()",
	                4, params, done);
}

#define JOINED_COLUMNS                                                                         \
	"j.link_id, j.email, j.user_id::text, j.use_number, j.request_hash, '', false"

us_err invitation_store_link_join_get(PGconn *c, us_arena *a, const char *link_id, const char *email,
                           invitation_link_claim_row *out)
{
	const char *params[] = {link_id, email};
	return one_claim(c, a,
	                 "SELECT " JOINED_COLUMNS " FROM link_joins j WHERE j.link_id = $1"
	                 " AND j.email = $2 AND j.request_hash IS NOT NULL"
	                 " ORDER BY j.joined_at DESC LIMIT 1",
	                 2, params, out);
}

us_err invitation_store_link_join_of_user(PGconn *c, us_arena *a, const char *link_id, const char *user_id,
                               invitation_link_claim_row *out)
{
	const char *params[] = {link_id, user_id};
	return one_claim(c, a,
	                 "SELECT " JOINED_COLUMNS " FROM link_joins j WHERE j.link_id = $1"
	                 " AND j.user_id = $2 AND j.use_number IS NOT NULL",
	                 2, params, out);
}

us_err invitation_store_unattended_link_claim(PGconn *c, us_arena *a, int64_t stale_s, invitation_link_claim_row *out)
{
	char stale[24];
	snprintf(stale, sizeof(stale), "%lld", (long long)stale_s);
	const char *params[] = {stale};
	return one_claim(c, a,
	                 "SELECT " CLAIM_COLUMNS " FROM link_claims c WHERE " CLAIM_UNATTENDED("$1")
	                 " ORDER BY c.claimed_at LIMIT 1 FOR UPDATE SKIP LOCKED",
	                 1, params, out);
}

us_err invitation_store_lapsed_link_claim(PGconn *c, us_arena *a, invitation_link_claim_row *out, bool *unconfirmed)
{
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT " CLAIM_COLUMNS ", r.state = 'pending'"
	                       " FROM link_claims c JOIN link_join_requests r ON r.id = c.join_request_id"
	                       " WHERE c.claim_pid IS NULL"
	                       " AND (r.state <> 'pending' OR r.expires_at <= now())"
	                       " ORDER BY r.expires_at LIMIT 1 FOR UPDATE OF c SKIP LOCKED",
	                       0, NULL, &res);
	if (rc != US_OK)
		return rc;
	rc = PQntuples(res) == 1 ? US_OK : US_ENOTFOUND;
	us_row r = us_row_at(a, res, 0, 0);
	if (rc == US_OK) {
		read_claim(&r, out);
		*unconfirmed = us_row_bool(&r, 7);
	}
	PQclear(res);
	return rc == US_OK && us_row_failed(&r) ? US_EEXHAUSTED : rc;
}

us_err invitation_store_link_joins(PGconn *c, us_arena *a, const char *account_id, unsigned limit,
                        invitation_link_join_row **rows, size_t *n)
{
	char lim[16];
	snprintf(lim, sizeof(lim), "%u", limit);
	const char *params[] = {account_id, lim};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT j.link_id, j.user_id, j.email, j.membership_id, "
	                       TS("j.joined_at") ", l.subaccount_id"
	                       " FROM link_joins j JOIN links l ON l.id = j.link_id"
	                       " AND l.account_id = j.account_id"
	                       " WHERE j.account_id = $1 ORDER BY j.joined_at DESC LIMIT $2::int",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	*n = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	*rows = US_ROW_ARRAY(&r, invitation_link_join_row, *n ? *n : 1);
	for (size_t i = 0; *rows != NULL && i < *n; i++) {
		invitation_link_join_row *j = &(*rows)[i];
		r.row = (int)i;
		j->link_id = us_row_uuid(&r, 0);
		j->user_id = us_row_uuid(&r, 1);
		j->email = us_row_text(&r, 2);
		j->membership_id = us_row_uuid(&r, 3);
		j->joined_at = us_row_timestamp(&r, 4);
		j->subaccount_id = us_row_text(&r, 5);
	}
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

/* --- joins waiting for their address to be proven --- */

#define JOIN_COLUMNS                                                                           \
	"r.id, r.user_id, r.email, r.state, r.expires_at <= now(), " TS("r.expires_at") ", "       \
	"to_char(r.expires_at, 'YYYY-MM-DD HH24:MI \"UTC\"'), r.sealed_token"

static us_err one_join(PGconn *c, us_arena *a, const char *sql, int n, const char *const *params,
                       const int *lengths, const int *formats, invitation_join_request_row *out)
{
	PGresult *res;
	us_err rc = us_db_exec_bin(c, sql, n, params, lengths, formats, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	us_row r = us_row_at(a, res, 0, 0);
	out->id = us_row_uuid(&r, 0);
	out->user_id = us_row_uuid(&r, 1);
	out->email = us_row_text(&r, 2);
	out->state = us_row_text(&r, 3);
	out->expired = us_row_bool(&r, 4);
	out->expires_at = us_row_timestamp(&r, 5);
	out->expires_text = us_row_text(&r, 6);
	out->sealed_token = us_row_text(&r, 7);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

/* The request's link too. */
static us_err with_link(PGconn *c, us_arena *a, us_err rc, invitation_join_request_row *out)
{
	if (rc != US_OK)
		return rc;
	const char *params[] = {out->id};
	return one_link(c, a,
	                "SELECT " LINK_COLUMNS " FROM links WHERE id ="
	                " (SELECT link_id FROM link_join_requests WHERE id = $1)",
	                1, params, NULL, NULL, &out->link);
}

us_err invitation_store_join_request_open(PGconn *c, us_arena *a, const char *link_id, const char *email,
                               const char *user_id, const char *token_hash_hex,
                               const char *sealed_token, unsigned hours, invitation_join_request_row *out)
{
	char h[16];
	snprintf(h, sizeof(h), "%u", hours);
	const char *params[] = {link_id, user_id, email, token_hash_hex, sealed_token, h};
	us_err rc = one_join(c, a,
	                     "WITH replaced AS (UPDATE link_join_requests SET state = 'cancelled',"
	                     "  decided_at = now(), sealed_token = NULL"
	                     "  WHERE link_id = $1 AND user_id = $2 AND state = 'pending'),"
	                     " r AS (INSERT INTO link_join_requests (link_id, user_id, email,"
	                     "  token_hash, sealed_token, expires_at, account_id) SELECT $1, $2, $3,"
	                     "  decode($4, 'hex'), $5, now() + make_interval(hours => $6::int),"
	                     "  account_id FROM links WHERE id = $1"
	                     "  RETURNING *),"
	                     " claimed AS (UPDATE link_claims SET join_request_id = (SELECT id FROM r),"
	                     "  user_id = $2 WHERE link_id = $1 AND email = $3)"
	                     "SELECT " JOIN_COLUMNS " FROM r",
	                     6, params, NULL, NULL, out);
	return with_link(c, a, rc, out);
}

us_err invitation_store_join_request_get(PGconn *c, us_arena *a, const char *id, invitation_join_request_row *out)
{
	const char *params[] = {id};
	us_err rc = one_join(c, a, "SELECT " JOIN_COLUMNS " FROM link_join_requests r WHERE r.id = $1",
	                     1, params, NULL, NULL, out);
	return with_link(c, a, rc, out);
}

us_err invitation_store_join_request_by_token(PGconn *c, us_arena *a, const uint8_t *hash,
                                   invitation_join_request_row *out)
{
	const char *params[] = {(const char *)hash};
	const int lengths[] = {32};
	const int formats[] = {1};
	us_err rc = one_join(c, a,
	                     "SELECT " JOIN_COLUMNS " FROM link_join_requests r"
	                     " WHERE r.token_hash = $1 AND " ROUTED("r"),
	                     1, params, lengths, formats, out);
	return with_link(c, a, rc, out);
}

us_err invitation_store_join_request_mailed(PGconn *c, const char *link_id, const char *email,
                                 const char *request_id)
{
	const char *params[] = {link_id, email, request_id};
	return us_db_exec(c,
	                  "WITH awaiting AS (UPDATE link_claims SET claim_pid = NULL"
	                  "  WHERE link_id = $1 AND email = $2 AND join_request_id = $3)"
	                  "UPDATE link_join_requests SET sealed_token = NULL WHERE id = $3",
	                  3, params, NULL);
}

/* --- retention (common/housekeeping.h): $1 days --- */

/* Closed invitations, from when they closed: an expired one (marked so by the reminder
 * loop or not yet) when it expired, the others at their last change; never one an outbox
 * row still names. */
const char invitation_store_purge_invitations[] =
        "DELETE FROM invitations WHERE id IN (SELECT i.id FROM invitations i"
        " WHERE (i.state NOT IN ('pending', 'accepting', 'expired')"
        " AND " US_SQL_OLDER_THAN("i.updated_at") " OR i.state IN ('pending', 'expired')"
        " AND " US_SQL_OLDER_THAN("i.expires_at") ")"
        " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.invitation_id = i.id)"
        US_SQL_RETENTION_LIMIT ")";
const char invitation_store_purge_batches[] =
        "DELETE FROM batches WHERE id IN (SELECT b.id FROM batches b"
        " WHERE " US_SQL_OLDER_THAN("b.created_at")
        " AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.batch_id = b.id)"
        US_SQL_RETENTION_LIMIT ")";
const char invitation_store_purge_link_joins[] =
        "DELETE FROM link_joins WHERE (link_id, user_id) IN (SELECT link_id, user_id"
        " FROM link_joins WHERE " US_SQL_OLDER_THAN("joined_at") US_SQL_RETENTION_LIMIT ")";
const char invitation_store_purge_link_join_requests[] =
        "DELETE FROM link_join_requests WHERE id IN (SELECT r.id FROM link_join_requests r"
        " WHERE (r.state <> 'pending' AND " US_SQL_OLDER_THAN("r.decided_at")
        " OR " US_SQL_OLDER_THAN("r.expires_at") ")"
        " AND NOT EXISTS (SELECT 1 FROM link_claims c WHERE c.join_request_id = r.id)"
        US_SQL_RETENTION_LIMIT ")";

/* --- DeleteUser sagas (erasure.c) --- */

#define ERASURE_COLUMNS "id, user_id, coalesce(email, ''), coalesce(name, ''), pseudonym_id, state"

static us_err read_erasure(us_arena *a, PGresult *res, invitation_erasure *out)
{
	if (PQntuples(res) != 1) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	us_row r = us_row_at(a, res, 0, 0);
	out->id = us_row_uuid(&r, 0);
	out->user_id = us_row_uuid(&r, 1);
	out->email = us_row_text(&r, 2);
	out->name = us_row_text(&r, 3);
	out->pseudonym_id = us_row_uuid(&r, 4);
	out->state = us_row_text(&r, 5);
	PQclear(res);
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err invitation_store_erasure_get(PGconn *c, us_arena *a, const char *user_id,
                                    invitation_erasure *out)
{
	const char *params[] = {user_id};
	PGresult *res;
	us_err rc = us_db_exec(c, "SELECT " ERASURE_COLUMNS " FROM erasures WHERE user_id = $1::uuid",
	                       1, params, &res);
	return rc != US_OK ? rc : read_erasure(a, res, out);
}

us_err invitation_store_erasure_begin(PGconn *c, us_arena *a, const char *user_id,
                                      const char *email, const char *name,
                                      invitation_erasure *out)
{
	const char *params[] = {user_id, email[0] ? email : NULL, name};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "WITH ins AS (INSERT INTO erasures (user_id, email, name, claim_pid)"
	                       " VALUES ($1::uuid, $2, $3, pg_backend_pid())"
	                       " ON CONFLICT (user_id) DO NOTHING RETURNING *)"
	                       " SELECT " ERASURE_COLUMNS " FROM ins UNION ALL"
	                       " SELECT " ERASURE_COLUMNS " FROM erasures WHERE user_id = $1::uuid"
	                       " AND NOT EXISTS (SELECT 1 FROM ins)",
	                       3, params, &res);
	return rc != US_OK ? rc : read_erasure(a, res, out);
}

us_err invitation_store_erasure_take(PGconn *c, us_arena *a, int64_t stale_s,
                                     invitation_erasure *out)
{
	char stale[24];
	snprintf(stale, sizeof(stale), "%lld", (long long)stale_s);
	const char *params[] = {stale};
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "UPDATE erasures SET claim_pid = pg_backend_pid(), claimed_at = now()"
	                       " WHERE id = (SELECT e.id FROM erasures e WHERE e.state = 'erasing'"
	                       "  AND (NOT EXISTS (SELECT 1 FROM pg_stat_activity s"
	                       "   WHERE s.pid = e.claim_pid AND s.backend_start <= e.claimed_at)"
	                       "  OR e.claimed_at < now() - make_interval(secs => $1::int))"
	                       "  ORDER BY e.claimed_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
	                       " RETURNING " ERASURE_COLUMNS,
	                       1, params, &res);
	return rc != US_OK ? rc : read_erasure(a, res, out);
}

us_err invitation_store_erasure_let_go(PGconn *c, const char *id)
{
	const char *params[] = {id};
	return us_db_exec(c,
	                  "UPDATE erasures SET claim_pid = 0"
	                  " WHERE id = $1 AND state = 'erasing' AND claim_pid = pg_backend_pid()",
	                  1, params, NULL);
}

us_err invitation_store_erasure_finish(PGconn *c, const char *id)
{
	const char *params[] = {id};
	return us_db_exec(c,
	                  "UPDATE erasures SET state = 'done', email = NULL, name = NULL,"
	                  " claim_pid = NULL, finished_at = now() WHERE id = $1 AND state = 'erasing'",
	                  1, params, NULL);
}

us_err invitation_store_erase_user(PGconn *c, const Usher__V1__EraseUserRequest *req, long *rows)
{
	const char *params[] = {req->user_id, req->email[0] ? req->email : NULL, req->pseudonym_id,
	                        req->pseudonym_email};
	PGresult *res;
	us_err rc = us_db_exec(
	        c,
	        "WITH gone AS (SELECT id FROM invitations WHERE email = $2"
	        "  OR accepted_user_id = $1::uuid),"
	        " o AS (DELETE FROM outbox WHERE invitation_id IN (SELECT id FROM gone) RETURNING 1),"
	        " i AS (DELETE FROM invitations WHERE id IN (SELECT id FROM gone) RETURNING 1),"
	        " b AS (UPDATE batches SET invited_by = $3::uuid, inviter_name = 'erased user',"
	        "  inviter_email = $4 WHERE invited_by = $1::uuid RETURNING 1),"
	        " c AS (DELETE FROM link_claims WHERE email = $2 OR user_id = $1::uuid RETURNING 1),"
	        " r AS (DELETE FROM link_join_requests WHERE email = $2 OR user_id = $1::uuid"
	        "  RETURNING 1),"
	        " j AS (DELETE FROM link_joins WHERE email = $2 OR user_id = $1::uuid RETURNING 1),"
	        " l AS (UPDATE links SET created_by = $3::uuid WHERE created_by = $1::uuid RETURNING 1)"
	        " SELECT (SELECT count(*) FROM o) + (SELECT count(*) FROM i) + (SELECT count(*) FROM b)"
	        " + (SELECT count(*) FROM c) + (SELECT count(*) FROM r) + (SELECT count(*) FROM j)"
	        " + (SELECT count(*) FROM l)",
	        4, params, &res);
	if (rc != US_OK)
		return rc;
	*rows += atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return US_OK;
}

us_err invitation_store_gauges(PGconn *c, int64_t *outbox, double *outbox_oldest_s,
                               int64_t *claims)
{
	PGresult *res;
	us_err rc = us_db_exec(c,
	                       "SELECT (SELECT count(*) FROM outbox),"
	                       " (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)"
	                       " FROM outbox),"
	                       " (SELECT count(*) FROM invitations WHERE claim_pid IS NOT NULL)"
	                       " + (SELECT count(*) FROM link_claims WHERE claim_pid IS NOT NULL)",
	                       0, NULL, &res);
	if (rc != US_OK)
		return rc;
	*outbox = atoll(PQgetvalue(res, 0, 0));
	*outbox_oldest_s = atof(PQgetvalue(res, 0, 1));
	*claims = atoll(PQgetvalue(res, 0, 2));
	PQclear(res);
	return US_OK;
}
