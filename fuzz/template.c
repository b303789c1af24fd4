/* Email templates (services/notification/template.c): an operator's override file, loaded
 * as TEMPLATE_DIR would load it, then rendered with variables as callers pass them. The
 * input's first byte picks the file, then come its text and, NUL-separated, the variable
 * values. Properties: a file is refused with a reason naming it, or loaded; a loaded
 * template renders with its declared variables and asks for nothing else; values are
 * HTML-escaped in the HTML part (no '<', '>' or '"' beyond the template's own) and a
 * subject stays one line. */
#include "fuzz.h"

#include "template.h"
#include "template_files.h"
#include "common/validate.h"

#define VARS_MAX 8

static const char *const var_names[] = {"account_name", "inviter_name", "role", "link",
                                        "expires_at", "invitee_email", "name"};
#define N_VAR_NAMES (sizeof(var_names) / sizeof(var_names[0]))

static size_t count(const char *s, size_t len, char c)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n_files = 0;
	while (notification_template_files[n_files].name != NULL)
		n_files++;
	fuzz_input in = {data, size};
	const char *file = notification_template_files[fuzz_byte(&in) % n_files].name;
	/* The file's text runs to the first NUL after it, or the end. */
	const uint8_t *text = in.data;
	const uint8_t *nul = memchr(in.data, 0, in.size);
	size_t text_len = nul != NULL ? (size_t)(nul - in.data) : in.size;
	/* Sometimes a NUL inside: the loader must refuse it. */
	if (text_len > 0 && text[0] == '\x01' && nul != NULL && (size_t)(nul - in.data) + 2 < in.size)
		text_len += 2;
	in.data += text_len < in.size ? text_len + 1 : in.size;
	in.size -= text_len < in.size ? text_len + 1 : in.size;

	notification_template_set *set = NULL;
	char err[256] = "";
	us_err rc = notification_template_set_load_text(file, (const char *)text, text_len, &set,
	                                                err, sizeof(err));
	if (rc != US_OK) {
		FUZZ_CHECK(rc == US_EINVAL && set == NULL && strstr(err, file) != NULL);
		return 0;
	}
	char *values[N_VAR_NAMES];
	notification_template_var vars[N_VAR_NAMES];
	bool plain = true; /* no value holds a line end */
	for (size_t i = 0; i < N_VAR_NAMES; i++) {
		values[i] = fuzz_string(&in);
		if (!us_utf8_valid(values[i], strlen(values[i])))
			values[i][0] = '\0'; /* callers' values come from JSON: valid UTF-8 */
		plain = plain && strpbrk(values[i], "\r\n") == NULL;
		vars[i] = (notification_template_var){var_names[i], values[i]};
	}
	char template_name[64];
	/* "invitation_new_user.fr.html" is template "invitation_new_user.fr": up to the part's
	 * extension. */
	snprintf(template_name, sizeof(template_name), "%.*s", (int)(strrchr(file, '.') - file), file);
	const notification_template *t = notification_template_find(set, template_name);
	FUZZ_CHECK(t != NULL);
	/* Only what the template declares, as intake passes them. */
	notification_template_var declared[N_VAR_NAMES];
	size_t n = 0;
	for (size_t i = 0; i < N_VAR_NAMES; i++) {
		if (notification_template_declares(t, var_names[i]))
			declared[n++] = vars[i];
	}
	FUZZ_CHECK(notification_template_missing(t, declared, n) == NULL);
	for (int part = 0; part < TEMPLATE_N_PARTS; part++) {
		us_buf out = US_BUF_INIT;
		FUZZ_CHECK(notification_template_render(t, (notification_template_part)part, declared,
		                                        n, &out) == NULL);
		FUZZ_CHECK(!us_buf_failed(&out));
		const char *rendered = out.data != NULL ? out.data : "";
		FUZZ_CHECK(us_utf8_valid(rendered, out.len));
		if (part == TEMPLATE_SUBJECT && plain)
			FUZZ_CHECK(strpbrk(rendered, "\r\n") == NULL);
		bool ours = strstr(file, ".html") != NULL;
		if (part == TEMPLATE_HTML && ours) {
			for (const char *c = "<>\""; *c; c++)
				FUZZ_CHECK(count(rendered, out.len, *c) == count((const char *)text, text_len, *c));
		}
		us_buf_free(&out);
	}
	for (size_t i = 0; i < N_VAR_NAMES; i++)
		free(values[i]);
	notification_template_set_free(set);
	return 0;
}
