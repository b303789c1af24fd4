/* The metrics registry and its text exposition; the admin server's ADMIN_LISTEN parsing.
 * (The whole page is parsed by the Prometheus client in observe_test.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/admin_http.h"
#include "common/metrics.h"

static void test_counters_gauges_and_histograms_render(void **state)
{
	(void)state;
	us_metric_family *c = us_metrics_family(US_METRIC_COUNTER, "t_requests_total", "requests",
	                                        "method,code");
	const char *ok[] = {"Get", "OK"}, *odd[] = {"a\"b\\c\nd", "X"};
	us_metrics_add(c, ok, 1);
	us_metrics_add(c, ok, 2);
	us_metrics_add(c, odd, 1);
	assert_true(us_metrics_value(c, ok) == 3);
	/* The same name again is the same family; another type is refused. */
	assert_ptr_equal(us_metrics_family(US_METRIC_COUNTER, "t_requests_total", "x", "method,code"), c);
	assert_null(us_metrics_family(US_METRIC_GAUGE, "t_requests_total", "x", ""));

	us_metric_family *g = us_metrics_family(US_METRIC_GAUGE, "t_depth", "depth", "");
	us_metrics_set(g, NULL, 7);
	us_metrics_set(g, NULL, 2.5);
	us_metric_family *h = us_metrics_family(US_METRIC_HISTOGRAM, "t_seconds", "latency", "route");
	const char *route[] = {"/x"};
	us_metrics_observe(h, route, 0.003);
	us_metrics_observe(h, route, 0.2);
	us_metrics_observe(h, route, 60);

	char *text = us_metrics_render();
	assert_non_null(text);
	assert_non_null(strstr(text, "# HELP t_requests_total requests\n# TYPE t_requests_total counter\n"));
	assert_non_null(strstr(text, "t_requests_total{method=\"Get\",code=\"OK\"} 3\n"));
	assert_non_null(strstr(text, "t_requests_total{method=\"a\\\"b\\\\c\\nd\",code=\"X\"} 1\n"));
	assert_non_null(strstr(text, "# TYPE t_depth gauge\nt_depth 2.5\n"));
	/* Buckets are cumulative, +Inf is the count. */
	assert_non_null(strstr(text, "t_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{route=\"/x\",le=\"0.25\"} 2\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{route=\"/x\",le=\"10\"} 2\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "t_seconds_sum{route=\"/x\"} 60.203\n"));
	assert_non_null(strstr(text, "t_seconds_count{route=\"/x\"} 3\n"));
	free(text);
}

static void test_admin_listen_is_checked(void **state)
{
	(void)state;
	assert_null(us_admin_check_listen("127.0.0.1:9101"));
	assert_null(us_admin_check_listen("0.0.0.0:0"));
	assert_null(us_admin_check_listen("[::1]:9101"));
	assert_null(us_admin_check_listen("[::]:9101"));
	assert_non_null(us_admin_check_listen("localhost:9101"));
	assert_non_null(us_admin_check_listen("::1:9101"));
	assert_non_null(us_admin_check_listen("127.0.0.1"));
	assert_non_null(us_admin_check_listen("127.0.0.1:65536"));
	assert_non_null(us_admin_check_listen("127.0.0.1:"));
	assert_non_null(us_admin_check_listen("[127.0.0.1]:80"));
	assert_non_null(us_admin_check_listen(":80"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_gauges_and_histograms_render),
		cmocka_unit_test(test_admin_listen_is_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
