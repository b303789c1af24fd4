#include "common/callers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define FILE_MAX (1024 * 1024)
#define ENTRIES_MAX 1000
#define METHODS_MAX 64
#define PATTERN_MAX 200

struct us_callers {
	us_caller_entry *entries;
	size_t n;
};

static void free_entry(us_caller_entry *e)
{
	for (size_t i = 0; i < e->n_methods; i++)
		free(e->methods[i]);
	free(e->methods);
}

void us_callers_free(us_callers *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free_entry(&c->entries[i]);
	free(c->entries);
	free(c);
}

size_t us_callers_count(const us_callers *c)
{
	return c->n;
}

static bool name_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > US_CALLER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

const char *us_method_pattern_check(const char *p)
{
	size_t len = strlen(p);
	if (strcmp(p, "*") == 0)
		return NULL;
	const char *slash = strchr(p, '/');
	if (len == 0 || len > PATTERN_MAX || slash == NULL || slash == p || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL)
		return "must be \"*\", \"package.Service/Method\" or \"package.Service/*\"";
	for (const char *c = p; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		          (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '/' ||
		          (*c == '*' && c == p + len - 1 && c[-1] == '/');
		if (!ok)
			return "must be \"*\", \"package.Service/Method\" or \"package.Service/*\"";
	}
	return NULL;
}

bool us_methods_allow(char *const *patterns, size_t n, const char *method)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		size_t len = strlen(p);
		if (strcmp(p, "*") == 0 || strcmp(p, method) == 0)
			return true;
		if (len >= 2 && p[len - 1] == '*' && strncmp(p, method, len - 1) == 0 &&
		    strchr(method + len - 1, '/') == NULL)
			return true;
	}
	return false;
}

/* "methods=a,b,c" into e. */
static const char *parse_methods(const char *list, us_caller_entry *e)
{
	if (e->methods != NULL)
		return "methods= is given twice";
	char *copy = strdup(list);
	if (copy == NULL)
		return "out of memory";
	const char *why = NULL;
	e->methods = calloc(METHODS_MAX, sizeof(char *));
	if (e->methods == NULL)
		why = "out of memory";
	char *save = NULL;
	for (char *p = strtok_r(copy, ",", &save); p != NULL && why == NULL;
	     p = strtok_r(NULL, ",", &save)) {
		if (e->n_methods == METHODS_MAX)
			why = "methods= lists more than 64 patterns";
		else if ((why = us_method_pattern_check(p)) == NULL &&
		         (e->methods[e->n_methods++] = strdup(p)) == NULL)
			why = "out of memory";
	}
	if (why == NULL && e->n_methods == 0)
		why = "methods= lists no method";
	free(copy);
	return why;
}

/* One non-comment line into e; returns NULL or why it is wrong. */
static const char *parse_line(char *line, us_caller_entry *e)
{
	memset(e, 0, sizeof(*e));
	char *save = NULL;
	char *name = strtok_r(line, " \t", &save);
	char *key = strtok_r(NULL, " \t", &save);
	if (name == NULL || key == NULL)
		return "expected NAME PUBLIC_KEY [RIGHT...]";
	if (!name_ok(name))
		return "the name must be 1 to 64 characters of A-Z, a-z, 0-9, - _ .";
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (us_public_key_parse(key, e->public_key) != 0)
		return "the public key must be 64 hex digits";
	for (char *r = strtok_r(NULL, " \t", &save); r != NULL; r = strtok_r(NULL, " \t", &save)) {
		const char *why = NULL;
		if (strcmp(r, "actor") == 0)
			e->rights |= US_RIGHT_ACTOR;
		else if (strcmp(r, "system") == 0)
			e->rights |= US_RIGHT_SYSTEM;
		else if (strcmp(r, "principals") == 0)
			e->rights |= US_RIGHT_PRINCIPALS;
		else if (strncmp(r, "methods=", 8) == 0)
			why = parse_methods(r + 8, e);
		else
			why = "unknown right (actor, system, principals, methods=...)";
		if (why != NULL)
			return why;
	}
	return NULL;
}

us_err us_callers_parse(const char *text, const char *origin, us_callers **out, char *err,
                        size_t err_size)
{
	us_callers *c = calloc(1, sizeof(*c));
	char *copy = strdup(text);
	if (c == NULL || copy == NULL) {
		free(c);
		free(copy);
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	us_err rc = US_OK;
	int lineno = 0;
	char *next = copy;
	while (next != NULL && rc == US_OK) {
		char *line = next;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;
		if (c->n == ENTRIES_MAX) {
			snprintf(err, err_size, "%s:%d: more than %d callers", origin, lineno, ENTRIES_MAX);
			rc = US_EINVAL;
			break;
		}
		if (c->n % 16 == 0) {
			us_caller_entry *grown = realloc(c->entries, (c->n + 16) * sizeof(*grown));
			if (grown == NULL) {
				snprintf(err, err_size, "out of memory");
				rc = US_EEXHAUSTED;
				break;
			}
			c->entries = grown;
		}
		us_caller_entry *e = &c->entries[c->n];
		const char *why = parse_line(line, e);
		c->n++;
		for (size_t i = 0; why == NULL && i + 1 < c->n; i++) {
			if (sodium_memcmp(c->entries[i].public_key, e->public_key, US_PUBLIC_KEY_BYTES) == 0)
				why = "this public key is already listed";
		}
		if (why != NULL) {
			snprintf(err, err_size, "%s:%d: %s", origin, lineno, why);
			rc = US_EINVAL;
		}
	}
	free(copy);
	if (rc != US_OK) {
		us_callers_free(c);
		return rc;
	}
	*out = c;
	return US_OK;
}

us_err us_callers_load(const char *path, us_callers **out, char *err, size_t err_size)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_size, "could not open \"%s\": %s", path, strerror(errno));
		return US_EINVAL;
	}
	char *buf = malloc(FILE_MAX + 1);
	size_t len = buf != NULL ? fread(buf, 1, FILE_MAX + 1, f) : 0;
	bool failed = buf == NULL || ferror(f);
	fclose(f);
	if (failed || len > FILE_MAX) {
		free(buf);
		snprintf(err, err_size, failed ? "could not read \"%s\"" : "\"%s\" is over 1 MiB", path);
		return US_EINVAL;
	}
	buf[len] = '\0';
	us_err rc = us_callers_parse(buf, path, out, err, err_size);
	free(buf);
	return rc;
}

const us_caller_entry *us_callers_find(const us_callers *c,
                                       const uint8_t public_key[US_PUBLIC_KEY_BYTES])
{
	for (size_t i = 0; i < c->n; i++) {
		if (memcmp(c->entries[i].public_key, public_key, US_PUBLIC_KEY_BYTES) == 0)
			return &c->entries[i];
	}
	return NULL;
}
