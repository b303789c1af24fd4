#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static const char *log_service = "usher";
static us_log_level log_min = US_LOG_INFO;
static _Thread_local const char *tl_request_id;
static _Thread_local const char *tl_method;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void us_log_init(const char *service, us_log_level min_level)
{
	log_service = service;
	log_min = min_level;
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

typedef struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
} line;

static void put_raw(line *l, const char *s, size_t n)
{
	/* Keep room for the closing "}\n"; a line that would overflow is cut. */
	size_t room = sizeof(l->buf) - 3 - l->len;
	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_string(line *l, const char *s)
{
	put_raw(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"': put_raw(l, "\\\"", 2); break;
		case '\\': put_raw(l, "\\\\", 2); break;
		case '\n': put_raw(l, "\\n", 2); break;
		case '\r': put_raw(l, "\\r", 2); break;
		case '\t': put_raw(l, "\\t", 2); break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				put_raw(l, esc, 6);
			} else {
				put_raw(l, (const char *)p, 1);
			}
		}
	}
	put_raw(l, "\"", 1);
}

static void put_field(line *l, const char *key, const char *value)
{
	put_raw(l, ",", 1);
	put_string(l, key);
	put_raw(l, ":", 1);
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
	put_raw(l, "{\"ts\":", 6);
	put_string(l, stamp);
	put_field(l, "level", level_names[level]);
	put_field(l, "service", log_service);
	put_field(l, "msg", msg);
	if (tl_request_id != NULL)
		put_field(l, "request_id", tl_request_id);
	if (tl_method != NULL)
		put_field(l, "method", tl_method);
}

static void finish(line *l)
{
	memcpy(l->buf + l->len, "}\n", 2);
	l->len += 2;
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
