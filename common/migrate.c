#include "common/migrate.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/db.h"
#include "common/log.h"

#define CHECKSUM_BYTES 32
#define COMMON_PREFIX "common/"

static void checksum(const us_migration *m, unsigned char out[CHECKSUM_BYTES])
{
	crypto_generichash(out, CHECKSUM_BYTES, (const unsigned char *)m->sql, m->len, NULL, 0);
}

/* Finds name among the recorded rows; returns the row or -1. */
static int find_recorded(PGresult *rows, const char *name)
{
	for (int i = 0; i < PQntuples(rows); i++) {
		if (strcmp(PQgetvalue(rows, i, 0), name) == 0)
			return i;
	}
	return -1;
}

static us_err apply_one(PGconn *conn, const char *name, const us_migration *m,
                        const unsigned char sum[CHECKSUM_BYTES], char *err, size_t err_size)
{
	us_err rc = us_db_begin(conn);
	if (rc != US_OK) {
		snprintf(err, err_size, "could not begin migration \"%s\"", name);
		return rc;
	}
	/* Migration files are multi-statement scripts compiled into the daemon, so they go
	 * through the simple query protocol. */
	PGresult *res = PQexec(conn, m->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, err_size, "migration \"%s\" failed: %s", name,
		         PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                 ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
		                 : PQerrorMessage(conn));
		PQclear(res);
		us_db_rollback(conn);
		return US_EINTERNAL;
	}
	PQclear(res);

	const char *params[] = {name, (const char *)sum};
	const int lengths[] = {0, CHECKSUM_BYTES};
	const int formats[] = {0, 1};
	rc = us_db_exec_bin(conn, "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
	                    2, params, lengths, formats, NULL);
	if (rc == US_OK)
		rc = us_db_commit(conn);
	if (rc != US_OK) {
		us_db_rollback(conn);
		snprintf(err, err_size, "could not record migration \"%s\"", name);
		return rc;
	}
	us_log_fields(US_LOG_INFO, "migration applied", "migration", name, NULL);
	return US_OK;
}

/* Applies the pending ones of a NULL-name terminated table, names prefixed with prefix. */
static us_err apply_table(PGconn *conn, PGresult *recorded, const char *prefix,
                          const us_migration *table, int *applied, char *err, size_t err_size)
{
	for (const us_migration *m = table; m != NULL && m->name != NULL; m++) {
		char name[128];
		snprintf(name, sizeof(name), "%s%s", prefix, m->name);
		unsigned char sum[CHECKSUM_BYTES];
		checksum(m, sum);

		int row = find_recorded(recorded, name);
		if (row >= 0) {
			size_t len = 0;
			unsigned char *stored = PQunescapeBytea(
			        (const unsigned char *)PQgetvalue(recorded, row, 1), &len);
			int same = stored != NULL && len == CHECKSUM_BYTES &&
			           memcmp(stored, sum, CHECKSUM_BYTES) == 0;
			PQfreemem(stored);
			if (!same) {
				snprintf(err, err_size,
				         "migration \"%s\" was changed after it was applied; add a new "
				         "migration instead", name);
				return US_EPRECONDITION;
			}
			continue;
		}
		us_err rc = apply_one(conn, name, m, sum, err, err_size);
		if (rc != US_OK)
			return rc;
		(*applied)++;
	}
	return US_OK;
}

us_err us_migrate(PGconn *conn, const char *schema, const us_migration *migrations,
                  int *applied, char *err, size_t err_size)
{
	char lock_key[96];
	snprintf(lock_key, sizeof(lock_key), "usher.migrate.%s", schema);
	const char *lock_params[] = {lock_key};
	us_err rc = us_db_exec(conn, "SELECT pg_advisory_lock(hashtext($1))", 1, lock_params, NULL);
	if (rc != US_OK) {
		snprintf(err, err_size, "could not take the migration lock for schema \"%s\"", schema);
		return rc;
	}

	int count = 0;
	PGresult *recorded = NULL;
	rc = us_db_exec(conn,
	                "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                " name text PRIMARY KEY,"
	                " checksum bytea NOT NULL,"
	                " applied_at timestamptz NOT NULL DEFAULT now())",
	                0, NULL, NULL);
	if (rc == US_OK)
		rc = us_db_exec(conn, "SELECT name, checksum FROM schema_migrations", 0, NULL, &recorded);
	if (rc != US_OK) {
		snprintf(err, err_size, "could not read schema_migrations in schema \"%s\"", schema);
	} else {
		rc = apply_table(conn, recorded, COMMON_PREFIX, us_common_migrations, &count, err,
		                 err_size);
		if (rc == US_OK)
			rc = apply_table(conn, recorded, "", migrations, &count, err, err_size);
	}
	PQclear(recorded);

	us_err unlock = us_db_exec(conn, "SELECT pg_advisory_unlock(hashtext($1))", 1, lock_params,
	                           NULL);
	if (rc == US_OK && unlock != US_OK) {
		snprintf(err, err_size, "could not release the migration lock");
		rc = unlock;
	}
	if (rc == US_OK && applied != NULL)
		*applied = count;
	return rc;
}

/* Appends the states of a table's migrations, marking those recorded. */
static size_t list_table(us_arena *arena, PGresult *recorded, bool *seen, const char *prefix,
                         const us_migration *table, us_migration_state *out, size_t n)
{
	for (const us_migration *m = table; m != NULL && m->name != NULL; m++) {
		us_migration_state *st = &out[n++];
		st->name = us_arena_printf(arena, "%s%s", prefix, m->name);
		st->known = true;
		int row = find_recorded(recorded, st->name);
		st->applied = row >= 0;
		st->applied_at = row >= 0 ? us_arena_strdup(arena, PQgetvalue(recorded, row, 1)) : "";
		if (row >= 0)
			seen[row] = true;
	}
	return n;
}

static size_t count(const us_migration *table)
{
	size_t n = 0;
	while (table != NULL && table[n].name != NULL)
		n++;
	return n;
}

us_err us_migrate_status(PGconn *conn, const us_migration *migrations, us_arena *arena,
                         us_migration_state **out, size_t *n)
{
	PGresult *recorded = NULL;
	us_err rc = us_db_exec(conn,
	                       "SELECT name, to_char(applied_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	                       " FROM schema_migrations ORDER BY name",
	                       0, NULL, &recorded);
	if (rc != US_OK)
		return rc;
	size_t rows = (size_t)PQntuples(recorded);
	size_t cap = count(us_common_migrations) + count(migrations) + rows;
	us_migration_state *states = US_ARENA_ARRAY(arena, us_migration_state, cap ? cap : 1);
	bool *seen = US_ARENA_ARRAY(arena, bool, rows ? rows : 1);
	if (states == NULL || seen == NULL) {
		PQclear(recorded);
		return US_EEXHAUSTED;
	}
	size_t k = list_table(arena, recorded, seen, COMMON_PREFIX, us_common_migrations, states, 0);
	k = list_table(arena, recorded, seen, "", migrations, states, k);
	/* Recorded by a newer binary, perhaps: shown so an operator can tell. */
	for (size_t r = 0; r < rows; r++) {
		if (seen[r])
			continue;
		us_migration_state *st = &states[k++];
		st->name = us_arena_strdup(arena, PQgetvalue(recorded, (int)r, 0));
		st->applied = true;
		st->applied_at = us_arena_strdup(arena, PQgetvalue(recorded, (int)r, 1));
		st->known = false;
	}
	PQclear(recorded);
	*out = states;
	*n = k;
	return US_OK;
}
