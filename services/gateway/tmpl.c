#include "tmpl.h"

#include <string.h>

#include "common/html.h"

static const gateway_template *find(const char *name)
{
	for (const gateway_template *t = gateway_templates; t->name != NULL; t++) {
		if (strcmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

/* The value of the key of length len in vars; false when vars has no such key. */
static bool lookup(const char *const *vars, const char *key, size_t len, const char **value)
{
	for (size_t i = 0; vars != NULL && vars[i] != NULL; i += 2) {
		if (strlen(vars[i]) == len && memcmp(vars[i], key, len) == 0) {
			*value = vars[i + 1] != NULL ? vars[i + 1] : "";
			return true;
		}
	}
	return false;
}

bool gateway_tmpl_render(us_buf *out, const char *name, const char *const *vars)
{
	const gateway_template *t = find(name);
	if (t == NULL) {
		out->failed = true;
		return false;
	}
	const char *p = t->data;
	for (;;) {
		const char *open = strstr(p, "{{");
		if (open == NULL)
			break;
		us_buf_append(out, p, (size_t)(open - p));
		bool raw = open[2] == '{';
		const char *key = open + (raw ? 3 : 2);
		const char *close = strstr(key, raw ? "}}}" : "}}");
		const char *value;
		if (close == NULL || !lookup(vars, key, (size_t)(close - key), &value)) {
			out->failed = true;
			return false;
		}
		if (raw)
			us_buf_puts(out, value);
		else
			us_html_escape(out, value);
		p = close + (raw ? 3 : 2);
	}
	us_buf_puts(out, p);
	return !us_buf_failed(out);
}
