#include "common/html.h"

#include <string.h>

void us_html_escape(us_buf *out, const char *s)
{
	while (*s != '\0') {
		size_t plain = strcspn(s, "&<>\"'");
		us_buf_append(out, s, plain);
		s += plain;
		switch (*s) {
		case '&': us_buf_puts(out, "&amp;"); break;
		case '<': us_buf_puts(out, "&lt;"); break;
		case '>': us_buf_puts(out, "&gt;"); break;
		case '"': us_buf_puts(out, "&quot;"); break;
		case '\'': us_buf_puts(out, "&#39;"); break;
		default: return; /* the end */
		}
		s++;
	}
}
