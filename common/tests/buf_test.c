/* The bounded buffer, the HTML escaper and the background ticker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/html.h"
#include "common/ticker.h"

static void test_buf_grows_and_stops_at_its_limit(void **state)
{
	(void)state;
	us_buf b = US_BUF_WITH_LIMIT(10);
	us_buf_puts(&b, "hello");
	us_buf_printf(&b, " %d", 42);
	assert_false(us_buf_failed(&b));
	assert_string_equal(b.data, "hello 42");
	us_buf_puts(&b, "!!!"); /* 11 bytes: over the limit, and nothing of it is kept */
	assert_true(us_buf_failed(&b));
	assert_string_equal(b.data, "hello 42");
	us_buf_putc(&b, 'x'); /* after a failure, nothing more */
	assert_int_equal(b.len, 8);
	us_buf_reset(&b);
	assert_false(us_buf_failed(&b));
	us_buf_printf(&b, "%s", "0123456789"); /* exactly the limit */
	assert_false(us_buf_failed(&b));
	us_buf_free(&b);
	assert_int_equal(b.limit, 10);

	us_buf big = US_BUF_INIT;
	for (int i = 0; i < 10000; i++)
		us_buf_puts(&big, "0123456789");
	assert_false(us_buf_failed(&big));
	assert_int_equal(big.len, 100000);
	us_buf_free(&big);
}

static void test_html_escape(void **state)
{
	(void)state;
	us_buf b = US_BUF_INIT;
	us_html_escape(&b, "<a href=\"x\">Tom & Jerry's</a>");
	assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
	us_buf_reset(&b);
	us_html_escape(&b, "plain");
	assert_string_equal(b.data, "plain");
	us_buf_free(&b);
}

static atomic_int rounds;

static void count_round(void *arg)
{
	(void)arg;
	atomic_fetch_add(&rounds, 1);
}

static void test_ticker_runs_at_once_on_poke_and_stops(void **state)
{
	(void)state;
	us_ticker *t;
	/* An hour's interval: every round seen here is the first or a poked one. */
	assert_int_equal(us_ticker_start("test", 3600u * 1000, count_round, NULL, &t), US_OK);
	for (int i = 0; atomic_load(&rounds) < 1 && i < 60000; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&rounds), 1);
	us_ticker_poke(t);
	for (int i = 0; atomic_load(&rounds) < 2 && i < 60000; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&rounds), 2);
	us_ticker_stop(t); /* returns though the wait had an hour to go */
	assert_int_equal(us_ticker_start("test", 0, count_round, NULL, &t), US_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_grows_and_stops_at_its_limit),
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_ticker_runs_at_once_on_poke_and_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
