/* Email templates: a subject, a plain-text part and an HTML part per template, with
 * {{variable}} placeholders. The defaults are compiled in from templates/; a directory
 * given at start-up may replace any of the files. Each template declares the variables
 * callers may pass; a template file using any other is refused when it is loaded, so a
 * bad override stops the daemon instead of failing every email. */
#ifndef NOTIFICATION_TEMPLATE_H
#define NOTIFICATION_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define TEMPLATE_VAR_NAME_MAX 40
#define TEMPLATE_VAR_VALUE_MAX 2000
#define TEMPLATE_VARS_MAX 16
#define TEMPLATE_FILE_MAX (64 * 1024)

typedef enum notification_template_part {
	TEMPLATE_SUBJECT,
	TEMPLATE_TEXT,
	TEMPLATE_HTML,
	TEMPLATE_N_PARTS,
} notification_template_part;

typedef struct notification_template_var {
	const char *name;
	const char *value;
} notification_template_var;

typedef struct notification_template_set notification_template_set;
typedef struct notification_template notification_template;

/* Loads every template: the compiled-in files, each replaced by dir/<file> when that
 * exists (dir may be NULL). Returns owned *out (notification_template_set_free()), or an error with
 * the file and the problem in err. */
US_MUST_USE us_err notification_template_set_load(const char *dir, notification_template_set **out,
                                                  char *err, size_t err_size);

/* Like notification_template_set_load() without a directory, but with the text of one
 * file given (text, len bytes) as if it were TEMPLATE_DIR/file: the file checks an
 * override gets, for tests and fuzz targets. */
US_MUST_USE us_err notification_template_set_load_text(const char *file, const char *text,
                                                       size_t len,
                                                       notification_template_set **out,
                                                       char *err, size_t err_size);

/* Takes NULL. */
void notification_template_set_free(notification_template_set *set);

/* The template called name, or NULL. Borrowed from set. */
const notification_template *notification_template_find(const notification_template_set *set,
                                                        const char *name);

const char *notification_template_name(const notification_template *t);

/* Whether callers may pass a variable called name to t. */
bool notification_template_declares(const notification_template *t, const char *name);

/* The first variable a part of t uses that vars lacks, or NULL when all are there. */
const char *notification_template_missing(const notification_template *t,
                                          const notification_template_var *vars, size_t n_vars);

/* Appends part rendered with vars to out; values are HTML-escaped in the HTML part.
 * Returns NULL, or the name of a variable the part uses that vars lacks (out then holds
 * a partial rendering). */
const char *notification_template_render(const notification_template *t,
                                         notification_template_part part,
                                         const notification_template_var *vars, size_t n_vars,
                                         us_buf *out);

#endif
