/* One run's result of a benchmark, as the JSON file bench/report.py reads: measures with
 * their goal and the floor measured in the same run (see floors.h), and detail rows. */
#ifndef BENCH_RESULT_H
#define BENCH_RESULT_H

#include <stdbool.h>

typedef struct bench_result bench_result;

typedef enum bench_better { BENCH_LOWER_IS_BETTER, BENCH_HIGHER_IS_BETTER } bench_better;

/* name: the benchmark ("bulk"); summary: what it does, one paragraph. */
bench_result *bench_result_new(const char *name, const char *summary);

/* A measure of value in unit ("ms", "s", "MiB", "/s", "%"). goal: the goal as text ("≤ 2.0
 * s"; NULL: none) and limit, the number the goal compares against (met when value <= limit,
 * or >= for BENCH_HIGHER_IS_BETTER). floor: what the floor is ("bare durable commit, p50";
 * NULL: none) and floor_value, in the same unit; the ratio says how many floors the result
 * costs (value / floor, or floor / value for a rate). */
void bench_result_measure(bench_result *r, const char *name, const char *unit, double value,
                          const char *goal, double limit, bench_better better,
                          const char *floor, double floor_value);

/* A measure that could not be taken this run, and why. */
void bench_result_unavailable(bench_result *r, const char *name, const char *goal,
                              const char *why);

/* A row of context under the table ("rows listed", "50,000"). */
void bench_result_detail(bench_result *r, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Writes the result to path (NULL: nowhere) and frees it; false when it could not. */
bool bench_result_write(bench_result *r, const char *path);

#endif
