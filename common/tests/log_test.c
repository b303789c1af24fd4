/* Log lines stay one valid JSON object (UTF-8) whatever they are given: a line too long
 * is cut between whole escapes and characters and says "truncated"; bytes that are not
 * UTF-8 are replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/log.h"

/* Runs fn with stderr going to a file; returns the file's lines (caller frees). */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/log_test.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	off_t size = lseek(fd, 0, SEEK_END);
	char *text = calloc(1, (size_t)size + 1);
	assert_int_equal(pread(fd, text, (size_t)size, 0), size);
	close(fd);
	unlink(path);
	return text;
}

static void long_lines(void)
{
	us_log_init("log_test", US_LOG_DEBUG);
	us_log_set_request("req-1", "usher.v1.Test/Method");
	us_log_set_trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	char value[6000];
	/* Every length around the cut, for escapes (2 bytes), \u00XX (6) and 2-, 3- and
	 * 4-byte characters, so the cut falls inside each kind somewhere. */
	const char *const units[] = {"\\", "\"", "\x01", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x99\x82"};
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		for (size_t shift = 0; shift < 8; shift++) {
			size_t len = 0;
			for (size_t i = 0; i < shift; i++)
				value[len++] = 'x';
			while (len + strlen(units[u]) < sizeof(value) - 1) {
				memcpy(value + len, units[u], strlen(units[u]));
				len += strlen(units[u]);
			}
			value[len] = '\0';
			us_log_fields(US_LOG_INFO, "long", "value", value, "after", "dropped", NULL);
			us_log(US_LOG_INFO, "%s", value);
		}
	}
	/* Not UTF-8: a lone continuation byte, a truncated sequence, an overlong form. */
	us_log_fields(US_LOG_WARN, "bad bytes", "value", "a\x80z \xe2\x82 \xc0\xaf end", NULL);
	us_log_set_request(NULL, NULL);
	us_log_set_trace(NULL);
}

static void test_every_line_is_json(void **state)
{
	(void)state;
	char *text = capture(long_lines);
	size_t lines = 0, cut = 0;
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		json_error_t err;
		json_t *doc = json_loads(line, 0, &err);
		if (doc == NULL)
			fail_msg("not JSON (%s): %.300s", err.text, line);
		assert_string_equal(json_string_value(json_object_get(doc, "request_id")), "req-1");
		assert_non_null(json_object_get(doc, "traceparent"));
		assert_true(strlen(line) < 4096);
		cut += json_is_true(json_object_get(doc, "truncated"));
		if (strcmp(json_string_value(json_object_get(doc, "msg")), "bad bytes") == 0)
			assert_string_equal(json_string_value(json_object_get(doc, "value")),
			                    "a\xef\xbf\xbdz \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd end");
		json_decref(doc);
		lines++;
	}
	assert_int_equal(lines, 6 * 8 * 2 + 1);
	/* Every us_log_fields line is cut; of the us_log ones (their message is at most 2 KiB
	 * before escaping) those whose escapes double or sextuple it. */
	assert_int_equal(cut, 6 * 8 + 3 * 8);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_line_is_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
