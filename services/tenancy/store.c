#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/page_token.h"
#include "common/row.h"
#include "common/timestamp.h"
#include "roles.h"

/* Lists come back as arrays (us_row_array): every element is a UUID or a validated name. */
#define ACCOUNT_COLUMNS                                                                         \
	"a.id, a.name, a.primary_owner_id, "                                                    \
	"ARRAY(SELECT p.product FROM account_products p "                                       \
	"WHERE p.account_id = a.id ORDER BY p.product), "                                       \
	"a.invitation_expiry_hours, a.status, a.allowed_email_domains, "                        \
	US_SQL_TIMESTAMP("a.created_at")
#define ACCOUNT_NCOLS 8

#define MEMBERSHIP_COLUMNS                                                                  \
	"m.id, m.account_id, m.user_id, m.role, m.organization, "                           \
	"ARRAY(SELECT ms.subaccount_id FROM membership_subaccounts ms "                     \
	"WHERE ms.membership_id = m.id AND ms.account_id = m.account_id "                   \
	"ORDER BY ms.subaccount_id), "                                                      \
	"m.products, m.flags, m.status, m.source, " US_SQL_TIMESTAMP("m.created_at") ", "  \
	US_SQL_TIMESTAMP("m.updated_at")
#define MEMBERSHIP_NCOLS 12

#define SUBACCOUNT_COLUMNS "s.id, s.account_id, s.name, " US_SQL_TIMESTAMP("s.created_at")

/* --- reading rows into the arena --- */

static Usher__V1__Account *read_account(us_row *r)
{
	Usher__V1__Account *acc = US_ROW_NEW(r, Usher__V1__Account);
	if (acc == NULL)
		return NULL;
	usher__v1__account__init(acc);
	acc->id = us_row_uuid(r, 0);
	acc->name = us_row_text(r, 1);
	acc->primary_owner_id = us_row_uuid(r, 2);
	acc->products = us_row_array(r, 3, &acc->n_products);
	acc->invitation_expiry_hours = (uint32_t)us_row_int(r, 4);
	acc->status = strcmp(us_row_text(r, 5), "suspended") == 0
	                      ? USHER__V1__ACCOUNT_STATUS__ACCOUNT_SUSPENDED
	                      : USHER__V1__ACCOUNT_STATUS__ACCOUNT_ACTIVE;
	acc->allowed_email_domains = us_row_array(r, 6, &acc->n_allowed_email_domains);
	acc->created_at = us_row_timestamp(r, 7);
	return acc;
}

static Usher__V1__Membership *read_membership(us_row *r)
{
	Usher__V1__Membership *m = US_ROW_NEW(r, Usher__V1__Membership);
	Usher__V1__Scope *scope = US_ROW_NEW(r, Usher__V1__Scope);
	if (m == NULL || scope == NULL)
		return NULL;
	usher__v1__membership__init(m);
	usher__v1__scope__init(scope);
	m->id = us_row_uuid(r, 0);
	m->account_id = us_row_uuid(r, 1);
	m->user_id = us_row_uuid(r, 2);
	m->role = (Usher__V1__Role)tenancy_role_parse(us_row_text(r, 3), false);
	scope->organization = us_row_bool(r, 4);
	scope->subaccount_ids = us_row_array(r, 5, &scope->n_subaccount_ids);
	m->scope = scope;
	m->products = us_row_array(r, 6, &m->n_products);
	m->flags = us_row_array(r, 7, &m->n_flags);
	m->status = (Usher__V1__MembershipStatus)tenancy_status_parse(us_row_text(r, 8));
	m->source = us_row_text(r, 9);
	m->created_at = us_row_timestamp(r, 10);
	m->updated_at = us_row_timestamp(r, 11);
	return m;
}

static Usher__V1__Subaccount *read_subaccount(us_row *r)
{
	Usher__V1__Subaccount *s = US_ROW_NEW(r, Usher__V1__Subaccount);
	if (s == NULL)
		return NULL;
	usher__v1__subaccount__init(s);
	s->id = us_row_uuid(r, 0);
	s->account_id = us_row_uuid(r, 1);
	s->name = us_row_text(r, 2);
	s->created_at = us_row_timestamp(r, 3);
	return s;
}

/* --- parameters --- */

static char *array_literal(us_arena *a, char *const *items, size_t n)
{
	return us_db_text_array(a, (const char *const *)items, n);
}

