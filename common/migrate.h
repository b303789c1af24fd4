/* Schema migrations: each service embeds its services/<svc>/migrations/NNNN_title.sql
 * (usher_embed in cmake/UsherEmbed.cmake) and applies them at start-up. */
#ifndef US_MIGRATE_H
#define US_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct us_migration {
	const char *name; /* "0001_init" */
	const char *sql;
	size_t len;
} us_migration;

/* Migrations every schema gets before its own (the idempotency table); a table ending
 * with a NULL name, like the ones the CMake helper generates. */
extern const us_migration us_common_migrations[];

/* Applies, in order, the common migrations and then `migrations` (NULL-name terminated)
 * that the connection's schema has not recorded in schema_migrations: each in its own
 * transaction, all under an advisory lock on the schema, so daemons starting together
 * apply each exactly once. A recorded migration whose text has changed is an error.
 * *applied (may be NULL) gets how many were applied now. */
US_MUST_USE us_err us_migrate(PGconn *conn, const char *schema, const us_migration *migrations,
                              int *applied, char *err, size_t err_size);

typedef struct us_migration_state {
	const char *name; /* in the arena */
	bool applied;
	const char *applied_at; /* RFC 3339 UTC, "" when pending */
	bool known;             /* false: recorded, but not in this binary */
} us_migration_state;

/* Every migration of the binary (common ones first) and of the schema's record, in order,
 * with whether and when each was applied. Results live in arena. */
US_MUST_USE us_err us_migrate_status(PGconn *conn, const us_migration *migrations, us_arena *arena,
                                     us_migration_state **out, size_t *n);

#endif
