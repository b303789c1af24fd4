/* The relays' in-process wake (common/wake.h): a commit announced after the mark ends a
 * wait, before or during it; nothing ends it only at its timeout; a stop ends waits and
 * pauses for good; commits do not cut a pause short. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/wake.h"

#define LONG_MS 600000 /* a wait that would outlast the test's timeout */

typedef struct waiter {
	us_wake *wake;
	unsigned long mark;
	atomic_int done; /* 1 + the us_wake_reason once returned */
	bool paused;     /* us_wake_pause's result, in pause mode */
	bool pause_mode;
} waiter;

static void *wait_main(void *arg)
{
	waiter *w = arg;
	int reason;
	if (w->pause_mode) {
		w->paused = us_wake_pause(w->wake, LONG_MS);
		reason = US_WAKE_STOP;
	} else {
		reason = (int)us_wake_wait(w->wake, w->mark, LONG_MS);
	}
	atomic_store(&w->done, 1 + reason);
	return NULL;
}

static void short_sleep(void)
{
	struct timespec pause = {0, 1000000L};
	nanosleep(&pause, NULL);
}

static void test_a_commit_after_the_mark_ends_the_wait(void **state)
{
	(void)state;
	us_wake *w = us_wake_new(US_WAKE_EVENTS);
	assert_non_null(w);
	unsigned long mark = us_wake_mark(w);
	us_wake_committed();
	assert_int_equal(us_wake_wait(w, mark, LONG_MS), US_WAKE_COMMIT);
	us_wake_free(w);
}

static void test_a_commit_wakes_a_waiting_thread(void **state)
{
	(void)state;
	waiter w = {.wake = us_wake_new(US_WAKE_EVENTS)};
	assert_non_null(w.wake);
	w.mark = us_wake_mark(w.wake);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, wait_main, &w), 0);
	/* One commit, most likely once the thread sleeps in its wait (if not, it finds the
	 * commit after its mark when it gets there: the same outcome). */
	struct timespec settle = {0, 100 * 1000000L};
	nanosleep(&settle, NULL);
	us_wake_committed();
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&w.done), 1 + US_WAKE_COMMIT);
	us_wake_free(w.wake);
}

static void test_without_a_commit_a_wait_times_out(void **state)
{
	(void)state;
	us_wake *w = us_wake_new(US_WAKE_EVENTS);
	assert_non_null(w);
	int64_t started = us_monotonic_ms();
	assert_int_equal(us_wake_wait(w, us_wake_mark(w), 30), US_WAKE_TIMEOUT);
	assert_true(us_monotonic_ms() - started >= 30);
	us_wake_free(w);
}

/* An outbox take's commit (events only) wakes the event relay, not the outbox relays. */
static void test_a_commit_of_another_topic_does_not_end_the_wait(void **state)
{
	(void)state;
	us_wake *outbox = us_wake_new(US_WAKE_OUTBOX), *events = us_wake_new(US_WAKE_EVENTS);
	assert_non_null(outbox);
	assert_non_null(events);
	unsigned long outbox_mark = us_wake_mark(outbox), events_mark = us_wake_mark(events);
	us_wake_committed_topic(US_WAKE_EVENTS);
	assert_int_equal(us_wake_wait(outbox, outbox_mark, 30), US_WAKE_TIMEOUT);
	assert_int_equal(us_wake_wait(events, events_mark, LONG_MS), US_WAKE_COMMIT);
	us_wake_free(outbox);
	us_wake_free(events);
}

static void test_a_stop_ends_waits_and_pauses(void **state)
{
	(void)state;
	waiter w = {.wake = us_wake_new(US_WAKE_EVENTS)};
	assert_non_null(w.wake);
	w.mark = us_wake_mark(w.wake);
	waiter p = {.wake = w.wake, .pause_mode = true, .paused = true};
	pthread_t tw, tp;
	assert_int_equal(pthread_create(&tw, NULL, wait_main, &w), 0);
	assert_int_equal(pthread_create(&tp, NULL, wait_main, &p), 0);
	assert_false(us_wake_stopping(w.wake));
	us_wake_stop(w.wake);
	pthread_join(tw, NULL);
	pthread_join(tp, NULL);
	assert_int_equal(atomic_load(&w.done), 1 + US_WAKE_STOP);
	assert_false(p.paused);
	assert_true(us_wake_stopping(w.wake));
	/* For good: the next wait returns at once, even with a commit pending. */
	unsigned long mark = us_wake_mark(w.wake);
	us_wake_committed();
	assert_int_equal(us_wake_wait(w.wake, mark, LONG_MS), US_WAKE_STOP);
	assert_false(us_wake_pause(w.wake, LONG_MS));
	us_wake_free(w.wake);
}

/* A relay paused after a wake gathers the rows of the commits that follow: they must not
 * end its pause (nor cost it a wakeup each). */
static void test_commits_do_not_cut_a_pause_short(void **state)
{
	(void)state;
	us_wake *w = us_wake_new(US_WAKE_EVENTS);
	assert_non_null(w);
	waiter p = {.wake = w, .pause_mode = true};
	pthread_t tp;
	assert_int_equal(pthread_create(&tp, NULL, wait_main, &p), 0);
	for (int i = 0; i < 50; i++) {
		us_wake_committed();
		short_sleep();
	}
	assert_int_equal(atomic_load(&p.done), 0); /* still pausing (for LONG_MS) */
	us_wake_stop(w);
	pthread_join(tp, NULL);
	assert_false(p.paused);
	us_wake_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_commit_after_the_mark_ends_the_wait),
		cmocka_unit_test(test_a_commit_wakes_a_waiting_thread),
		cmocka_unit_test(test_without_a_commit_a_wait_times_out),
		cmocka_unit_test(test_a_commit_of_another_topic_does_not_end_the_wait),
		cmocka_unit_test(test_a_stop_ends_waits_and_pauses),
		cmocka_unit_test(test_commits_do_not_cut_a_pause_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
