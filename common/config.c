#include "common/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <sodium.h>

#include "common/transport.h"

#define STRING_MAX_DEFAULT 4096

static void *field(void *cfg, const us_config_var *v)
{
	return (char *)cfg + v->offset;
}

static const void *cfield(const void *cfg, const us_config_var *v)
{
	return (const char *)cfg + v->offset;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

us_err us_config_read_file(const char *path, size_t max, char **out, char *err,
                           size_t err_size)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_size, "could not open \"%s\": %s", path, strerror(errno));
		return US_EINVAL;
	}
	char *buf = malloc(max + 2);
	size_t len = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
	bool failed = buf == NULL || ferror(f);
	fclose(f);
	if (failed) {
		free(buf);
		snprintf(err, err_size, "could not read \"%s\"", path);
		return US_EINVAL;
	}
	buf[len] = '\0';
	/* One trailing line end, as editors and `echo` leave it. */
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len > max || strlen(buf) != len) {
		free(buf);
		snprintf(err, err_size, "\"%s\" is over %zu bytes or holds a NUL byte", path, max);
		return US_EINVAL;
	}
	*out = buf;
	return US_OK;
}

/* A secret may come from NAME_FILE instead (Docker and systemd credentials): *from_file
 * gets the file's text (free it), or NULL when NAME_FILE is not set. */
static us_err secret_from_file(const us_config_var *v, char **from_file, char *err,
                               size_t err_size)
{
	*from_file = NULL;
	char name[128];
	snprintf(name, sizeof(name), "%s_FILE", v->name);
	const char *path = getenv(name);
	if (!(v->flags & US_CONFIG_SECRET) || path == NULL || path[0] == '\0')
		return US_OK;
	const char *direct = getenv(v->name);
	if (direct != NULL && direct[0] != '\0') {
		snprintf(err, err_size, "%s and %s are both set: give one", v->name, name);
		return US_EINVAL;
	}
	int64_t max = v->max > 0 ? v->max : STRING_MAX_DEFAULT;
	char reason[300];
	if (us_config_read_file(path, (size_t)max, from_file, reason, sizeof(reason)) != US_OK) {
		snprintf(err, err_size, "%s: %s", name, reason);
		return US_EINVAL;
	}
	return US_OK;
}

static us_err load_value(const us_config_var *v, const char *raw, void *cfg, char *err,
                         size_t err_size);

static us_err load_one(const us_config_var *v, void *cfg, char *err, size_t err_size)
{
	char *from_file;
	us_err rc = secret_from_file(v, &from_file, err, err_size);
	if (rc != US_OK)
		return rc;
	rc = load_value(v, from_file != NULL ? from_file : getenv(v->name), cfg, err, err_size);
	if (from_file != NULL) {
		sodium_memzero(from_file, strlen(from_file));
		free(from_file);
	}
	return rc;
}

static us_err load_value(const us_config_var *v, const char *raw, void *cfg, char *err,
                         size_t err_size)
{
	if (raw == NULL || raw[0] == '\0') {
		if (v->flags & US_CONFIG_REQUIRED) {
			snprintf(err, err_size, "%s: required setting is not set (%s)", v->name, v->help);
			return US_EINVAL;
		}
		raw = v->fallback;
	}

	switch (v->type) {
	case US_CONFIG_STRING: {
		char **slot = field(cfg, v);
		*slot = NULL;
		if (raw == NULL)
			return US_OK;
		size_t len = strlen(raw);
		int64_t max = v->max > 0 ? v->max : STRING_MAX_DEFAULT;
		if ((int64_t)len < v->min || (int64_t)len > max) {
			snprintf(err, err_size, "%s: length must be from %" PRId64 " to %" PRId64
			         " characters, got %zu", v->name, v->min, max, len);
			return US_EINVAL;
		}
		const char *why = v->check != NULL ? v->check(raw) : NULL;
		if (why != NULL) {
			snprintf(err, err_size, "%s: %s", v->name, why);
			return US_EINVAL;
		}
		*slot = strdup(raw);
		if (*slot == NULL) {
			snprintf(err, err_size, "%s: out of memory", v->name);
			return US_EEXHAUSTED;
		}
		return US_OK;
	}
	case US_CONFIG_INT: {
		int64_t *slot = field(cfg, v);
		*slot = 0;
		if (raw == NULL)
			return US_OK;
		char *end;
		errno = 0;
		long long value = strtoll(raw, &end, 10);
		if (errno != 0 || end == raw || *end != '\0' || value < v->min || value > v->max) {
			snprintf(err, err_size, "%s: must be an integer from %" PRId64 " to %" PRId64
			         ", got \"%.64s\"", v->name, v->min, v->max, raw);
			return US_EINVAL;
		}
		*slot = value;
		return US_OK;
	}
	case US_CONFIG_BOOL: {
		bool *slot = field(cfg, v);
		*slot = false;
		if (raw == NULL)
			return US_OK;
		if (parse_bool(raw, slot) != 0) {
			snprintf(err, err_size, "%s: must be true or false, got \"%.64s\"", v->name, raw);
			return US_EINVAL;
		}
		return US_OK;
	}
	}
	snprintf(err, err_size, "%s: unknown setting type", v->name);
	return US_EINTERNAL;
}

