#include "store_principals.h"

#include <stdio.h>
#include <string.h>

#include "common/db.h"
#include "common/row.h"
#include "common/timestamp.h"

#define PRINCIPAL_COLUMNS                                                                   \
	"p.id, p.name, p.all_accounts, p.account_ids, p.methods, p.max_role, p.created_by, "     \
	US_SQL_TIMESTAMP("p.created_at") ", " US_SQL_TIMESTAMP("p.revoked_at")

/* A key's last use is shown to the minute: it is recorded no more often. */
#define KEY_COLUMNS                                                                          \
	"k.principal_id, encode(k.public_key, 'hex'), " US_SQL_TIMESTAMP("k.created_at") ", "    \
	US_SQL_TIMESTAMP("k.expires_at") ", "                                                   \
	US_SQL_TIMESTAMP("date_trunc('minute', k.last_used_at)")

/* The principal in PRINCIPAL_COLUMNS at the reader's row; a NULL timestamp reads as "". */
static Usher__V1__Principal *principal_from_row(us_row *r)
{
	Usher__V1__Principal *p = US_ROW_NEW(r, Usher__V1__Principal);
	if (p == NULL)
		return NULL;
	usher__v1__principal__init(p);
	p->id = us_row_uuid(r, 0);
	p->name = us_row_text(r, 1);
	p->all_accounts = us_row_bool(r, 2);
	p->account_ids = us_row_array(r, 3, &p->n_account_ids);
	p->methods = us_row_array(r, 4, &p->n_methods);
	p->max_role = (Usher__V1__Role)us_row_int(r, 5);
	p->created_by = us_row_text(r, 6);
	p->created_at = us_row_timestamp(r, 7);
	p->revoked_at = us_row_timestamp(r, 8);
	return p;
}

