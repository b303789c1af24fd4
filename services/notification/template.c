#include "template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_files.h"
#include "common/html.h"
#include "common/validate.h"

#define DECLARED_MAX 8

/* Every template and what callers may pass to it: the contract with other services. */
static const struct {
	const char *name;
	const char *vars[DECLARED_MAX];
} catalog[] = {
	{"invitation_new_user", {"account_name", "inviter_name", "role", "link", "expires_at"}},
	{"invitation_existing_user", {"account_name", "inviter_name", "role", "link", "expires_at"}},
	{"invitation_accepted", {"account_name", "invitee_email", "role"}},
	{"invitation_declined", {"account_name", "invitee_email", "role"}},
	{"email_change_verification", {"name", "link", "expires_at"}},
	{"password_reset", {"name", "link", "expires_at"}},
	{"email_verification", {"name", "link", "expires_at"}},
	{"link_join_confirmation", {"account_name", "link", "expires_at"}},
	{"invitation_reminder", {"account_name", "inviter_name", "role", "link", "expires_at"}},
	{"invitation_expired", {"account_name", "invitee_email", "role"}},
	/* Translations: "<template>.<language>", chosen by an email's locale (intake.c). */
	{"invitation_new_user.fr", {"account_name", "inviter_name", "role", "link", "expires_at"}},
	{"invitation_existing_user.fr",
	 {"account_name", "inviter_name", "role", "link", "expires_at"}},
	{"invitation_reminder.fr", {"account_name", "inviter_name", "role", "link", "expires_at"}},
};
#define N_TEMPLATES (sizeof(catalog) / sizeof(catalog[0]))

static const char *const part_ext[TEMPLATE_N_PARTS] = {"subject", "txt", "html"};

/* A part is literal text cut by placeholders: segment i is text[i], then the value of
 * var[i] (a catalog index, or -1 after the last literal). */
typedef struct segment {
	const char *text;
	size_t len;
	int var;
} segment;

typedef struct compiled_part {
	char *source; /* owned; segments point into it */
	segment *segments;
	size_t n_segments;
} compiled_part;

struct notification_template {
	size_t index; /* into catalog */
	compiled_part parts[TEMPLATE_N_PARTS];
};

struct notification_template_set {
	notification_template templates[N_TEMPLATES];
};

static int declared_index(size_t t, const char *name, size_t len)
{
	for (int i = 0; i < DECLARED_MAX && catalog[t].vars[i] != NULL; i++) {
		if (strlen(catalog[t].vars[i]) == len && memcmp(catalog[t].vars[i], name, len) == 0)
			return i;
	}
	return -1;
}

static bool add_segment(compiled_part *p, const char *text, size_t len, int var)
{
	segment *s = realloc(p->segments, (p->n_segments + 1) * sizeof(*s));
	if (s == NULL)
		return false;
	p->segments = s;
	p->segments[p->n_segments++] = (segment){text, len, var};
	return true;
}

/* Splits p->source into segments; on failure says why in err. */
static bool compile_part(size_t t, compiled_part *p, const char *file, char *err, size_t err_size)
{
	const char *s = p->source;
	for (;;) {
		const char *open = strstr(s, "{{");
		if (open == NULL)
			break;
		const char *name = open + 2;
		const char *close = strstr(name, "}}");
		if (close == NULL) {
			snprintf(err, err_size, "template \"%s\": \"{{\" without \"}}\"", file);
			return false;
		}
		size_t len = (size_t)(close - name);
		int var = declared_index(t, name, len);
		if (var < 0) {
			snprintf(err, err_size, "template \"%s\": unknown variable \"%.*s\"", file,
			         (int)(len > 40 ? 40 : len), name);
			return false;
		}
		if (!add_segment(p, s, (size_t)(open - s), var)) {
			snprintf(err, err_size, "out of memory");
			return false;
		}
		s = close + 2;
	}
	if (!add_segment(p, s, strlen(s), -1)) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	return true;
}

static const notification_template_file *embedded(const char *file)
{
	for (const notification_template_file *f = notification_template_files; f->name != NULL; f++) {
		if (strcmp(f->name, file) == 0)
			return f;
	}
	return NULL;
}

/* Where override files come from: a directory, or one file's text. */
typedef struct overrides {
	const char *dir;
	const char *file, *text;
	size_t len;
} overrides;

/* Reads dir/file into *out (owned), *len bytes. Returns 0, 1 when there is no such file,
 * or -1. */
static int read_override(const char *dir, const char *file, char **out, size_t *out_len,
                         char *err, size_t err_size)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, err_size, "could not open \"%s\": %s", path, strerror(errno));
		return -1;
	}
	char *data = malloc(TEMPLATE_FILE_MAX + 1);
	size_t len = data != NULL ? fread(data, 1, TEMPLATE_FILE_MAX + 1, f) : 0;
	bool bad = data == NULL || ferror(f) || len > TEMPLATE_FILE_MAX;
	fclose(f);
	if (bad) {
		snprintf(err, err_size, "could not read \"%s\": %s", path,
		         data == NULL ? "out of memory" : "larger than 64 KiB or unreadable");
		free(data);
		return -1;
	}
	data[len] = '\0';
	*out = data;
	*out_len = len;
	return 0;
}

