#include "multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Spaces or tabs allowed between a boundary and its line end (RFC 2046 transport padding). */
#define PADDING_MAX 64
#define DELIMITER_MAX (4 + GATEWAY_MULTIPART_BOUNDARY_MAX)

typedef enum state {
	S_CONTENT,         /* the preamble or a part's content, up to the next delimiter */
	S_AFTER_DELIMITER, /* "--" (the last part) or padding and CRLF (another one) */
	S_CLOSING,         /* one '-' read */
	S_DELIMITER_CR,    /* the delimiter line's CR read */
	S_HEADER,          /* a header line */
	S_HEADER_CR,       /* a header line's CR read */
	S_DONE,            /* after the closing delimiter: the epilogue, ignored */
	S_FAILED,
} state;

struct gateway_multipart {
	char delimiter[DELIMITER_MAX + 1]; /* CRLF "--" boundary */
	size_t delimiter_len;
	size_t matched; /* bytes of the delimiter seen so far */
	state state;
	bool in_part;   /* false in the preamble, whose content is dropped */
	unsigned parts, headers, padding;
	char line[GATEWAY_MULTIPART_HEADER_LINE_MAX + 1];
	size_t line_len;
	bool has_disposition;
	char name[GATEWAY_MULTIPART_NAME_MAX + 1];
	char filename[GATEWAY_MULTIPART_FILENAME_MAX + 1];
	gateway_multipart_data *on_data;
	void *ctx;
	us_err failure;
	char error[160];
};

/* --- header values: a token, then "; name=value" parameters --- */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Copies a token or a quoted string (RFC 7230, with quoted-pairs) from *p into out.
 * Returns false when there is none or it does not fit. */
static bool read_value(const char **p, char *out, size_t size)
{
	const char *s = *p;
	size_t n = 0;
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '\0' || *s == '\\')
				return false;
			if (n + 1 >= size)
				return false;
			out[n++] = *s;
		}
		s++;
	} else {
		for (; is_tchar(*s); s++) {
			if (n + 1 >= size)
				return false;
			out[n++] = *s;
		}
		if (n == 0)
			return false;
	}
	out[n] = '\0';
	*p = s;
	return true;
}

/* The next "; key=value" of a header value. Returns 1 with key and value, 0 at the end,
 * -1 when malformed or too long. */
static int next_param(const char **p, char *key, size_t key_size, char *value, size_t value_size)
{
	const char *s = skip_ows(*p);
	if (*s == '\0')
		return 0;
	if (*s != ';')
		return -1;
	s = skip_ows(s + 1);
	size_t n = 0;
	for (; is_tchar(*s); s++) {
		if (n + 1 >= key_size)
			return -1;
		key[n++] = *s;
	}
	key[n] = '\0';
	s = skip_ows(s);
	if (n == 0 || *s != '=')
		return -1;
	s = skip_ows(s + 1);
	if (!read_value(&s, value, value_size))
		return -1;
	*p = s;
	return 1;
}

/* The value's leading token when it is want (any case); *p is left after it. */
static bool leading_token(const char **p, const char *want)
{
	const char *s = skip_ows(*p);
	size_t n = strlen(want);
	if (strncasecmp(s, want, n) != 0 || is_tchar(s[n]))
		return false;
	*p = s + n;
	return true;
}

/* RFC 2046's bchars, with no space at the end. */
static bool boundary_ok(const char *b)
{
	size_t len = strlen(b);
	if (len == 0 || len > GATEWAY_MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ')
		return false;
	for (; *b; b++) {
		char c = *b;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("'()+_,-./:=? ", c) != NULL))
			return false;
	}
	return true;
}

