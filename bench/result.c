#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

struct bench_result {
	json_t *doc, *measures, *details;
};

bench_result *bench_result_new(const char *name, const char *summary)
{
	bench_result *r = calloc(1, sizeof(*r));
	if (r == NULL)
		abort();
	r->measures = json_array();
	r->details = json_array();
	r->doc = json_pack("{s:s, s:s, s:O, s:O}", "bench", name, "summary", summary, "measures",
	                   r->measures, "details", r->details);
	if (r->doc == NULL)
		abort();
	return r;
}

void bench_result_measure(bench_result *r, const char *name, const char *unit, double value,
                          const char *goal, double limit, bench_better better,
                          const char *floor, double floor_value)
{
	bool higher = better == BENCH_HIGHER_IS_BETTER;
	json_t *m = json_pack("{s:s, s:s, s:f, s:b, s:b}", "name", name, "unit", unit, "value",
	                      value, "higher_is_better", higher, "available", 1);
	if (goal != NULL) {
		json_object_set_new(m, "goal", json_string(goal));
		json_object_set_new(m, "limit", json_real(limit));
		json_object_set_new(m, "met", json_boolean(higher ? value >= limit : value <= limit));
	}
	if (floor != NULL && floor_value > 0 && value > 0) {
		json_object_set_new(m, "floor", json_string(floor));
		json_object_set_new(m, "floor_value", json_real(floor_value));
		json_object_set_new(m, "ratio",
		                    json_real(higher ? floor_value / value : value / floor_value));
	}
	json_array_append_new(r->measures, m);
}

void bench_result_unavailable(bench_result *r, const char *name, const char *goal,
                              const char *why)
{
	json_array_append_new(r->measures, json_pack("{s:s, s:s?, s:b, s:s}", "name", name, "goal",
	                                             goal, "available", 0, "why", why));
}

void bench_result_detail(bench_result *r, const char *name, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_array_append_new(r->details, json_pack("[s,s]", name, text));
}

bool bench_result_write(bench_result *r, const char *path)
{
	bool ok = path == NULL || json_dump_file(r->doc, path, JSON_INDENT(2)) == 0;
	if (!ok)
		fprintf(stderr, "could not write %s\n", path);
	json_decref(r->measures);
	json_decref(r->details);
	json_decref(r->doc);
	free(r);
	return ok;
}
