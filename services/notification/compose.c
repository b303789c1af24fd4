#include "compose.h"

#include <stdio.h>

#include <jansson.h>

/* Borrows the strings of obj into vars. */
static size_t collect_vars(json_t *obj, notification_template_var *vars)
{
	size_t n = 0;
	const char *name;
	json_t *value;
	json_object_foreach(obj, name, value) {
		if (n == TEMPLATE_VARS_MAX || !json_is_string(value))
			return (size_t)-1;
		vars[n].name = name;
		vars[n].value = json_string_value(value);
		n++;
	}
	return n;
}

us_err notification_compose_message(const notification_template_set *templates,
                                    const notification_mime_mailbox *from,
                                    const notification_compose_input *in, us_buf *out, char *why,
                                    size_t why_size)
{
	const notification_template *t = notification_template_find(templates, in->template);
	if (t == NULL) {
		snprintf(why, why_size, "unknown template \"%s\"", in->template);
		return US_EINVAL;
	}
	json_t *obj = json_loads(in->variables, JSON_REJECT_DUPLICATES, NULL);
	notification_template_var vars[TEMPLATE_VARS_MAX];
	size_t n = json_is_object(obj) ? collect_vars(obj, vars) : (size_t)-1;
	if (n == (size_t)-1) {
		json_decref(obj);
		snprintf(why, why_size, "stored variables are not a JSON object of strings");
		return US_EINVAL;
	}
	us_buf text = US_BUF_INIT, html = US_BUF_INIT;
	const char *missing = notification_template_render(t, TEMPLATE_TEXT, vars, n, &text);
	if (missing == NULL)
		missing = notification_template_render(t, TEMPLATE_HTML, vars, n, &html);
	us_err rc = US_OK;
	if (missing != NULL) {
		snprintf(why, why_size, "template \"%s\" needs variable \"%s\"", in->template, missing);
		rc = US_EINVAL;
	} else if (us_buf_failed(&text) || us_buf_failed(&html)) {
		snprintf(why, why_size, "out of memory");
		rc = US_EEXHAUSTED;
	} else {
		notification_mime_message m = {
			.from = from,
			.to = in->recipient,
			.subject = in->subject,
			.message_id = in->smtp_message_id,
			.date = in->created_at,
			.boundary = in->id,
			.text = text.data,
			.html = html.data,
		};
		notification_mime_build(&m, out);
		if (us_buf_failed(out)) {
			snprintf(why, why_size, "out of memory");
			rc = US_EEXHAUSTED;
		}
	}
	us_buf_free(&text);
	us_buf_free(&html);
	json_decref(obj);
	return rc;
}