const char *gateway_multipart_boundary(const char *content_type, char *out, size_t size)
{
	const char *p = content_type;
	if (!leading_token(&p, "multipart/form-data"))
		return "is not multipart/form-data";
	char key[32], value[GATEWAY_MULTIPART_BOUNDARY_MAX + 2];
	bool found = false;
	int rc;
	while ((rc = next_param(&p, key, sizeof(key), value, sizeof(value))) == 1) {
		if (strcasecmp(key, "boundary") != 0)
			continue;
		if (found || !boundary_ok(value) || strlen(value) >= size)
			return "has a boundary that is not one of 1 to 70 letters, digits or '()+_,-./:=?";
		strcpy(out, value);
		found = true;
	}
	if (rc < 0)
		return "is malformed";
	return found ? NULL : "has no boundary";
}

/* --- the reader --- */

gateway_multipart *gateway_multipart_new(const char *boundary, gateway_multipart_data *on_data,
                                         void *ctx)
{
	if (!boundary_ok(boundary))
		return NULL;
	gateway_multipart *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->delimiter_len = (size_t)snprintf(m->delimiter, sizeof(m->delimiter), "\r\n--%s", boundary);
	/* The body may open with the first delimiter: read it as if a line end came before. */
	m->matched = 2;
	m->state = S_CONTENT;
	m->on_data = on_data;
	m->ctx = ctx;
	return m;
}

void gateway_multipart_free(gateway_multipart *m)
{
	free(m);
}

const char *gateway_multipart_error(const gateway_multipart *m)
{
	return m->error;
}

static us_err fail(gateway_multipart *m, us_err code, const char *why)
{
	m->state = S_FAILED;
	m->failure = code;
	snprintf(m->error, sizeof(m->error), "%s", why);
	return code;
}

/* Hands a piece of content on (the preamble's is dropped). */
static us_err content(gateway_multipart *m, const char *data, size_t len)
{
	if (len == 0 || !m->in_part)
		return US_OK;
	if (!m->on_data(m->ctx, m->name, m->filename, data, len))
		return fail(m, US_ECANCELLED, "");
	return US_OK;
}

/* One header line of a part, without its CRLF. */
static us_err header(gateway_multipart *m)
{
	if (++m->headers > GATEWAY_MULTIPART_HEADERS_MAX)
		return fail(m, US_EINVAL, "a part has more than 16 header lines");
	m->line[m->line_len] = '\0';
	const char *colon = memchr(m->line, ':', m->line_len);
	if (colon == NULL || memchr(m->line, '\0', m->line_len) != NULL)
		return fail(m, US_EINVAL, "a part has a malformed header line");
	size_t name_len = (size_t)(colon - m->line);
	if (name_len != 19 || strncasecmp(m->line, "Content-Disposition", 19) != 0)
		return US_OK; /* Content-Type and the like change nothing here */
	if (m->has_disposition)
		return fail(m, US_EINVAL, "a part has two Content-Disposition headers");
	m->has_disposition = true;
	const char *p = colon + 1;
	if (!leading_token(&p, "form-data"))
		return fail(m, US_EINVAL, "a part is not form-data");
	char key[32], value[GATEWAY_MULTIPART_FILENAME_MAX + 1];
	int rc;
	while ((rc = next_param(&p, key, sizeof(key), value, sizeof(value))) == 1) {
		if (strcasecmp(key, "name") == 0) {
			if (strlen(value) > GATEWAY_MULTIPART_NAME_MAX)
				return fail(m, US_EINVAL, "a part's name is longer than 100 bytes");
			strcpy(m->name, value);
		} else if (strcasecmp(key, "filename") == 0) {
			strcpy(m->filename, value);
		}
	}
	if (rc < 0)
		return fail(m, US_EINVAL, "a part has a malformed Content-Disposition");
	return US_OK;
}

/* The headers are over: the part's content follows. */
static us_err begin_part(gateway_multipart *m)
{
	if (!m->has_disposition || m->name[0] == '\0')
		return fail(m, US_EINVAL, "a part has no Content-Disposition with a name");
	m->in_part = true;
	if (!m->on_data(m->ctx, m->name, m->filename, NULL, 0))
		return fail(m, US_ECANCELLED, "");
	return US_OK;
}