/* The subaccount ids of a scope as an array literal ("{}" for organization scope). */
static char *scope_literal(us_arena *a, const Usher__V1__Scope *scope)
{
	return array_literal(a, scope->organization ? NULL : scope->subaccount_ids,
	                     scope->organization ? 0 : scope->n_subaccount_ids);
}

/* Runs sql and reads its single row with fn; NOT_FOUND when there is none. */
static us_err get_one(PGconn *db, us_arena *a, const char *sql, int n_params,
                      const char *const *params, void *(*fn)(us_row *), void **out)
{
	PGresult *res;
	us_err rc = us_db_exec_one(db, sql, n_params, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	void *item = fn(&r);
	PQclear(res);
	if (item == NULL || us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = item;
	return US_OK;
}

static void *account_fn(us_row *r) { return read_account(r); }
static void *membership_fn(us_row *r) { return read_membership(r); }
static void *subaccount_fn(us_row *r) { return read_subaccount(r); }

/* --- accounts --- */

us_err tenancy_store_account_create(PGconn *db, us_arena *a, const tenancy_store_new_account *in,
                                    Usher__V1__Account **account, Usher__V1__Membership **owner)
{
	char hours[16];
	snprintf(hours, sizeof(hours), "%u", (unsigned)in->invitation_expiry_hours);
	const char *domains = array_literal(a, in->domains, in->n_domains);
	const char *products = array_literal(a, in->products, in->n_products);
	if (domains == NULL || products == NULL)
		return US_EEXHAUSTED;
	const char *params[] = {in->name, in->owner_id, hours, domains, products};
	PGresult *res;
	us_err rc = us_db_exec(
	        db,
	        "WITH a AS (INSERT INTO accounts (name, primary_owner_id, invitation_expiry_hours, "
	        "                                 allowed_email_domains) "
	        "           VALUES ($1, $2::uuid, $3::integer, $4::text[]) RETURNING id), "
	        "     p AS (INSERT INTO account_products (account_id, product) "
	        "           SELECT a.id, unnest($5::text[]) FROM a) "
	        "INSERT INTO memberships (account_id, user_id, role, organization, products, source) "
	        "SELECT a.id, $2::uuid, 'owner', true, $5::text[], 'account_creation' FROM a "
	        "RETURNING account_id",
	        5, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	char *id = us_row_uuid(&r, 0);
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	rc = tenancy_store_account_get(db, a, id, TENANCY_STORE_NO_LOCK, account);
	if (rc == US_OK)
		rc = tenancy_store_membership_get(db, a, id, in->owner_id, owner);
	return rc;
}

us_err tenancy_store_account_get(PGconn *db, us_arena *a, const char *account_id,
                                 tenancy_store_lock lock, Usher__V1__Account **out)
{
	static const char *const sql[] = {
		[TENANCY_STORE_NO_LOCK] = "SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.id = $1",
		[TENANCY_STORE_SHARE] = "SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.id = $1 "
		                "FOR SHARE OF a",
		[TENANCY_STORE_UPDATE] = "SELECT " ACCOUNT_COLUMNS " FROM accounts a WHERE a.id = $1 "
		                 "FOR UPDATE OF a",
	};
	const char *params[] = {account_id};
	return get_one(db, a, sql[lock], 1, params, account_fn, (void **)out);
}

us_err tenancy_store_account_update(PGconn *db, us_arena *a, const char *account_id,
                                    const char *name, uint32_t invitation_expiry_hours,
                                    char *const *domains, size_t n_domains,
                                    Usher__V1__Account **out)
{
	char hours[16];
	snprintf(hours, sizeof(hours), "%u", (unsigned)invitation_expiry_hours);
	const char *list = array_literal(a, domains, n_domains);
	if (list == NULL)
		return US_EEXHAUSTED;
	const char *params[] = {account_id, name, hours, list};
	us_err rc = us_db_exec(db,
	                       "UPDATE accounts SET name = $2, invitation_expiry_hours = $3, "
	                       "allowed_email_domains = $4::text[], updated_at = now() "
	                       "WHERE id = $1",
	                       4, params, NULL);
	if (rc != US_OK)
		return rc;
	return tenancy_store_account_get(db, a, account_id, TENANCY_STORE_NO_LOCK, out);
}

us_err tenancy_store_account_set_primary_owner(PGconn *db, us_arena *a, const char *account_id,
                                               const char *user_id, Usher__V1__Account **out)
{
	const char *params[] = {account_id, user_id};
	us_err rc = us_db_exec(db,
	                       "UPDATE accounts SET primary_owner_id = $2, updated_at = now() "
	                       "WHERE id = $1",
	                       2, params, NULL);
	if (rc != US_OK)
		return rc;
	return tenancy_store_account_get(db, a, account_id, TENANCY_STORE_NO_LOCK, out);
}

/* --- subaccounts --- */

us_err tenancy_store_subaccount_create(PGconn *db, us_arena *a, const char *account_id,
                                       const char *name, size_t max, Usher__V1__Subaccount **out)
{
	char limit[24];
	snprintf(limit, sizeof(limit), "%zu", max);
	const char *params[] = {account_id, name, limit};
	us_err rc = get_one(db, a,
	                    "WITH s AS (INSERT INTO subaccounts (account_id, name) SELECT $1::uuid, $2::text "
	                    "           WHERE (SELECT count(*) FROM subaccounts "
	                    "                  WHERE account_id = $1) < $3::bigint "
	                    "           RETURNING *) "
	                    "SELECT " SUBACCOUNT_COLUMNS " FROM s",
	                    3, params, subaccount_fn, (void **)out);
	return rc == US_ENOTFOUND ? US_EEXHAUSTED : rc;
}

us_err tenancy_store_subaccounts_list(PGconn *db, us_arena *a, const char *account_id,
                                      const Usher__V1__Scope *within, Usher__V1__Subaccount ***out,
                                      size_t *n)
{
	const char *ids = NULL;
	if (within != NULL && !within->organization) {
		ids = array_literal(a, within->subaccount_ids, within->n_subaccount_ids);
		if (ids == NULL)
			return US_EEXHAUSTED;
	}
	const char *params[] = {account_id, ids};
	PGresult *res;
	us_err rc = us_db_exec(db,
	                       "SELECT " SUBACCOUNT_COLUMNS " FROM subaccounts s "
	                       "WHERE s.account_id = $1 AND ($2::uuid[] IS NULL OR s.id = ANY ($2)) "
	                       "ORDER BY s.name",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Subaccount **items = rows ? US_ROW_ARRAY(&r, Usher__V1__Subaccount *, rows) : NULL;
	for (size_t i = 0; !us_row_failed(&r) && i < rows; i++) {
		r.row = (int)i;
		items[i] = read_subaccount(&r);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = items;
	*n = rows;
	return US_OK;
}

us_err tenancy_store_subaccounts_missing(PGconn *db, us_arena *a, const char *account_id,
                                 char *const *ids, size_t n, size_t **missing, size_t *n_missing)
{
	const char *list = array_literal(a, ids, n);
	if (list == NULL)
		return US_EEXHAUSTED;
	const char *params[] = {account_id, list};
	PGresult *res;
	us_err rc = us_db_exec(db,
	                       "SELECT t.i - 1 FROM unnest($2::uuid[]) WITH ORDINALITY AS t (id, i) "
	                       "WHERE NOT EXISTS (SELECT 1 FROM subaccounts s "
	                       "                  WHERE s.account_id = $1 AND s.id = t.id) "
	                       "ORDER BY t.i",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	size_t *idx = rows ? US_ROW_ARRAY(&r, size_t, rows) : NULL;
	for (size_t i = 0; !us_row_failed(&r) && i < rows; i++) {
		r.row = (int)i;
		idx[i] = (size_t)us_row_int(&r, 0);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*missing = idx;
	*n_missing = rows;
	return US_OK;
}

/* --- memberships --- */

us_err tenancy_store_membership_get(PGconn *db, us_arena *a, const char *account_id,
                                    const char *user_id, Usher__V1__Membership **out)
{
	const char *params[] = {account_id, user_id};
	return get_one(db, a,
	               "SELECT " MEMBERSHIP_COLUMNS " FROM memberships m "
	               "WHERE m.account_id = $1 AND m.user_id = $2",
	               2, params, membership_fn, (void **)out);
}

us_err tenancy_store_check_facts(PGconn *db, us_arena *a, const char *account_id,
                                 const char *user_id, const char *subaccount_id,
                                 Usher__V1__Account **account, Usher__V1__Membership **member,
                                 bool *subaccount_in_account)
{
	const char *params[] = {account_id, user_id, subaccount_id[0] ? subaccount_id : NULL};
	PGresult *res;
	us_err rc = us_db_exec_one(db,
	                       "SELECT " ACCOUNT_COLUMNS ", " MEMBERSHIP_COLUMNS ", "
	                       "       EXISTS (SELECT 1 FROM subaccounts s "
	                       "               WHERE s.account_id = a.id AND s.id = $3::uuid) "
	                       "FROM accounts a "
	                       "LEFT JOIN memberships m ON m.account_id = a.id AND m.user_id = $2 "
	                       "WHERE a.id = $1",
	                       3, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Account *acc = read_account(&r);
	Usher__V1__Membership *m = NULL;
	bool in_account = us_row_bool(&r, ACCOUNT_NCOLS + MEMBERSHIP_NCOLS);
	if (!us_row_null(&r, ACCOUNT_NCOLS)) {
		r.base = ACCOUNT_NCOLS;
		m = read_membership(&r);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*account = acc;
	*member = m;
	*subaccount_in_account = in_account;
	return US_OK;
}

us_err tenancy_store_grant(PGconn *db, us_arena *a, const tenancy_store_new_membership *in,
                           const char *granter_id, const us_db_stmt *then,
                           tenancy_store_grant_facts *out)
{
	const char *products = array_literal(a, in->products, in->n_products);
	const char *flags = array_literal(a, in->flags, in->n_flags);
	const char *subaccounts = scope_literal(a, in->scope);
	if (products == NULL || flags == NULL || subaccounts == NULL)
		return US_EEXHAUSTED;
	const char *account_params[] = {in->account_id, subaccounts};
	const char *params[] = {in->account_id,
	                        in->user_id,
	                        tenancy_role_name(in->role),
	                        in->scope->organization ? "true" : "false",
	                        products,
	                        flags,
	                        in->source,
	                        subaccounts,
	                        granter_id};
	/* One round trip, three statements in order. The account's share lock first: grants
	 * run side by side, but not while a granter is being demoted. Then, in a snapshot
	 * taken after the lock, the granter's membership as it stands and the new row as
	 * inserted, its subaccounts those given (a statement cannot read back its own
	 * writes); nothing is inserted into a missing account or with a subaccount outside
	 * it (the caller reports those). Then then (the audit row). */
	const us_db_stmt stmts[] = {
		{"SELECT " ACCOUNT_COLUMNS ", "
		 "       ARRAY(SELECT t.i - 1 FROM unnest($2::uuid[]) WITH ORDINALITY AS t (id, i) "
		 "             WHERE NOT EXISTS (SELECT 1 FROM subaccounts s "
		 "                               WHERE s.account_id = a.id AND s.id = t.id) "
		 "             ORDER BY t.i) "
		 "FROM accounts a WHERE a.id = $1 FOR SHARE OF a",
		 2, account_params, NULL, NULL},
		{"WITH n AS (INSERT INTO memberships (account_id, user_id, role, organization, "
		 "                                    products, flags, source) "
		 "           SELECT $1::uuid, $2::uuid, $3, $4::boolean, $5::text[], $6::text[], $7 "
		 "           WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $1) "
		 "             AND NOT EXISTS (SELECT 1 FROM unnest($8::uuid[]) AS g "
		 "                             WHERE NOT EXISTS (SELECT 1 FROM subaccounts s "
		 "                                               WHERE s.account_id = $1 "
		 "                                                 AND s.id = g)) "
		 "           ON CONFLICT DO NOTHING RETURNING *), "
		 "     ns AS (INSERT INTO membership_subaccounts (membership_id, account_id, subaccount_id) "
		 "            SELECT n.id, n.account_id, s FROM n, unnest($8::uuid[]) AS s) "
		 "SELECT " MEMBERSHIP_COLUMNS ", "
		 "       n.id, n.account_id, n.user_id, n.role, n.organization, "
		 "       ARRAY(SELECT s FROM unnest($8::uuid[]) AS s ORDER BY s), "
		 "       n.products, n.flags, n.status, n.source, " US_SQL_TIMESTAMP("n.created_at") ", "
		 US_SQL_TIMESTAMP("n.updated_at") " "
		 "FROM (VALUES (1)) AS one "
		 "LEFT JOIN memberships m ON m.account_id = $1 AND m.user_id = $9::uuid "
		 "LEFT JOIN n ON true",
		 9, params, NULL, NULL},
		*then,
	};
	PGresult *res[3];
	us_err rc = us_db_pipeline(db, stmts, 3, res);
	PQclear(res[2]);
	if (rc == US_OK && PQntuples(res[0]) == 0)
		rc = US_ENOTFOUND;
	if (rc != US_OK) {
		PQclear(res[0]);
		PQclear(res[1]);
		return rc;
	}
	us_row r = us_row_at(a, res[0], 0, 0);
	out->account = read_account(&r);
	size_t n_missing = 0;
	char **missing = us_row_array(&r, ACCOUNT_NCOLS, &n_missing);
	out->missing = n_missing ? US_ROW_ARRAY(&r, size_t, n_missing) : NULL;
	for (size_t i = 0; !us_row_failed(&r) && i < n_missing; i++)
		out->missing[i] = strtoul(missing[i], NULL, 10);
	out->n_missing = n_missing;
	bool failed = us_row_failed(&r);
	PQclear(res[0]);
	r = us_row_at(a, res[1], 0, 0);
	out->granter = us_row_null(&r, 0) ? NULL : read_membership(&r);
	r.base = MEMBERSHIP_NCOLS;
	out->membership = us_row_null(&r, 0) ? NULL : read_membership(&r);
	PQclear(res[1]);
	return failed || us_row_failed(&r) ? US_EEXHAUSTED : US_OK;
}

us_err tenancy_store_membership_set_role(PGconn *db, us_arena *a, const Usher__V1__Membership *m,
                                         int role, bool organization, Usher__V1__Membership **out)
{
	const char *params[] = {m->id, tenancy_role_name(role), organization ? "true" : "false"};
	us_err rc = us_db_exec(db,
	                       "WITH d AS (DELETE FROM membership_subaccounts "
	                       "           WHERE membership_id = $1 AND $3::boolean) "
	                       "UPDATE memberships SET role = $2, organization = $3, "
	                       "updated_at = now() WHERE id = $1",
	                       3, params, NULL);
	if (rc != US_OK)
		return rc;
	return tenancy_store_membership_get(db, a, m->account_id, m->user_id, out);
}

us_err tenancy_store_membership_set_scope(PGconn *db, us_arena *a, const Usher__V1__Membership *m,
                                          const Usher__V1__Scope *scope, char *const *products,
                                          size_t n_products, Usher__V1__Membership **out)
{
	const char *subaccounts = scope_literal(a, scope);
	const char *list = array_literal(a, products, n_products);
	if (subaccounts == NULL || list == NULL)
		return US_EEXHAUSTED;
	const char *params[] = {m->id, m->account_id, subaccounts,
	                        scope->organization ? "true" : "false", list};
	/* Rows kept by the new scope are left alone: deleting and re-inserting the same key
	 * in one statement would conflict. */
	us_err rc = us_db_exec(
	        db,
	        "WITH gone AS (DELETE FROM membership_subaccounts "
	        "              WHERE membership_id = $1 AND subaccount_id <> ALL ($3::uuid[])), "
	        "     added AS (INSERT INTO membership_subaccounts "
	        "                   (membership_id, account_id, subaccount_id) "
	        "               SELECT $1::uuid, $2::uuid, unnest($3::uuid[]) ON CONFLICT DO NOTHING) "
	        "UPDATE memberships SET organization = $4, products = $5::text[], updated_at = now() "
	        "WHERE id = $1",
	        5, params, NULL);
	if (rc != US_OK)
		return rc;
	return tenancy_store_membership_get(db, a, m->account_id, m->user_id, out);
}

us_err tenancy_store_membership_set_flags(PGconn *db, us_arena *a, const Usher__V1__Membership *m,
                                          char *const *flags, size_t n_flags,
                                          Usher__V1__Membership **out)
{
	const char *list = array_literal(a, flags, n_flags);
	if (list == NULL)
		return US_EEXHAUSTED;
	const char *params[] = {m->id, list};
	us_err rc = us_db_exec(db,
	                       "UPDATE memberships SET flags = $2::text[], updated_at = now() "
	                       "WHERE id = $1",
	                       2, params, NULL);
	if (rc != US_OK)
		return rc;
	return tenancy_store_membership_get(db, a, m->account_id, m->user_id, out);
}

us_err tenancy_store_membership_set_status(PGconn *db, us_arena *a, const Usher__V1__Membership *m,
                                           int status, Usher__V1__Membership **out)
{
	const char *params[] = {m->id, tenancy_status_name(status)};
	us_err rc = us_db_exec(db,
	                       "UPDATE memberships SET status = $2, updated_at = now() WHERE id = $1",
	                       2, params, NULL);
	if (rc != US_OK)
		return rc;
	return tenancy_store_membership_get(db, a, m->account_id, m->user_id, out);
}

us_err tenancy_store_membership_delete(PGconn *db, const Usher__V1__Membership *m)
{
	const char *params[] = {m->id, m->account_id};
	return us_db_exec(db, "DELETE FROM memberships WHERE id = $1 AND account_id = $2", 2, params,
	                  NULL);
}

us_err tenancy_store_other_active_owners(PGconn *db, const Usher__V1__Membership *m, long *n)
{
	const char *params[] = {m->account_id, m->id};
	PGresult *res;
	us_err rc = us_db_exec(db,
	                       "SELECT count(*) FROM memberships WHERE account_id = $1 AND id <> $2 "
	                       "AND role = 'owner' AND status = 'active'",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	us_row r = us_row_at(NULL, res, 0, 0);
	*n = (long)us_row_int(&r, 0);
	PQclear(res);
	return US_OK;
}

/* Reads every row as a membership (the first MEMBERSHIP_NCOLS columns). */
static Usher__V1__Membership **read_memberships(us_row *r, size_t rows)
{
	Usher__V1__Membership **items = rows ? US_ROW_ARRAY(r, Usher__V1__Membership *, rows) : NULL;
	for (size_t i = 0; !us_row_failed(r) && i < rows; i++) {
		r->row = (int)i;
		items[i] = read_membership(r);
	}
	return items;
}

us_err tenancy_store_accounts_list(PGconn *db, us_arena *a, const char *name_contains,
                           const us_page_cursor *after, size_t limit, Usher__V1__Account ***out,
                           us_page_cursor **cursors, size_t *n)
{
	char after_us[24], lim[24];
	snprintf(lim, sizeof(lim), "%zu", limit);
	if (after != NULL)
		snprintf(after_us, sizeof(after_us), "%lld", (long long)after->created_us);
	const char *params[] = {name_contains, after ? after_us : NULL, after ? after->id : NULL, lim};
	PGresult *res;
	us_err rc = us_db_exec(
	        db,
	        "SELECT " ACCOUNT_COLUMNS ", " US_SQL_MICROS("a.created_at") " "
	        "FROM accounts a "
	        "WHERE ($1::text IS NULL OR strpos(lower(a.name), lower($1)) > 0) "
	        "  AND ($2::bigint IS NULL OR "
	        "       (a.created_at, a.id) > (" US_SQL_FROM_MICROS("$2") ", $3::uuid)) "
	        "ORDER BY a.created_at, a.id LIMIT $4::bigint",
	        4, params, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Account **items = rows ? US_ROW_ARRAY(&r, Usher__V1__Account *, rows) : NULL;
	us_page_cursor *pos = rows ? US_ROW_ARRAY(&r, us_page_cursor, rows) : NULL;
	for (size_t i = 0; !us_row_failed(&r) && i < rows; i++) {
		r.row = (int)i;
		items[i] = read_account(&r);
		pos[i].created_us = us_row_int(&r, ACCOUNT_NCOLS);
		if (items[i] != NULL)
			snprintf(pos[i].id, sizeof(pos[i].id), "%s", items[i]->id);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = items;
	*cursors = pos;
	*n = rows;
	return US_OK;
}

us_err tenancy_store_members_list(PGconn *db, us_arena *a, const tenancy_store_member_query *q,
                                  Usher__V1__Membership ***out, us_page_cursor **cursors, size_t *n)
{
	char after_us[24], limit[24];
	snprintf(limit, sizeof(limit), "%zu", q->limit);
	if (q->after != NULL)
		snprintf(after_us, sizeof(after_us), "%lld", (long long)q->after->created_us);
	const char *params[] = {
		q->account_id,
		q->role ? tenancy_role_name(q->role) : NULL,
		q->status ? tenancy_status_name(q->status) : NULL,
		q->subaccount_id[0] ? q->subaccount_id : NULL,
		q->after ? after_us : NULL,
		q->after ? q->after->id : NULL,
		limit,
	};
	PGresult *res;
	us_err rc = us_db_exec(
	        db,
	        "SELECT " MEMBERSHIP_COLUMNS ", "
	        "       " US_SQL_MICROS("m.created_at") " "
	        "FROM memberships m "
	        "WHERE m.account_id = $1 "
	        "  AND ($2::text IS NULL OR m.role = $2) "
	        "  AND ($3::text IS NULL OR m.status = $3) "
	        "  AND ($4::uuid IS NULL OR m.organization OR EXISTS ( "
	        "       SELECT 1 FROM membership_subaccounts ms "
	        "       WHERE ms.membership_id = m.id AND ms.subaccount_id = $4)) "
	        "  AND ($5::bigint IS NULL OR "
	        "       (m.created_at, m.id) > (" US_SQL_FROM_MICROS("$5") ", $6::uuid)) "
	        "ORDER BY m.created_at, m.id LIMIT $7::bigint",
	        7, params, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Membership **items = read_memberships(&r, rows);
	us_page_cursor *pos = rows ? US_ROW_ARRAY(&r, us_page_cursor, rows) : NULL;
	for (size_t i = 0; !us_row_failed(&r) && i < rows; i++) {
		r.row = (int)i;
		pos[i].created_us = us_row_int(&r, MEMBERSHIP_NCOLS);
		if (items[i] != NULL)
			snprintf(pos[i].id, sizeof(pos[i].id), "%s", items[i]->id);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = items;
	*cursors = pos;
	*n = rows;
	return US_OK;
}

us_err tenancy_store_memberships_of_user(PGconn *db, us_arena *a, const char *user_id, size_t limit,
                                         Usher__V1__Membership ***out, size_t *n)
{
	char max[24];
	snprintf(max, sizeof(max), "%zu", limit);
	const char *params[] = {user_id, max};
	PGresult *res;
	us_err rc = us_db_exec(db,
	                       "SELECT " MEMBERSHIP_COLUMNS ", a.name FROM memberships m "
	                       "JOIN accounts a ON a.id = m.account_id WHERE m.user_id = $1 "
	                       "ORDER BY a.name, a.id LIMIT $2::bigint",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	Usher__V1__Membership **items = read_memberships(&r, rows);
	for (size_t i = 0; !us_row_failed(&r) && i < rows; i++) {
		r.row = (int)i;
		items[i]->account_name = us_row_text(&r, MEMBERSHIP_NCOLS);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = items;
	*n = rows;
	return US_OK;
}

us_err tenancy_store_members_among(PGconn *db, us_arena *a, const char *account_id,
                                   char *const *user_ids, size_t n, char ***out, size_t *n_out)
{
	const char *list = array_literal(a, user_ids, n);
	if (list == NULL)
		return US_EEXHAUSTED;
	const char *params[] = {account_id, list};
	PGresult *res;
	us_err rc = us_db_exec(db,
	                       "SELECT DISTINCT m.user_id FROM memberships m "
	                       "JOIN unnest($2::uuid[]) AS u (id) ON m.user_id = u.id "
	                       "WHERE m.account_id = $1 ORDER BY m.user_id",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(res);
	us_row r = us_row_at(a, res, 0, 0);
	char **ids = rows ? US_ROW_ARRAY(&r, char *, rows) : NULL;
	for (size_t i = 0; !us_row_failed(&r) && i < rows; i++) {
		r.row = (int)i;
		ids[i] = us_row_uuid(&r, 0);
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*out = ids;
	*n_out = rows;
	return US_OK;
}

/* --- erasure (common/erasure.h) --- */

us_err tenancy_store_erase_user(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows)
{
	const char *params[] = {req->user_id, req->pseudonym_id};
	PGresult *res;
	us_err rc = us_db_exec(db, "WITH m AS (DELETE FROM memberships WHERE user_id = $1::uuid RETURNING 1),"
	                       " a AS (UPDATE accounts SET primary_owner_id = $2::uuid"
	                       "  WHERE primary_owner_id = $1::uuid RETURNING 1)"
	                       " SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM a)",
	                       2, params, &res);
	if (rc != US_OK)
		return rc;
	*rows += atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return US_OK;
}