static int find_override(const overrides *o, const char *file, char **out, size_t *len,
                         char *err, size_t err_size)
{
	if (o->file != NULL) {
		if (strcmp(o->file, file) != 0)
			return 1;
		if (o->len > TEMPLATE_FILE_MAX) {
			snprintf(err, err_size, "template \"%s\" is larger than 64 KiB", file);
			return -1;
		}
		if ((*out = malloc(o->len + 1)) == NULL) {
			snprintf(err, err_size, "out of memory");
			return -1;
		}
		memcpy(*out, o->text, o->len);
		(*out)[o->len] = '\0';
		*len = o->len;
		return 0;
	}
	return o->dir != NULL ? read_override(o->dir, file, out, len, err, err_size) : 1;
}

/* The part's text: the override or the default, checked; owned *out. */
static bool load_source(const overrides *o, const char *file, notification_template_part part,
                        char **out, char *err, size_t err_size)
{
	char *text = NULL;
	size_t len = 0;
	int rc = find_override(o, file, &text, &len, err, err_size);
	if (rc < 0)
		return false;
	if (rc == 1) {
		const notification_template_file *f = embedded(file);
		if (f == NULL || (text = strndup(f->data, f->len)) == NULL) {
			snprintf(err, err_size, "template \"%s\": %s", file,
			         f == NULL ? "not compiled in" : "out of memory");
			return false;
		}
		len = f->len;
	}
	/* Text stops at a NUL: a file holding one would lose its tail without a word. */
	if (strlen(text) != len) {
		snprintf(err, err_size, "template \"%s\" holds a NUL byte", file);
		free(text);
		return false;
	}
	if (part == TEMPLATE_SUBJECT) {
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = '\0';
	}
	const char *why = !us_utf8_valid(text, len) ? "is not valid UTF-8"
	                  : part == TEMPLATE_SUBJECT && strpbrk(text, "\r\n") != NULL
	                          ? "must be one line"
	                  : len == 0 ? "is empty"
	                             : NULL;
	if (why != NULL) {
		snprintf(err, err_size, "template \"%s\" %s", file, why);
		free(text);
		return false;
	}
	*out = text;
	return true;
}

static us_err load_set(const overrides *o, notification_template_set **out, char *err,
                       size_t err_size)
{
	notification_template_set *set = calloc(1, sizeof(*set));
	if (set == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	for (size_t t = 0; t < N_TEMPLATES; t++) {
		set->templates[t].index = t;
		for (int p = 0; p < TEMPLATE_N_PARTS; p++) {
			char file[128];
			snprintf(file, sizeof(file), "%s.%s", catalog[t].name, part_ext[p]);
			compiled_part *cp = &set->templates[t].parts[p];
			if (!load_source(o, file, (notification_template_part)p, &cp->source, err,
			                 err_size) ||
			    !compile_part(t, cp, file, err, err_size)) {
				notification_template_set_free(set);
				return US_EINVAL;
			}
		}
	}
	*out = set;
	return US_OK;
}

us_err notification_template_set_load(const char *dir, notification_template_set **out, char *err,
                                      size_t err_size)
{
	const overrides o = {.dir = dir};
	return load_set(&o, out, err, err_size);
}

us_err notification_template_set_load_text(const char *file, const char *text, size_t len,
                                           notification_template_set **out, char *err,
                                           size_t err_size)
{
	const overrides o = {.file = file, .text = text, .len = len};
	return load_set(&o, out, err, err_size);
}

void notification_template_set_free(notification_template_set *set)
{
	if (set == NULL)
		return;
	for (size_t t = 0; t < N_TEMPLATES; t++) {
		for (int p = 0; p < TEMPLATE_N_PARTS; p++) {
			free(set->templates[t].parts[p].source);
			free(set->templates[t].parts[p].segments);
		}
	}
	free(set);
}

const notification_template *notification_template_find(const notification_template_set *set,
                                                        const char *name)
{
	for (size_t t = 0; t < N_TEMPLATES; t++) {
		if (strcmp(catalog[t].name, name) == 0)
			return &set->templates[t];
	}
	return NULL;
}

const char *notification_template_name(const notification_template *t)
{
	return catalog[t->index].name;
}

bool notification_template_declares(const notification_template *t, const char *name)
{
	return declared_index(t->index, name, strlen(name)) >= 0;
}

static const char *lookup(const notification_template_var *vars, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(vars[i].name, name) == 0)
			return vars[i].value;
	}
	return NULL;
}

const char *notification_template_missing(const notification_template *t,
                                          const notification_template_var *vars, size_t n_vars)
{
	for (int p = 0; p < TEMPLATE_N_PARTS; p++) {
		const compiled_part *cp = &t->parts[p];
		for (size_t i = 0; i < cp->n_segments; i++) {
			int v = cp->segments[i].var;
			if (v >= 0 && lookup(vars, n_vars, catalog[t->index].vars[v]) == NULL)
				return catalog[t->index].vars[v];
		}
	}
	return NULL;
}

const char *notification_template_render(const notification_template *t,
                                         notification_template_part part,
                                         const notification_template_var *vars, size_t n_vars,
                                         us_buf *out)
{
	const compiled_part *cp = &t->parts[part];
	for (size_t i = 0; i < cp->n_segments; i++) {
		const segment *s = &cp->segments[i];
		us_buf_append(out, s->text, s->len);
		if (s->var < 0)
			continue;
		const char *name = catalog[t->index].vars[s->var];
		const char *value = lookup(vars, n_vars, name);
		if (value == NULL)
			return name;
		if (part == TEMPLATE_HTML)
			us_html_escape(out, value);
		else
			us_buf_puts(out, value);
	}
	return NULL;
}
