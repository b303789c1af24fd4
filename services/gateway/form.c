#include "form.h"

#include <string.h>

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes v_len bytes of v ('+' for space, %XX escapes) into a. */
static char *decode(us_arena *a, const char *v, size_t v_len, size_t max)
{
	if (v_len > 3 * max)
		return NULL;
	char *out = us_arena_alloc(a, v_len + 1);
	if (out == NULL)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < v_len; i++) {
		if (v[i] == '+') {
			out[n++] = ' ';
		} else if (v[i] == '%') {
			int hi = i + 2 < v_len ? hex_value(v[i + 1]) : -1;
			int lo = i + 2 < v_len ? hex_value(v[i + 2]) : -1;
			/* A cut escape, or a NUL, is no form a browser sends. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			out[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[n++] = v[i];
		}
	}
	if (n > max)
		return NULL;
	out[n] = '\0';
	return out;
}

char *gateway_form_value(us_arena *a, const char *body, const char *name)
{
	return gateway_form_value_up_to(a, body, name, GATEWAY_FORM_FIELD_MAX);
}

char *gateway_form_value_up_to(us_arena *a, const char *body, const char *name, size_t max)
{
	size_t name_len = strlen(name);
	for (const char *pair = body != NULL ? body : ""; *pair;) {
		const char *end = strchr(pair, '&');
		size_t len = end ? (size_t)(end - pair) : strlen(pair);
		if (len > name_len && strncmp(pair, name, name_len) == 0 && pair[name_len] == '=')
			return decode(a, pair + name_len + 1, len - name_len - 1, max);
		pair = end ? end + 1 : pair + len;
	}
	return "";
}

bool gateway_form_split_list(char *list, char **out, size_t max, size_t *n)
{
	char *save = NULL;
	*n = 0;
	for (char *item = strtok_r(list, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		if (*n == max)
			return false;
		out[(*n)++] = item;
	}
	return true;
}
