#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"

#define FAMILIES_MAX 64
#define LABEL_VALUE_MAX 120

static const double bucket_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

typedef struct series {
	char values[US_METRIC_LABELS_MAX][LABEL_VALUE_MAX + 1];
	double value;                /* a counter's or gauge's value; a histogram's sum */
	unsigned long long count;    /* a histogram's observations */
	unsigned long long buckets[N_BUCKETS];
} series;

struct us_metric_family {
	us_metric_type type;
	const char *name;
	const char *help;
	char labels[US_METRIC_LABELS_MAX][40];
	size_t n_labels;
	series *series;
	size_t n_series, cap_series;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static us_metric_family families[FAMILIES_MAX];
static size_t n_families;

static void split_labels(us_metric_family *f, const char *names)
{
	f->n_labels = 0;
	while (names != NULL && *names != '\0' && f->n_labels < US_METRIC_LABELS_MAX) {
		size_t len = strcspn(names, ",");
		snprintf(f->labels[f->n_labels++], sizeof(f->labels[0]), "%.*s", (int)len, names);
		names += len + (names[len] == ',');
	}
}

us_metric_family *us_metrics_family(us_metric_type type, const char *name, const char *help,
                                    const char *label_names)
{
	us_metric_family *found = NULL;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < n_families && found == NULL; i++) {
		if (strcmp(families[i].name, name) == 0)
			found = &families[i];
	}
	if (found != NULL && found->type != type) {
		found = NULL;
	} else if (found == NULL && n_families < FAMILIES_MAX) {
		found = &families[n_families++];
		found->type = type;
		found->name = name;
		found->help = help;
		split_labels(found, label_names);
	}
	pthread_mutex_unlock(&mu);
	return found;
}

/* The series for values, made when new; NULL when out of memory. Under mu. */
static series *series_of(us_metric_family *f, const char *const *values)
{
	for (size_t i = 0; i < f->n_series; i++) {
		series *s = &f->series[i];
		bool same = true;
		for (size_t l = 0; l < f->n_labels && same; l++)
			same = strncmp(s->values[l], values[l], LABEL_VALUE_MAX) == 0;
		if (same)
			return s;
	}
	if (f->n_series == f->cap_series) {
		size_t cap = f->cap_series ? f->cap_series * 2 : 8;
		series *grown = realloc(f->series, cap * sizeof(series));
		if (grown == NULL)
			return NULL;
		f->series = grown;
		f->cap_series = cap;
	}
	series *s = &f->series[f->n_series++];
	memset(s, 0, sizeof(*s));
	for (size_t l = 0; l < f->n_labels; l++)
		snprintf(s->values[l], sizeof(s->values[l]), "%s", values[l] != NULL ? values[l] : "");
	return s;
}

void us_metrics_add(us_metric_family *f, const char *const *values, double by)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&mu);
	series *s = series_of(f, values);
	if (s != NULL)
		s->value += by;
	pthread_mutex_unlock(&mu);
}

void us_metrics_set(us_metric_family *f, const char *const *values, double value)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&mu);
	series *s = series_of(f, values);
	if (s != NULL)
		s->value = value;
	pthread_mutex_unlock(&mu);
}

void us_metrics_observe(us_metric_family *f, const char *const *values, double seconds)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&mu);
	series *s = series_of(f, values);
	if (s != NULL) {
		s->value += seconds;
		s->count++;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			if (seconds <= bucket_bounds[b])
				s->buckets[b]++;
		}
	}
	pthread_mutex_unlock(&mu);
}

void us_metrics_upkeep_run(const char *job)
{
	const char *labels[] = {us_log_service(), job};
	us_metrics_add(us_metrics_family(US_METRIC_COUNTER, "usher_upkeep_runs_total",
	                                 "upkeep rounds run, by job", "service,job"),
	               labels, 1);
}

double us_metrics_value(us_metric_family *f, const char *const *values)
{
	if (f == NULL)
		return 0;
	double v = 0;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < f->n_series; i++) {
		series *s = &f->series[i];
		bool same = true;
		for (size_t l = 0; l < f->n_labels && same; l++)
			same = strncmp(s->values[l], values[l], LABEL_VALUE_MAX) == 0;
		if (same) {
			v = f->type == US_METRIC_HISTOGRAM ? (double)s->count : s->value;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	return v;
}

/* A label value escaped as the format asks: backslash, double quote and line feed. */
static void put_label_value(us_buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			us_buf_append(out, "\\\\", 2);
		else if (*v == '"')
			us_buf_append(out, "\\\"", 2);
		else if (*v == '\n')
			us_buf_append(out, "\\n", 2);
		else
			us_buf_append(out, v, 1);
	}
}

/* {a="x",b="y"[,le="..."]}, or nothing without labels. */
static void put_labels(us_buf *out, const us_metric_family *f, const series *s, const char *le)
{
	if (f->n_labels == 0 && le == NULL)
		return;
	us_buf_append(out, "{", 1);
	for (size_t l = 0; l < f->n_labels; l++) {
		us_buf_printf(out, "%s%s=\"", l > 0 ? "," : "", f->labels[l]);
		put_label_value(out, s->values[l]);
		us_buf_append(out, "\"", 1);
	}
	if (le != NULL)
		us_buf_printf(out, "%sle=\"%s\"", f->n_labels > 0 ? "," : "", le);
	us_buf_append(out, "}", 1);
}

static void put_value(us_buf *out, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		us_buf_printf(out, " %.0f\n", v);
	else
		us_buf_printf(out, " %.9g\n", v);
}

static void render_family(us_buf *out, const us_metric_family *f)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	us_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	              type_names[f->type]);
	for (size_t i = 0; i < f->n_series; i++) {
		const series *s = &f->series[i];
		if (f->type != US_METRIC_HISTOGRAM) {
			us_buf_printf(out, "%s", f->name);
			put_labels(out, f, s, NULL);
			put_value(out, s->value);
			continue;
		}
		for (size_t b = 0; b <= N_BUCKETS; b++) {
			char le[24];
			if (b < N_BUCKETS)
				snprintf(le, sizeof(le), "%g", bucket_bounds[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			us_buf_printf(out, "%s_bucket", f->name);
			put_labels(out, f, s, le);
			put_value(out, (double)(b < N_BUCKETS ? s->buckets[b] : s->count));
		}
		us_buf_printf(out, "%s_sum", f->name);
		put_labels(out, f, s, NULL);
		put_value(out, s->value);
		us_buf_printf(out, "%s_count", f->name);
		put_labels(out, f, s, NULL);
		put_value(out, (double)s->count);
	}
}

char *us_metrics_render(void)
{
	us_buf out = US_BUF_INIT;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < n_families; i++)
		render_family(&out, &families[i]);
	pthread_mutex_unlock(&mu);
	if (us_buf_failed(&out)) {
		us_buf_free(&out);
		return NULL;
	}
	return out.data != NULL ? out.data : strdup("");
}
