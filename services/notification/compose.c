#include "compose.h"

#include <stdio.h>

#include <jansson.h>

/* Borrows the strings of obj into vars. */
static size_t collect_vars(json_t *obj, template_var *vars)
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

us_err compose_message(const template_set *templates, const mime_mailbox *from,
                       const compose_input *in, buf *out, char *why, size_t why_size)
{
	const notification_template *t = template_find(templates, in->template);
	if (t == NULL) {
		snprintf(why, why_size, "unknown template \"%s\"", in->template);
		return US_EINVAL;
	}
	json_t *obj = json_loads(in->variables, JSON_REJECT_DUPLICATES, NULL);
	template_var vars[TEMPLATE_VARS_MAX];
	size_t n = json_is_object(obj) ? collect_vars(obj, vars) : (size_t)-1;
	if (n == (size_t)-1) {
		json_decref(obj);
		snprintf(why, why_size, "stored variables are not a JSON object of strings");
		return US_EINVAL;
	}
	buf text = BUF_INIT, html = BUF_INIT;
	const char *missing = template_render(t, TEMPLATE_TEXT, vars, n, &text);
	if (missing == NULL)
		missing = template_render(t, TEMPLATE_HTML, vars, n, &html);
	us_err rc = US_OK;
	if (missing != NULL) {
		snprintf(why, why_size, "template \"%s\" needs variable \"%s\"", in->template, missing);
		rc = US_EINVAL;
	} else if (buf_failed(&text) || buf_failed(&html)) {
		snprintf(why, why_size, "out of memory");
		rc = US_EEXHAUSTED;
	} else {
		mime_message m = {
			.from = from,
			.to = in->recipient,
			.subject = in->subject,
			.message_id = in->smtp_message_id,
			.date = in->created_at,
			.boundary = in->id,
			.text = text.data,
			.html = html.data,
		};
		mime_build(&m, out);
		if (buf_failed(out)) {
			snprintf(why, why_size, "out of memory");
			rc = US_EEXHAUSTED;
		}
	}
	buf_free(&text);
	buf_free(&html);
	json_decref(obj);
	return rc;
}