/* Reads content from *p up to a delimiter or the end of the piece. */
static us_err read_content(gateway_multipart *m, const char **p, const char *end)
{
	const char *run = *p; /* content not yet handed on */
	const char *s = *p;
	while (s < end) {
		if (m->matched == 0) {
			const char *cr = memchr(s, '\r', (size_t)(end - s));
			if (cr == NULL) {
				s = end;
				break;
			}
			s = cr;
		}
		if (*s == m->delimiter[m->matched]) {
			if (m->matched == 0 && content(m, run, (size_t)(s - run)) != US_OK)
				return m->failure;
			s++;
			if (++m->matched == m->delimiter_len) {
				m->matched = 0;
				m->state = S_AFTER_DELIMITER;
				m->padding = 0;
				*p = s;
				return US_OK;
			}
			continue;
		}
		/* A false start: what matched was content after all. Only the delimiter's
		 * first byte is a CR, so a new match can only begin here. */
		if (content(m, m->delimiter, m->matched) != US_OK)
			return m->failure;
		m->matched = 0;
		run = s;
	}
	if (m->matched == 0 && content(m, run, (size_t)(s - run)) != US_OK)
		return m->failure;
	*p = end;
	return US_OK;
}

us_err gateway_multipart_feed(gateway_multipart *m, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	while (p < end) {
		if (m->state == S_FAILED)
			return m->failure;
		if (m->state == S_CONTENT) {
			if (read_content(m, &p, end) != US_OK)
				return m->failure;
			continue;
		}
		char c = *p++;
		switch (m->state) {
		case S_AFTER_DELIMITER:
			if (c == '-')
				m->state = S_CLOSING;
			else if (c == '\r')
				m->state = S_DELIMITER_CR;
			else if (c == '\n')
				return fail(m, US_EINVAL, "a boundary line does not end with CRLF");
			else if ((c != ' ' && c != '\t') || ++m->padding > PADDING_MAX)
				return fail(m, US_EINVAL, "a boundary is followed by something else than a line end");
			break;
		case S_CLOSING:
			if (c != '-')
				return fail(m, US_EINVAL, "a boundary is followed by something else than a line end");
			m->state = S_DONE;
			m->in_part = false;
			break;
		case S_DELIMITER_CR:
			if (c != '\n')
				return fail(m, US_EINVAL, "a boundary line does not end with CRLF");
			if (++m->parts > GATEWAY_MULTIPART_PARTS_MAX)
				return fail(m, US_EINVAL, "the form has more than 32 parts");
			m->in_part = false;
			m->state = S_HEADER;
			m->headers = 0;
			m->line_len = 0;
			m->has_disposition = false;
			m->name[0] = m->filename[0] = '\0';
			break;
		case S_HEADER:
			if (c == '\r') {
				m->state = S_HEADER_CR;
			} else if (m->line_len == GATEWAY_MULTIPART_HEADER_LINE_MAX) {
				return fail(m, US_EINVAL, "a part has a header line longer than 1024 bytes");
			} else {
				m->line[m->line_len++] = c;
			}
			break;
		case S_HEADER_CR:
			if (c != '\n')
				return fail(m, US_EINVAL, "a part's header line does not end with CRLF");
			if (m->line_len == 0) {
				m->state = S_CONTENT;
				if (begin_part(m) != US_OK)
					return m->failure;
			} else {
				m->state = S_HEADER;
				if (header(m) != US_OK)
					return m->failure;
				m->line_len = 0;
			}
			break;
		case S_DONE:
			p = end; /* the epilogue means nothing */
			break;
		case S_CONTENT:
		case S_FAILED:
			break;
		}
	}
	return m->state == S_FAILED ? m->failure : US_OK;
}

us_err gateway_multipart_finish(gateway_multipart *m)
{
	if (m->state == S_FAILED)
		return m->failure;
	if (m->state != S_DONE)
		return fail(m, US_EINVAL, "the form ends before its closing boundary");
	return US_OK;
}
