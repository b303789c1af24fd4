#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/housekeeping.h"
#include "common/row.h"
#include "common/timestamp.h"

#define USER_COLUMNS                                                                        \
	"u.id, u.email, u.email_verified, u.name, coalesce(u.phone, ''), u.status = 'active', " \
	US_SQL_TIMESTAMP("u.created_at")
#define N_USER_COLUMNS 7

#define MAX_PARAMS 8

/* A statement's parameters: text, or bytea sent as raw bytes. */
typedef struct params {
	const char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS];
	int formats[MAX_PARAMS];
	char numbers[MAX_PARAMS][24];
	int n;
} params;

static void p_text(params *p, const char *value)
{
	p->values[p->n] = value;
	p->lengths[p->n] = 0;
	p->formats[p->n] = 0;
	p->n++;
}

static void p_int(params *p, int64_t value)
{
	snprintf(p->numbers[p->n], sizeof(p->numbers[p->n]), "%" PRId64, value);
	p_text(p, p->numbers[p->n]);
}

static void p_bool(params *p, bool value)
{
	p_text(p, value ? "true" : "false");
}

/* NULL bytes is SQL NULL. */
static void p_bytes(params *p, const uint8_t *bytes, size_t len)
{
	p->values[p->n] = (const char *)bytes;
	p->lengths[p->n] = (int)len;
	p->formats[p->n] = 1;
	p->n++;
}

static us_err run(PGconn *db, const char *sql, const params *p, PGresult **out)
{
	return us_db_exec_bin(db, sql, p->n, p->values, p->lengths, p->formats, out);
}

/* Runs a statement that returns at most one row: NOT_FOUND when it returns none. */
static us_err run_row(PGconn *db, const char *sql, const params *p, PGresult **out)
{
	PGresult *res;
	us_err rc = run(db, sql, p, &res);
	if (rc != US_OK)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return US_ENOTFOUND;
	}
	*out = res;
	return US_OK;
}

/* The User in USER_COLUMNS from the reader's column 0 on. */
static Usher__V1__User *user_from_row(us_row *r)
{
	Usher__V1__User *u = US_ROW_NEW(r, Usher__V1__User);
	if (u == NULL)
		return NULL;
	usher__v1__user__init(u);
	u->id = us_row_uuid(r, 0);
	u->email = us_row_text(r, 1);
	u->email_verified = us_row_bool(r, 2);
	u->name = us_row_text(r, 3);
	u->phone = us_row_text(r, 4);
	u->status = us_row_bool(r, 5) ? USHER__V1__USER_STATUS__USER_ACTIVE
	                              : USHER__V1__USER_STATUS__USER_DISABLED;
	u->created_at = us_row_timestamp(r, 6);
	return u;
}

