#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static const char *log_service = "usher";
static us_log_level log_min = US_LOG_INFO;
static _Thread_local const char *tl_request_id;
static _Thread_local const char *tl_method;
static _Thread_local const char *tl_traceparent;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void us_log_init(const char *service, us_log_level min_level)
{
	log_service = service;
	log_min = min_level;
}

const char *us_log_service(void)
{
	return log_service;
}

int us_log_level_parse(const char *s, us_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (us_log_level)i;
			return 0;
		}
	}
	return -1;
}

void us_log_set_request(const char *request_id, const char *method)
{
	tl_request_id = request_id;
	tl_method = method;
}

const char *us_log_request_id(void)
{
	return tl_request_id != NULL ? tl_request_id : "";
}

void us_log_set_trace(const char *traceparent)
{
	tl_traceparent = traceparent;
}

typedef struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
	bool cut; /* something did not fit: the rest is dropped and the line says so */
} line;

/* What is always kept free: the closing quote of a string being written and the line's
 * end, ,"truncated":true}\n. */
#define TAIL_BYTES (1 + sizeof(",\"truncated\":true}\n") - 1)

/* Appends n bytes as one unit (an escape, a whole UTF-8 character): all or nothing, so a
 * cut line is still JSON. */
static bool put_unit(line *l, const char *s, size_t n)
{
	if (l->cut || l->len + n + TAIL_BYTES > sizeof(l->buf)) {
		l->cut = true;
		return false;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

/* The length of the well-formed UTF-8 character at p, or 0. */
static size_t utf8_length(const unsigned char *p)
{
	size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (p[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

static void put_string(line *l, const char *s)
{
	if (!put_unit(l, "\"", 1))
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p && !l->cut; p++) {
		char esc[8];
		switch (*p) {
		case '"': put_unit(l, "\\\"", 2); break;
		case '\\': put_unit(l, "\\\\", 2); break;
		case '\n': put_unit(l, "\\n", 2); break;
		case '\r': put_unit(l, "\\r", 2); break;
		case '\t': put_unit(l, "\\t", 2); break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				put_unit(l, esc, 6);
			} else if (*p < 0x80) {
				put_unit(l, (const char *)p, 1);
			} else {
				/* A byte that is not part of a well-formed character is replaced. */
				size_t n = utf8_length(p);
				if (n == 0)
					put_unit(l, "\\ufffd", 6);
				else if (put_unit(l, (const char *)p, n))
					p += n - 1;
			}
		}
	}
	/* The closing quote's byte is always kept free. */
	l->buf[l->len++] = '"';
}

static void put_field(line *l, const char *key, const char *value)
{
	/* A field starts only when its key and an empty value fit (keys are plain words), so
	 * a cut line never ends on a key without its value. */
	if (l->cut || l->len + strlen(key) + 6 + TAIL_BYTES > sizeof(l->buf)) {
		l->cut = true;
		return;
	}
	put_unit(l, ",", 1);
	put_string(l, key);
	put_unit(l, ":", 1);
	put_string(l, value);
}

static void begin(line *l, us_log_level level, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	l->len = 0;
	l->cut = false;
	put_unit(l, "{\"ts\":", 6);
	put_string(l, stamp);
	put_field(l, "level", level_names[level]);
	put_field(l, "service", log_service);
	/* The request's context before the message, so a cut line keeps it. */
	if (tl_request_id != NULL)
		put_field(l, "request_id", tl_request_id);
	if (tl_method != NULL)
		put_field(l, "method", tl_method);
	if (tl_traceparent != NULL && tl_traceparent[0] != '\0')
		put_field(l, "traceparent", tl_traceparent);
	put_field(l, "msg", msg);
}

static void finish(line *l)
{
	static const char cut_end[] = ",\"truncated\":true}\n";
	if (l->cut) {
		memcpy(l->buf + l->len, cut_end, sizeof(cut_end) - 1);
		l->len += sizeof(cut_end) - 1;
	} else {
		memcpy(l->buf + l->len, "}\n", 2);
		l->len += 2;
	}
	/* One write per line keeps lines whole when threads log at once. */
	ssize_t rc = write(STDERR_FILENO, l->buf, l->len);
	(void)rc;
}

void us_log(us_log_level level, const char *fmt, ...)
{
	if (level < log_min)
		return;
	char msg[LINE_MAX_BYTES / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line l;
	begin(&l, level, msg);
	finish(&l);
}

void us_log_fields(us_log_level level, const char *msg, ...)
{
	if (level < log_min)
		return;
	line l;
	begin(&l, level, msg);
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (key == NULL)
			break;
		const char *value = va_arg(ap, const char *);
		put_field(&l, key, value != NULL ? value : "");
	}
	va_end(ap);
	finish(&l);
}

void us_redact_email(const char *email, char *buf, size_t size)
{
	if (size == 0)
		return;
	const char *at = email != NULL ? strrchr(email, '@') : NULL;
	if (at == NULL || at == email) {
		snprintf(buf, size, "***");
		return;
	}
	snprintf(buf, size, "%c***%s", email[0], at);
}
