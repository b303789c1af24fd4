#include "permissions.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_file.h"
#include "roles.h"

/* The compiled-in permissions.conf (usher_embed). */
extern const char tenancy_default_permissions[];
extern const size_t tenancy_default_permissions_len;

typedef struct entry {
	char action[TENANCY_ACTION_MAX + 1];
	int min_role;
	size_t line;
} entry;

struct tenancy_matrix {
	entry *entries; /* sorted by action */
	size_t n;
};

static const char *const enforced[] = {
	TENANCY_ACTION_INVITE,          TENANCY_ACTION_ROLE_CHANGE,
	TENANCY_ACTION_DEACTIVATE,      TENANCY_ACTION_REMOVE,
	TENANCY_ACTION_SETTINGS_UPDATE, TENANCY_ACTION_SUBACCOUNT_CREATE,
};

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static bool action_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > TENANCY_ACTION_MAX || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

typedef struct token {
	const char *s;
	size_t len;
} token;

/* Splits [p, end) into at most max tokens; returns how many there were (up to max + 1,
 * so the caller sees that there were too many). */
static size_t split(const char *p, const char *end, token *tokens, size_t max)
{
	size_t n = 0;
	while (p < end) {
		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		const char *start = p;
		while (p < end && !is_blank(*p))
			p++;
		if (n < max)
			tokens[n] = (token){start, (size_t)(p - start)};
		if (++n > max)
			break;
	}
	return n;
}

static us_err parse_line(const char *p, const char *end, const char *origin, size_t line,
                         entry *out, bool *empty, char *err, size_t err_size)
{
	const char *hash = memchr(p, '#', (size_t)(end - p));
	if (hash != NULL)
		end = hash;
	token t[2];
	size_t n = split(p, end, t, 2);
	*empty = n == 0;
	if (n == 0)
		return US_OK;
	if (n != 2) {
		snprintf(err, err_size, "%s:%zu: expected \"action minimum-role\"", origin, line);
		return US_EINVAL;
	}
	if (!action_name_ok(t[0].s, t[0].len)) {
		snprintf(err, err_size,
		         "%s:%zu: \"%.*s\" is not an action name (1 to %d of a-z, 0-9, _ . -)", origin,
		         line, (int)(t[0].len > 80 ? 80 : t[0].len), t[0].s, TENANCY_ACTION_MAX);
		return US_EINVAL;
	}
	char role[16];
	int min_role = 0;
	if (t[1].len < sizeof(role)) {
		memcpy(role, t[1].s, t[1].len);
		role[t[1].len] = '\0';
		min_role = tenancy_role_parse(role, true);
	}
	if (min_role == 0) {
		snprintf(err, err_size,
		         "%s:%zu: unknown role \"%.*s\" (member, moderator, admin, owner or "
		         "primary_owner)", origin, line, (int)(t[1].len > 40 ? 40 : t[1].len), t[1].s);
		return US_EINVAL;
	}
	memcpy(out->action, t[0].s, t[0].len);
	out->action[t[0].len] = '\0';
	out->min_role = min_role;
	out->line = line;
	return US_OK;
}

static int by_action(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	int c = strcmp(x->action, y->action);
	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorts the entries and refuses duplicates and missing enforced actions. */
static us_err finish(tenancy_matrix *m, const char *origin, char *err, size_t err_size)
{
	if (m->n > 1)
		qsort(m->entries, m->n, sizeof(entry), by_action);
	for (size_t i = 1; i < m->n; i++) {
		if (strcmp(m->entries[i].action, m->entries[i - 1].action) == 0) {
			snprintf(err, err_size, "%s:%zu: action \"%s\" is already listed on line %zu",
			         origin, m->entries[i].line, m->entries[i].action, m->entries[i - 1].line);
			return US_EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(enforced) / sizeof(enforced[0]); i++) {
		if (tenancy_matrix_min_role(m, enforced[i]) == 0) {
			snprintf(err, err_size, "%s: action \"%s\" is missing (usher-tenancyd enforces it)",
			         origin, enforced[i]);
			return US_EINVAL;
		}
	}
	return US_OK;
}

us_err tenancy_matrix_parse(const char *text, size_t len, const char *origin,
                            tenancy_matrix **out, char *err, size_t err_size)
{
	tenancy_matrix *m = calloc(1, sizeof(*m));
	size_t cap = 0;
	if (m == NULL)
		goto oom;
	const char *p = text, *end = text + len;
	for (size_t line = 1; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (m->n == cap) {
			cap = cap ? cap * 2 : 64;
			entry *grown = realloc(m->entries, cap * sizeof(entry));
			if (grown == NULL)
				goto oom;
			m->entries = grown;
		}
		bool empty;
		us_err rc = parse_line(p, eol, origin, line, &m->entries[m->n], &empty, err, err_size);
		if (rc != US_OK) {
			tenancy_matrix_free(m);
			return rc;
		}
		if (!empty)
			m->n++;
		p = eol + 1;
	}
	us_err rc = finish(m, origin, err, err_size);
	if (rc != US_OK) {
		tenancy_matrix_free(m);
		return rc;
	}
	*out = m;
	return US_OK;
oom:
	tenancy_matrix_free(m);
	snprintf(err, err_size, "%s: out of memory", origin);
	return US_EEXHAUSTED;
}

us_err tenancy_matrix_load(const char *path, tenancy_matrix **out, char *err, size_t err_size)
{
	if (path == NULL)
		return tenancy_matrix_parse(tenancy_default_permissions,
		                            tenancy_default_permissions_len, "permissions.conf (built in)",
		                            out, err, err_size);
	char *text;
	size_t len;
	us_err rc = tenancy_conf_read(path, TENANCY_MATRIX_FILE_MAX, &text, &len, err, err_size);
	if (rc != US_OK)
		return rc;
	rc = tenancy_matrix_parse(text, len, path, out, err, err_size);
	free(text);
	return rc;
}

int tenancy_matrix_min_role(const tenancy_matrix *m, const char *action)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(action, m->entries[mid].action);
		if (c == 0)
			return m->entries[mid].min_role;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

size_t tenancy_matrix_size(const tenancy_matrix *m)
{
	return m->n;
}

void tenancy_matrix_free(tenancy_matrix *m)
{
	if (m == NULL)
		return;
	free(m->entries);
	free(m);
}

void tenancy_permissions_install(tenancy_ctx *ctx, tenancy_matrix *m)
{
	pthread_rwlock_wrlock(&ctx->rules_lock);
	tenancy_matrix *old = ctx->matrix;
	ctx->matrix = m;
	pthread_rwlock_unlock(&ctx->rules_lock);
	tenancy_matrix_free(old);
}

int tenancy_permissions_min_role(tenancy_ctx *ctx, const char *action)
{
	pthread_rwlock_rdlock(&ctx->rules_lock);
	int min_role = ctx->matrix != NULL ? tenancy_matrix_min_role(ctx->matrix, action) : 0;
	pthread_rwlock_unlock(&ctx->rules_lock);
	return min_role;
}