/* Runs a statement returning one user row; NOT_FOUND when none. */
static us_err one_user(PGconn *db, us_arena *a, const char *sql, const params *p,
                       Usher__V1__User **out)
{
	PGresult *res;
	us_err rc = run_row(db, sql, p, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__User *u = user_from_row(&r);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = u;
	return US_OK;
}

/* The id and the timestamp of a one-row result (RETURNING id, expires_at). */
static us_err id_and_time(us_arena *a, PGresult *res, char **id, char **at)
{
	us_row r = us_row_at(a, res, 0, 0);
	char *x = us_row_uuid(&r, 0);
	char *y = us_row_timestamp(&r, 1);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*id = x;
	*at = y;
	return US_OK;
}

us_err identity_store_create_user(PGconn *db, us_arena *a, const identity_new_user *u,
                                  Usher__V1__User **out)
{
	params p = {0};
	p_text(&p, u->email);
	p_text(&p, u->name);
	p_text(&p, u->phone);
	p_text(&p, u->password_hash);
	p_bool(&p, u->email_verified);
	return one_user(db, a,
	                "INSERT INTO users AS u (email, name, phone, password_hash, email_verified) "
	                "VALUES ($1, $2, nullif($3, ''), $4, $5) RETURNING " USER_COLUMNS,
	                &p, out);
}

us_err identity_store_email_taken(PGconn *db, const char *email, bool *taken)
{
	params p = {0};
	p_text(&p, email);
	PGresult *res;
	us_err rc = run(db, "SELECT EXISTS (SELECT FROM users WHERE email = $1 AND email_verified)",
	                &p, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(NULL, res, 0, 0);
	*taken = us_row_bool(&r, 0);
	PQclear(res);
	return US_OK;
}

us_err identity_store_release_claim(PGconn *db, us_arena *a, const char *email,
                                    const char *except_id, char **released)
{
	params p = {0};
	p_text(&p, email);
	p_text(&p, except_id);
	PGresult *res;
	us_err rc = run(db,
	                "WITH released AS (UPDATE users SET email = NULL, email_released_at = now(), "
	                "updated_at = now() WHERE email = $1 AND NOT email_verified "
	                "AND id IS DISTINCT FROM $2::uuid RETURNING id), "
	                "ended AS (DELETE FROM sessions s USING released r WHERE s.user_id = r.id) "
	                "SELECT id FROM released",
	                &p, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	char *id = PQntuples(res) > 0 ? us_row_uuid(&r, 0) : NULL;
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	if (released != NULL)
		*released = id;
	return US_OK;
}

us_err identity_store_verify_email(PGconn *db, us_arena *a, const char *user_id, const char *email,
                                   Usher__V1__User **out)
{
	params p = {0};
	p_text(&p, user_id);
	p_text(&p, email);
	return one_user(db, a,
	                "UPDATE users u SET email_verified = true, updated_at = now() "
	                "WHERE u.id = $1 AND u.email = $2 AND u.status = 'active' "
	                "RETURNING " USER_COLUMNS,
	                &p, out);
}

us_err identity_store_count_request(PGconn *db, const uint8_t *subject, int64_t window_s,
                                    int64_t *count)
{
	params p = {0};
	p_bytes(&p, subject, IDENTITY_SUBJECT_BYTES);
	p_int(&p, window_s);
	PGresult *res;
	us_err rc = run_row(db,
	                    "WITH forgotten AS (DELETE FROM request_counters "
	                    "WHERE window_start <= now() - make_interval(secs => $2::int) "
	                    "AND subject <> $1::bytea) "
	                    "INSERT INTO request_counters AS c (subject, requests, window_start) "
	                    "VALUES ($1::bytea, 1, now()) ON CONFLICT (subject) DO UPDATE SET "
	                    "requests = CASE WHEN c.window_start > now() - make_interval(secs => "
	                    "$2::int) THEN c.requests + 1 ELSE 1 END, "
	                    "window_start = CASE WHEN c.window_start > now() - make_interval(secs => "
	                    "$2::int) THEN c.window_start ELSE now() END "
	                    "RETURNING requests",
	                    &p, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(NULL, res, 0, 0);
	*count = us_row_int(&r, 0);
	PQclear(res);
	return US_OK;
}

/* Records a link for user_id to address (its token as hash) that expires ttl from now,
 * through sql ($1 user, $2 address, $3 hash, $4 ttl; RETURNING the id and expires_at). */
static us_err open_link(PGconn *db, us_arena *a, const char *sql, const char *user_id,
                        const char *address, const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                        int64_t ttl, char **id, char **expires_at)
{
	params p = {0};
	p_text(&p, user_id);
	p_text(&p, address);
	p_bytes(&p, token_hash, US_TOKEN_HASH_BYTES);
	p_int(&p, ttl);
	PGresult *res;
	us_err rc = run_row(db, sql, &p, &res);
	if (rc != US_OK)
		return rc;
	return id_and_time(a, res, id, expires_at);
}

us_err identity_store_open_password_reset(PGconn *db, us_arena *a, const char *user_id,
                                          const char *email,
                                          const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                          int64_t ttl_minutes, char **reset_id, char **expires_at)
{
	return open_link(db, a,
	                 "WITH replaced AS (DELETE FROM password_resets "
	                 "WHERE user_id = $1::uuid AND used_at IS NULL) "
	                 "INSERT INTO password_resets (user_id, email, token_hash, expires_at) "
	                 "VALUES ($1::uuid, $2, $3, now() + make_interval(mins => $4::int)) "
	                 "RETURNING id, " US_SQL_TIMESTAMP("expires_at"),
	                 user_id, email, token_hash, ttl_minutes, reset_id, expires_at);
}

us_err identity_store_open_email_verification(PGconn *db, us_arena *a, const char *user_id,
                                              const char *email,
                                              const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                              int64_t ttl_hours, char **id, char **expires_at)
{
	return open_link(db, a,
	                 "WITH replaced AS (DELETE FROM email_verifications "
	                 "WHERE user_id = $1::uuid AND used_at IS NULL) "
	                 "INSERT INTO email_verifications (user_id, email, token_hash, expires_at) "
	                 "VALUES ($1::uuid, $2, $3, now() + make_interval(hours => $4::int)) "
	                 "RETURNING id, " US_SQL_TIMESTAMP("expires_at"),
	                 user_id, email, token_hash, ttl_hours, id, expires_at);
}

us_err identity_store_use_email_verification(PGconn *db, us_arena *a,
                                             const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                             Usher__V1__User **user)
{
	params p = {0};
	p_bytes(&p, token_hash, US_TOKEN_HASH_BYTES);
	Usher__V1__User *found;
	us_err rc = one_user(db, a,
	                     "WITH used AS (UPDATE email_verifications SET used_at = now() "
	                     "WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() "
	                     "RETURNING user_id, email) "
	                     "SELECT " USER_COLUMNS " FROM used r JOIN users u "
	                     "ON u.id = r.user_id AND u.email = r.email AND u.status = 'active'",
	                     &p, &found);
	if (rc != US_OK)
		return rc;
	return identity_store_verify_email(db, a, found->id, found->email, user);
}

us_err identity_store_find_password_reset(PGconn *db, us_arena *a,
                                          const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                          Usher__V1__User **user)
{
	params p = {0};
	p_bytes(&p, token_hash, US_TOKEN_HASH_BYTES);
	return one_user(db, a,
	                "SELECT " USER_COLUMNS " FROM password_resets r JOIN users u "
	                "ON u.id = r.user_id AND u.email = r.email AND u.status = 'active' "
	                "WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now() "
	                "FOR UPDATE OF r",
	                &p, user);
}

us_err identity_store_use_password_reset(PGconn *db, const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                         const char *user_id, const char *password_hash)
{
	params p = {0};
	p_bytes(&p, token_hash, US_TOKEN_HASH_BYTES);
	p_text(&p, user_id);
	p_text(&p, password_hash);
	return run(db,
	           "WITH used AS (UPDATE password_resets SET used_at = now() WHERE token_hash = $1), "
	           "others AS (DELETE FROM password_resets WHERE user_id = $2::uuid "
	           "AND token_hash <> $1), "
	           "ended AS (DELETE FROM sessions WHERE user_id = $2::uuid) "
	           "UPDATE users SET password_hash = $3, email_verified = true, updated_at = now() "
	           "WHERE id = $2::uuid",
	           &p, NULL);
}

us_err identity_store_get_user(PGconn *db, us_arena *a, const char *id, Usher__V1__User **out)
{
	params p = {0};
	p_text(&p, id);
	return one_user(db, a, "SELECT " USER_COLUMNS " FROM users u WHERE u.id = $1", &p, out);
}

us_err identity_store_get_users(PGconn *db, us_arena *a, const char *const *ids, size_t n,
                                Usher__V1__User ***out, size_t *n_out)
{
	const char *list = us_db_text_array(a, ids, n);
	if (list == NULL)
		return US_EEXHAUSTED;
	params p = {0};
	p_text(&p, list);
	PGresult *res;
	us_err rc = run(db,
	                "SELECT " USER_COLUMNS " FROM users u "
	                "JOIN (SELECT id, min(i) AS i FROM unnest($1::uuid[]) WITH ORDINALITY AS "
	                "r (id, i) GROUP BY id) r ON r.id = u.id ORDER BY r.i",
	                &p, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__User **users = US_ROW_ARRAY(&r, Usher__V1__User *, rows ? rows : 1);
	for (size_t i = 0; users != NULL && i < rows; i++) {
		r.row = (int)i;
		users[i] = user_from_row(&r);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = users;
	*n_out = rows;
	return US_OK;
}

#define LOOKUP_UNCAPPED_MAX 100

static us_err lookup(PGconn *db, us_arena *a, const params *p,
                                    identity_email_hit **out, size_t *n_out)
{
	PGresult *res;
	us_err rc = run(db,
	                "SELECT e.i, u.id, u.name, u.email_verified "
	                "FROM unnest($1::text[]) WITH ORDINALITY AS e (email, i) "
	                "JOIN users u ON u.email = e.email ORDER BY e.i",
	                p, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	identity_email_hit *hits = US_ROW_ARRAY(&r, identity_email_hit, rows ? rows : 1);
	for (size_t i = 0; hits != NULL && i < rows; i++) {
		identity_email_hit *h = &hits[i];
		r.row = (int)i;
		h->index = (size_t)us_row_int(&r, 0) - 1;
		h->user_id = us_row_uuid(&r, 1);
		h->name = us_row_text(&r, 2);
		h->email_verified = us_row_bool(&r, 3);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = hits;
	*n_out = rows;
	return US_OK;
}

us_err identity_store_lookup_emails(PGconn *db, us_arena *a, const char *const *emails, size_t n,
                                    int64_t timeout_ms, identity_email_hit **out, size_t *n_out)
{
	const char *list = us_db_text_array(a, emails, n);
	if (list == NULL)
		return US_EEXHAUSTED;
	params p = {0};
	p_text(&p, list);
	/* A few addresses are as many index probes: no statement worth capping, and the
	 * transaction that caps would cost three round trips more (one invitation's lookup). */
	if (n <= LOOKUP_UNCAPPED_MAX)
		return lookup(db, a, &p, out, n_out);
	/* A transaction only to cap the one big statement at the caller's budget. */
	us_err rc = us_db_begin(db);
	if (rc == US_OK)
		rc = us_db_set_local_timeout(db, (long)timeout_ms);
	if (rc == US_OK)
		rc = lookup(db, a, &p, out, n_out);
	if (rc == US_OK)
		return us_db_commit(db);
	us_db_rollback(db);
	return rc;
}

static us_err credentials(PGconn *db, us_arena *a, const char *sql, const char *key,
                          Usher__V1__User **user, char **hash)
{
	params p = {0};
	p_text(&p, key);
	PGresult *res;
	us_err rc = run_row(db, sql, &p, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__User *u = user_from_row(&r);
	r.base = N_USER_COLUMNS;
	char *h = us_row_text(&r, 0);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*user = u;
	*hash = h;
	return US_OK;
}

us_err identity_store_credentials_by_email(PGconn *db, us_arena *a, const char *email,
                                           Usher__V1__User **user, char **hash)
{
	return credentials(db, a,
	                   "SELECT " USER_COLUMNS ", u.password_hash FROM users u WHERE u.email = $1",
	                   email, user, hash);
}

us_err identity_store_credentials_by_id(PGconn *db, us_arena *a, const char *id,
                                        Usher__V1__User **user, char **hash)
{
	return credentials(db, a,
	                   "SELECT " USER_COLUMNS ", u.password_hash FROM users u WHERE u.id = $1",
	                   id, user, hash);
}

us_err identity_store_update_profile(PGconn *db, us_arena *a, const char *id, const char *name,
                                     const char *phone, Usher__V1__User **out)
{
	params p = {0};
	p_text(&p, id);
	p_text(&p, name);
	p_text(&p, phone);
	return one_user(db, a,
	                "UPDATE users u SET name = $2, phone = nullif($3, ''), updated_at = now() "
	                "WHERE u.id = $1 RETURNING " USER_COLUMNS,
	                &p, out);
}

us_err identity_store_set_password(PGconn *db, const char *user_id, const char *hash,
                                   const uint8_t *keep_session_hash)
{
	params p = {0};
	p_text(&p, user_id);
	p_text(&p, hash);
	p_bytes(&p, keep_session_hash, keep_session_hash ? US_TOKEN_HASH_BYTES : 0);
	return run(db,
	           "WITH changed AS (UPDATE users SET password_hash = $2, updated_at = now() "
	           "WHERE id = $1 RETURNING id) "
	           "DELETE FROM sessions s USING changed c "
	           "WHERE s.user_id = c.id AND s.token_hash IS DISTINCT FROM $3::bytea",
	           &p, NULL);
}

us_err identity_store_throttle_read(PGconn *db, const identity_throttle_subjects *s,
                                    int64_t window_s, int64_t known_days,
                                    identity_throttle_count out[3])
{
	params p = {0};
	p_bytes(&p, s->pair, IDENTITY_SUBJECT_BYTES);
	p_bytes(&p, s->email, IDENTITY_SUBJECT_BYTES);
	p_bytes(&p, s->network, s->network ? IDENTITY_SUBJECT_BYTES : 0);
	p_int(&p, window_s);
	p_int(&p, known_days);
	PGresult *res;
	us_err rc = run(db,
	                "SELECT CASE subject WHEN $1::bytea THEN 0 WHEN $2::bytea THEN 1 ELSE 2 END, "
	                "CASE WHEN last_failure_at > now() - make_interval(secs => $4::int) "
	                "THEN failures ELSE 0 END, "
	                "coalesce((extract(epoch FROM now() - last_failure_at) * 1000)::bigint, 0), "
	                "coalesce(last_success_at > now() - make_interval(days => $5::int), false) "
	                "FROM login_throttle WHERE subject IN ($1::bytea, $2::bytea, $3::bytea)",
	                &p, &res);
	if (rc != US_OK)
		return rc;
	memset(out, 0, 3 * sizeof(*out));
	us_row r = us_row_at(NULL, res, 0, 0);
	for (r.row = 0; r.row < PQntuples(res); r.row++) {
		identity_throttle_count *c = &out[us_row_int(&r, 0)];
		c->failures = us_row_int(&r, 1);
		c->since_failure_ms = us_row_int(&r, 2);
		c->known = us_row_bool(&r, 3);
	}
	PQclear(res);
	return US_OK;
}

us_err identity_store_throttle_fail(PGconn *db, const identity_throttle_subjects *s,
                                    int64_t window_s, int64_t known_days)
{
	params p = {0};
	p_bytes(&p, s->pair, IDENTITY_SUBJECT_BYTES);
	p_bytes(&p, s->email, IDENTITY_SUBJECT_BYTES);
	p_bytes(&p, s->network, s->network ? IDENTITY_SUBJECT_BYTES : 0);
	p_int(&p, window_s);
	p_int(&p, known_days);
	return run(db,
	           "WITH forgotten AS (DELETE FROM login_throttle "
	           "WHERE (last_failure_at IS NULL "
	           "OR last_failure_at <= now() - make_interval(secs => $4::int)) "
	           "AND (last_success_at IS NULL "
	           "OR last_success_at <= now() - make_interval(days => $5::int)) "
	           "AND subject NOT IN ($1::bytea, $2::bytea) AND subject IS DISTINCT FROM $3::bytea) "
	           "INSERT INTO login_throttle AS t (subject, failures, last_failure_at) "
	           "SELECT s, 1, now() FROM unnest(ARRAY[$1::bytea, $2::bytea, $3::bytea]) AS s "
	           "WHERE s IS NOT NULL "
	           "ON CONFLICT (subject) DO UPDATE SET "
	           "failures = CASE WHEN t.last_failure_at > now() - make_interval(secs => $4::int) "
	           "THEN t.failures + 1 ELSE 1 END, last_failure_at = now()",
	           &p, NULL);
}

us_err identity_store_throttle_clear(PGconn *db, const uint8_t *subject)
{
	params p = {0};
	p_bytes(&p, subject, IDENTITY_SUBJECT_BYTES);
	return run(db, "DELETE FROM login_throttle WHERE subject = $1", &p, NULL);
}

us_err identity_store_open_session(PGconn *db, us_arena *a, const identity_new_session *s,
                                   char **session_id, char **expires_at)
{
	params p = {0};
	p_text(&p, s->user_id);
	p_bytes(&p, s->token_hash, US_TOKEN_HASH_BYTES);
	p_int(&p, s->ttl_hours);
	p_text(&p, s->old_hash);
	p_text(&p, s->new_hash);
	p_bytes(&p, s->pair_subject, IDENTITY_SUBJECT_BYTES);
	PGresult *res;
	us_err rc = run_row(db,
	                    "WITH upgraded AS (UPDATE users SET password_hash = $5::text "
	                    "WHERE id = $1::uuid AND $5::text IS NOT NULL AND password_hash = $4::text), "
	                    "succeeded AS (INSERT INTO login_throttle (subject, last_success_at) "
	                    "VALUES ($6::bytea, now()) ON CONFLICT (subject) DO UPDATE SET "
	                    "failures = 0, last_failure_at = NULL, last_success_at = now()), "
	                    "expired AS (DELETE FROM sessions "
	                    "WHERE user_id = $1::uuid AND expires_at <= now()) "
	                    "INSERT INTO sessions (user_id, token_hash, expires_at) "
	                    "VALUES ($1::uuid, $2::bytea, now() + make_interval(hours => $3::int)) "
	                    "RETURNING id, " US_SQL_TIMESTAMP("expires_at"),
	                    &p, &res);
	if (rc != US_OK)
		return rc;
	return id_and_time(a, res, session_id, expires_at);
}

us_err identity_store_resolve_session(PGconn *db, us_arena *a,
                                      const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                      Usher__V1__User **user, char **session_id,
                                      char **expires_at)
{
	params p = {0};
	p_bytes(&p, token_hash, US_TOKEN_HASH_BYTES);
	PGresult *res;
	us_err rc = run_row(db,
	                    "SELECT " USER_COLUMNS ", s.id, " US_SQL_TIMESTAMP("s.expires_at") " "
	                    "FROM sessions s JOIN users u ON u.id = s.user_id "
	                    "WHERE s.token_hash = $1 AND s.expires_at > now() "
	                    "AND u.status = 'active'",
	                    &p, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__User *u = user_from_row(&r);
	r.base = N_USER_COLUMNS;
	char *id = us_row_uuid(&r, 0);
	char *expires = us_row_timestamp(&r, 1);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*user = u;
	*session_id = id;
	*expires_at = expires;
	return US_OK;
}

us_err identity_store_end_session(PGconn *db, const uint8_t token_hash[US_TOKEN_HASH_BYTES])
{
	params p = {0};
	p_bytes(&p, token_hash, US_TOKEN_HASH_BYTES);
	return run(db, "DELETE FROM sessions WHERE token_hash = $1", &p, NULL);
}

us_err identity_store_open_email_change(PGconn *db, us_arena *a, const char *user_id,
                                        const char *new_email,
                                        const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                        int64_t ttl_hours, char **change_id, char **expires_at)
{
	return open_link(db, a,
	                 "WITH replaced AS (DELETE FROM email_changes WHERE user_id = $1::uuid) "
	                 "INSERT INTO email_changes (user_id, new_email, token_hash, expires_at) "
	                 "VALUES ($1::uuid, $2, $3, now() + make_interval(hours => $4::int)) "
	                 "RETURNING id, " US_SQL_TIMESTAMP("expires_at"),
	                 user_id, new_email, token_hash, ttl_hours, change_id, expires_at);
}

us_err identity_store_confirm_email_change(PGconn *db, us_arena *a,
                                           const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                           Usher__V1__User **out)
{
	params p = {0};
	p_bytes(&p, token_hash, US_TOKEN_HASH_BYTES);
	/* The link proves the new address: a user who only claimed it loses it first. */
	PGresult *res;
	us_err rc = run_row(db,
	                    "SELECT new_email, user_id FROM email_changes WHERE token_hash = $1 "
	                    "AND used_at IS NULL AND expires_at > now()",
	                    &p, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	char *new_email = us_row_text(&r, 0), *user_id = us_row_uuid(&r, 1);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	rc = identity_store_release_claim(db, a, new_email, user_id, NULL);
	if (rc != US_OK)
		return rc;
	return one_user(db, a,
	                "WITH claimed AS (UPDATE email_changes SET used_at = now() "
	                "WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() "
	                "RETURNING user_id, new_email) "
	                "UPDATE users u SET email = c.new_email, email_verified = true, "
	                "updated_at = now() FROM claimed c "
	                "WHERE u.id = c.user_id AND u.status = 'active' RETURNING " USER_COLUMNS,
	                &p, out);
}

/* --- retention (common/housekeeping.h): $1 days --- */

const char identity_store_purge_sessions[] =
        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
        " WHERE " US_SQL_OLDER_THAN("expires_at") US_SQL_RETENTION_LIMIT ")";
const char identity_store_purge_email_changes[] =
        "DELETE FROM email_changes WHERE id IN (SELECT id FROM email_changes"
        " WHERE " US_SQL_OLDER_THAN("expires_at") US_SQL_RETENTION_LIMIT ")";
const char identity_store_purge_password_resets[] =
        "DELETE FROM password_resets WHERE id IN (SELECT id FROM password_resets"
        " WHERE " US_SQL_OLDER_THAN("expires_at") US_SQL_RETENTION_LIMIT ")";
const char identity_store_purge_email_verifications[] =
        "DELETE FROM email_verifications WHERE id IN (SELECT id FROM email_verifications"
        " WHERE " US_SQL_OLDER_THAN("expires_at") US_SQL_RETENTION_LIMIT ")";
const char identity_store_purge_login_throttle[] =
        "DELETE FROM login_throttle WHERE subject IN (SELECT subject FROM login_throttle"
        " WHERE " US_SQL_OLDER_THAN("greatest(last_failure_at, last_success_at)")
        US_SQL_RETENTION_LIMIT ")";
const char identity_store_purge_request_counters[] =
        "DELETE FROM request_counters WHERE subject IN (SELECT subject FROM request_counters"
        " WHERE " US_SQL_OLDER_THAN("window_start") US_SQL_RETENTION_LIMIT ")";

/* --- erasure (common/erasure.h) --- */

us_err identity_store_erase_user(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows)
{
	const char *values[] = {req->user_id, req->email[0] ? req->email : NULL};
	PGresult *res;
	us_err rc = us_db_exec(db, "WITH u AS (DELETE FROM users WHERE id = $1::uuid RETURNING 1),"
	                       " r AS (DELETE FROM password_resets WHERE email = $2 RETURNING 1),"
	                       " e AS (DELETE FROM email_changes WHERE new_email = $2 RETURNING 1)"
	                       " SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM r)"
	                       " + (SELECT count(*) FROM e)",
	                       2, values, &res);
	if (rc != US_OK)
		return rc;
	*rows += atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return US_OK;
}
