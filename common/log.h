/* Structured logs: one JSON object per line on stderr,
 * {"ts":..., "level":..., "service":..., "msg":..., "request_id":..., "traceparent":..., ...}.
 * A line is at most 4 KiB: one that would be longer is cut between whole characters and
 * escapes and ends with "truncated":true, so it is always one valid JSON object.
 * Never pass a token, a password or a full email address: see us_redact_email(). */
#ifndef US_LOG_H
#define US_LOG_H

#include <stddef.h>

typedef enum us_log_level {
	US_LOG_DEBUG,
	US_LOG_INFO,
	US_LOG_WARN,
	US_LOG_ERROR,
} us_log_level;

/* Sets the service name stamped on every line (borrowed: keep it alive) and the lowest
 * level written. Before this, lines are written with service "usher". */
void us_log_init(const char *service, us_log_level min_level);

/* The service name us_log_init() set ("usher" before): also the metrics' service label. */
const char *us_log_service(void);

/* "debug", "info", "warn", "error" → 0 and *out; anything else → -1. */
int us_log_level_parse(const char *s, us_log_level *out);

/* The calling thread's request context, added to its lines until cleared with NULLs.
 * Borrowed: the strings must outlive the request. */
void us_log_set_request(const char *request_id, const char *method);

/* The calling thread's request id as set above, "" when none: what a store records with a
 * row another thread will act on later (the outbox). */
const char *us_log_request_id(void);

/* The calling thread's W3C traceparent, added to its lines until cleared with NULL (or
 * ""). Borrowed, as above. */
void us_log_set_trace(const char *traceparent);

/* A line whose msg is printf-formatted. */
void us_log(us_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line with extra string fields: key, value pairs ending with NULL. */
void us_log_fields(us_log_level level, const char *msg, ...) __attribute__((sentinel));

#define us_debug(...) us_log(US_LOG_DEBUG, __VA_ARGS__)
#define us_info(...) us_log(US_LOG_INFO, __VA_ARGS__)
#define us_warn(...) us_log(US_LOG_WARN, __VA_ARGS__)
#define us_error(...) us_log(US_LOG_ERROR, __VA_ARGS__)

/* Writes a loggable form of an email address into buf: the first character of the
 * local part, "***", and the domain ("a***@example.com"). */
void us_redact_email(const char *email, char *buf, size_t size);

#endif
