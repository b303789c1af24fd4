/* The permission matrix: the minimum role of each action. It is data, a file of
 * "action minimum-role" lines (permissions.conf, compiled in as the default), so the
 * platform's other services can add actions without a release of tenancyd. */
#ifndef TENANCY_PERMISSIONS_H
#define TENANCY_PERMISSIONS_H

#include <stddef.h>

#include "common/err.h"
#include "context.h"

#define TENANCY_ACTION_MAX 64
#define TENANCY_MATRIX_FILE_MAX (1024 * 1024)

/* The actions tenancyd enforces itself; every matrix must list them. */
#define TENANCY_ACTION_INVITE "member.invite"
#define TENANCY_ACTION_ROLE_CHANGE "member.role.change"
#define TENANCY_ACTION_DEACTIVATE "member.deactivate"
#define TENANCY_ACTION_REMOVE "member.remove"
#define TENANCY_ACTION_SETTINGS_UPDATE "settings.update"
#define TENANCY_ACTION_SUBACCOUNT_CREATE "subaccount.create"
/* Listed in the default matrix; a matrix without it lets only operators read the log. */
#define TENANCY_ACTION_AUDIT_VIEW "audit.view"

typedef struct tenancy_matrix tenancy_matrix;

/* Parses len bytes of matrix text; origin names it in errors. Blank lines and "#"
 * comments are ignored. Returns owned *out (tenancy_matrix_free()), or INVALID_ARGUMENT
 * with one line in err naming origin:line and the problem. */
US_MUST_USE us_err tenancy_matrix_parse(const char *text, size_t len, const char *origin,
                                        tenancy_matrix **out, char *err, size_t err_size);

/* Reads and parses the file at path, or the built-in default when path is NULL. */
US_MUST_USE us_err tenancy_matrix_load(const char *path, tenancy_matrix **out, char *err,
                                       size_t err_size);

/* The minimum role of action (a Role, or TENANCY_ROLE_PRIMARY_OWNER); 0 when the
 * matrix does not list it. */
int tenancy_matrix_min_role(const tenancy_matrix *m, const char *action);

size_t tenancy_matrix_size(const tenancy_matrix *m);

/* Takes NULL. */
void tenancy_matrix_free(tenancy_matrix *m);

/* The daemon's matrix (ctx->matrix), shared by the worker threads. Install takes m and
 * frees the one it replaces (NULL: just free the current one, at stop). */
void tenancy_permissions_install(tenancy_ctx *ctx, tenancy_matrix *m);

/* tenancy_matrix_min_role() on the installed matrix; safe from any thread. */
int tenancy_permissions_min_role(tenancy_ctx *ctx, const char *action);

#endif