us_err us_config_load(const us_config_var *vars, size_t n, void *cfg, char *err,
                      size_t err_size)
{
	for (size_t i = 0; i < n; i++) {
		us_err rc = load_one(&vars[i], cfg, err, err_size);
		if (rc != US_OK) {
			us_config_free(vars, i, cfg);
			return rc;
		}
	}
	return US_OK;
}

void us_config_free(const us_config_var *vars, size_t n, void *cfg)
{
	for (size_t i = 0; i < n; i++) {
		if (vars[i].type == US_CONFIG_STRING) {
			char **slot = field(cfg, &vars[i]);
			free(*slot);
			*slot = NULL;
		}
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether a URL query parameter named name (len bytes, percent-encoded as libpq reads
 * it) may hold a secret: libpq's password and sslpassword, or a name that cannot be read. */
static bool secret_param(const char *name, size_t len)
{
	char decoded[16];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '%') {
			int hi = i + 2 < len ? hex_digit(name[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit(name[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return true;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (n == sizeof(decoded) - 1)
			return false; /* longer than any secret's name */
		decoded[n++] = c;
	}
	decoded[n] = '\0';
	return strcmp(decoded, "password") == 0 || strcmp(decoded, "sslpassword") == 0;
}

/* Prints a secret: a URL shows everything but its password (in the user info or a query
 * parameter, as libpq takes either); anything else shows only that it is set. */
static void print_secret(FILE *out, const char *value)
{
	/* A URL starts with its scheme; "://" further on (inside a key=value conninfo's
	 * password, say) makes no URL. */
	size_t scheme_len = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                  "0123456789+.-");
	const char *scheme = value + scheme_len;
	if (scheme_len == 0 || strncmp(scheme, "://", 3) != 0) {
		fprintf(out, "********\n");
		return;
	}
	/* libpq reads user info up to the first '@' before a '/'. */
	const char *p = scheme + 3;
	const char *at = strchr(p, '@');
	const char *slash = strchr(p, '/');
	if (at != NULL && (slash == NULL || at < slash)) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon != NULL)
			fprintf(out, "%.*s:********", (int)(colon - value), value);
		else
			fprintf(out, "%.*s", (int)(at - value), value);
		p = at;
	} else {
		fprintf(out, "%.*s", (int)(p - value), value);
	}
	const char *query = strchr(p, '?');
	if (query == NULL) {
		fprintf(out, "%s\n", p);
		return;
	}
	fprintf(out, "%.*s", (int)(query + 1 - p), p);
	for (const char *param = query + 1;;) {
		size_t len = strcspn(param, "&");
		const char *eq = memchr(param, '=', len);
		size_t name_len = eq != NULL ? (size_t)(eq - param) : len;
		if (eq != NULL && secret_param(param, name_len))
			fprintf(out, "%.*s=********", (int)name_len, param);
		else
			fprintf(out, "%.*s", (int)len, param);
		if (param[len] == '\0')
			break;
		fputc('&', out);
		param += len + 1;
	}
	fputc('\n', out);
}

void us_config_print(FILE *out, const us_config_var *vars, size_t n, const void *cfg)
{
	for (size_t i = 0; i < n; i++) {
		const us_config_var *v = &vars[i];
		fprintf(out, "%s=", v->name);
		switch (v->type) {
		case US_CONFIG_STRING: {
			const char *s = *(char *const *)cfield(cfg, v);
			if (s == NULL)
				fprintf(out, "\n");
			else if (v->flags & US_CONFIG_SECRET)
				print_secret(out, s);
			else
				fprintf(out, "%s\n", s);
			break;
		}
		case US_CONFIG_INT:
			fprintf(out, "%" PRId64 "\n", *(const int64_t *)cfield(cfg, v));
			break;
		case US_CONFIG_BOOL:
			fprintf(out, "%s\n", *(const bool *)cfield(cfg, v) ? "true" : "false");
			break;
		}
	}
}

void us_config_usage(FILE *out, const us_config_var *vars, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const us_config_var *v = &vars[i];
		fprintf(out, "  %-24s %s", v->name, v->help);
		if (v->flags & US_CONFIG_SECRET)
			fprintf(out, "; or %s_FILE, a file holding it", v->name);
		if (v->flags & US_CONFIG_REQUIRED)
			fprintf(out, " (required)");
		else if (v->fallback != NULL && !(v->flags & US_CONFIG_SECRET))
			fprintf(out, " (default: %s)", v->fallback);
		fprintf(out, "\n");
	}
}

const char *us_config_check_nng_url(const char *value)
{
	return us_transport_check(value);
}

const char *us_config_check_nng_urls(const char *value)
{
	return us_transport_check_list(value);
}