/* Attaches the keys in res (KEY_COLUMNS, ordered by creation) to their principals. */
static us_err attach_keys(us_arena *a, const PGresult *res, Usher__V1__Principal **ps, size_t n)
{
	int rows = PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	for (size_t i = 0; i < n && !us_row_failed(&r); i++) {
		Usher__V1__Principal *p = ps[i];
		size_t count = 0;
		for (int row = 0; row < rows; row++)
			count += strcmp(PQgetvalue(res, row, 0), p->id) == 0;
		p->keys = US_ROW_ARRAY(&r, Usher__V1__PrincipalKey *, count ? count : 1);
		for (r.row = 0; p->keys != NULL && r.row < rows; r.row++) {
			if (strcmp(PQgetvalue(res, r.row, 0), p->id) != 0)
				continue;
			Usher__V1__PrincipalKey *k = US_ROW_NEW(&r, Usher__V1__PrincipalKey);
			if (k == NULL)
				break;
			usher__v1__principal_key__init(k);
			k->public_key = us_row_text(&r, 1);
			k->created_at = us_row_timestamp(&r, 2);
			k->expires_at = us_row_timestamp(&r, 3);
			k->last_used_at = us_row_timestamp(&r, 4);
			p->keys[p->n_keys++] = k;
		}
	}
	return us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

/* Principals from a statement, with their keys from another. */
static us_err load(PGconn *db, us_arena *a, const char *sql, const char *keys_sql,
                   const char *param, Usher__V1__Principal ***out, size_t *n)
{
	const char *params[] = {param};
	int n_params = param != NULL ? 1 : 0;
	PGresult *res;
	us_err rc = us_db_exec(db, sql, n_params, params, &res);
	if (rc != US_OK)
		return rc;
	int rows = PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Principal **ps = US_ROW_ARRAY(&r, Usher__V1__Principal *, rows ? (size_t)rows : 1);
	for (r.row = 0; ps != NULL && r.row < rows; r.row++)
		ps[r.row] = principal_from_row(&r);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	if (rows > 0) {
		rc = us_db_exec(db, keys_sql, n_params, params, &res);
		if (rc != US_OK)
			return rc;
		rc = attach_keys(a, res, ps, (size_t)rows);
		PQclear(res);
		if (rc != US_OK)
			return rc;
	}
	*out = ps;
	*n = (size_t)rows;
	return US_OK;
}

us_err identity_store_principals_list(PGconn *db, us_arena *a, Usher__V1__Principal ***out,
                                      size_t *n)
{
	return load(db, a, "SELECT " PRINCIPAL_COLUMNS " FROM principals p ORDER BY p.created_at, p.id",
	            "SELECT " KEY_COLUMNS " FROM principal_keys k ORDER BY k.created_at", NULL, out, n);
}

us_err identity_store_principal_get(PGconn *db, us_arena *a, const char *ref,
                                    Usher__V1__Principal **out)
{
	Usher__V1__Principal **ps;
	size_t n;
	us_err rc = load(db, a,
	                 "SELECT " PRINCIPAL_COLUMNS " FROM principals p"
	                 " WHERE p.id::text = $1 OR p.name = $1",
	                 "SELECT " KEY_COLUMNS " FROM principal_keys k JOIN principals p"
	                 " ON p.id = k.principal_id WHERE p.id::text = $1 OR p.name = $1"
	                 " ORDER BY k.created_at",
	                 ref, &ps, &n);
	if (rc != US_OK)
		return rc;
	if (n == 0)
		return US_ENOTFOUND;
	*out = ps[0];
	return US_OK;
}

us_err identity_store_principal_create(PGconn *db, us_arena *a, const identity_new_principal *p,
                                       Usher__V1__Principal **out)
{
	char role[8];
	snprintf(role, sizeof(role), "%d", p->max_role);
	const char *accounts = us_db_text_array(a, (const char *const *)p->account_ids,
	                                        p->n_account_ids);
	const char *methods = us_db_text_array(a, (const char *const *)p->methods, p->n_methods);
	if (accounts == NULL || methods == NULL)
		return US_EEXHAUSTED;
	const char *params[] = {p->name, p->all_accounts ? "true" : "false", accounts, methods, role,
	                        p->created_by, (const char *)p->public_key};
	const int lengths[] = {0, 0, 0, 0, 0, 0, US_PUBLIC_KEY_BYTES};
	const int formats[] = {0, 0, 0, 0, 0, 0, 1};
	PGresult *res;
	us_err rc = us_db_exec_bin(db,
	                           "WITH p AS (INSERT INTO principals (name, all_accounts, account_ids,"
	                           " methods, max_role, created_by)"
	                           " VALUES ($1, $2, $3::uuid[], $4::text[], $5, $6) RETURNING id),"
	                           " k AS (INSERT INTO principal_keys (public_key, principal_id)"
	                           " SELECT $7, id FROM p RETURNING 1)"
	                           " SELECT id FROM p",
	                           7, params, lengths, formats, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	char *id = us_row_uuid(&r, 0);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	return identity_store_principal_get(db, a, id, out);
}

us_err identity_store_principal_add_key(PGconn *db, const char *principal_id,
                                        const uint8_t *public_key, int64_t overlap_s, int max_live)
{
	char overlap[24], live_max[8];
	snprintf(overlap, sizeof(overlap), "%lld", (long long)overlap_s);
	snprintf(live_max, sizeof(live_max), "%d", max_live);
	const char *params[] = {principal_id, (const char *)public_key, overlap, live_max};
	const int lengths[] = {0, US_PUBLIC_KEY_BYTES, 0, 0};
	const int formats[] = {0, 1, 0, 0};
	PGresult *res;
	us_err rc = us_db_exec_bin(
	        db,
	        "WITH p AS (SELECT id FROM principals WHERE id = $1 AND revoked_at IS NULL FOR UPDATE),"
	        " live AS (SELECT count(*) AS n FROM principal_keys k JOIN p ON k.principal_id = p.id"
	        "  WHERE k.expires_at IS NULL OR k.expires_at > now()),"
	        " aged AS (UPDATE principal_keys k SET expires_at = least("
	        "  coalesce(k.expires_at, 'infinity'), now() + make_interval(secs => $3::int))"
	        "  FROM p, live WHERE k.principal_id = p.id AND live.n < $4::int"
	        "  AND (k.expires_at IS NULL OR k.expires_at > now()) RETURNING 1),"
	        " added AS (INSERT INTO principal_keys (public_key, principal_id)"
	        "  SELECT $2, p.id FROM p, live WHERE live.n < $4::int RETURNING 1)"
	        " SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM added)",
	        4, params, lengths, formats, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(NULL, res, 0, 0);
	bool found = us_row_int(&r, 0) == 1;
	bool added = us_row_int(&r, 1) == 1;
	PQclear(res);
	if (!found)
		return US_ENOTFOUND;
	return added ? US_OK : US_EPRECONDITION;
}

us_err identity_store_principal_retire_keys(PGconn *db, const char *principal_id)
{
	const char *params[] = {principal_id};
	return us_db_exec(db,
	                  "UPDATE principal_keys SET expires_at = now()"
	                  " WHERE principal_id = $1 AND (expires_at IS NULL OR expires_at > now())"
	                  " AND public_key <> (SELECT public_key FROM principal_keys"
	                  "  WHERE principal_id = $1 ORDER BY created_at DESC LIMIT 1)",
	                  1, params, NULL);
}

us_err identity_store_principal_revoke(PGconn *db, const char *principal_id)
{
	const char *params[] = {principal_id};
	return us_db_exec(db,
	                  "UPDATE principals SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
	                  1, params, NULL);
}

us_err identity_store_principal_by_key(PGconn *db, us_arena *a, const uint8_t *public_key,
                                       Usher__V1__Principal **out, int64_t *key_expires_at_ms)
{
	const char *params[] = {(const char *)public_key};
	const int lengths[] = {US_PUBLIC_KEY_BYTES};
	const int formats[] = {1};
	PGresult *res;
	/* The last use is kept to the minute: one write a minute per key at most. */
	us_err rc = us_db_exec_bin(
	        db,
	        "WITH k AS (SELECT principal_id, expires_at FROM principal_keys"
	        "  WHERE public_key = $1 AND (expires_at IS NULL OR expires_at > now())),"
	        " used AS (UPDATE principal_keys u SET last_used_at = now() FROM k, principals q"
	        "  WHERE u.public_key = $1 AND q.id = k.principal_id AND q.revoked_at IS NULL"
	        "  AND (u.last_used_at IS NULL OR u.last_used_at < now() - interval '1 minute'))"
	        " SELECT " PRINCIPAL_COLUMNS ","
	        " coalesce((extract(epoch FROM k.expires_at) * 1000)::bigint, 0)"
	        " FROM k JOIN principals p ON p.id = k.principal_id WHERE p.revoked_at IS NULL",
	        1, params, lengths, formats, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Principal *p = principal_from_row(&r);
	int64_t expires = us_row_int(&r, 9);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = p;
	*key_expires_at_ms = expires;
	return US_OK;
}

us_err identity_store_principal_by_id(PGconn *db, us_arena *a, const char *id,
                                      Usher__V1__Principal **out)
{
	const char *params[] = {id};
	PGresult *res;
	us_err rc = us_db_exec_one(db,
	                           "SELECT " PRINCIPAL_COLUMNS " FROM principals p"
	                           " WHERE p.id::text = $1 AND p.revoked_at IS NULL",
	                           1, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Principal *p = principal_from_row(&r);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = p;
	return US_OK;
}
