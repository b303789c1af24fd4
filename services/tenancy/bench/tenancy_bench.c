/* Measures usher-tenancyd against a real Postgres: GrantMembership, Check (one caller
 * and several), MembersAmong of 50,000 ids, and walking ListMembers. Prints numbers;
 * asserts nothing about them. Run: see README.md beside this file. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tenancy_client.h"

#define MEMBERS 10000
#define CHECKS 5000
#define THREADS 4
#define AMONG 50000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(const char *what, double *ms, size_t n)
{
	qsort(ms, n, sizeof(double), by_value);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += ms[i];
	printf("%-34s n=%-6zu mean %.3f ms  p50 %.3f  p99 %.3f  max %.3f  (%.0f/s one caller)\n",
	       what, n, sum / (double)n, ms[n / 2], ms[n * 99 / 100], ms[n - 1],
	       1e3 * (double)n / sum);
}

typedef struct world {
	ut_system *sys;
	char *owner, *account, *sub;
	char **users;
} world;

typedef struct worker {
	world *w;
	double took_ms;
} worker;

static void *check_loop(void *arg)
{
	worker *k = arg;
	tc *c = tc_open(k->w->sys);
	double start = now_ms();
	for (int i = 0; i < CHECKS / THREADS; i++)
		tc_check(c, k->w->users[i % MEMBERS], k->w->account, k->w->sub, "messages.send");
	k->took_ms = now_ms() - start;
	tc_close(c);
	return NULL;
}

static void bench(void **state)
{
	(void)state;
	world w = {.sys = tc_system_start("tenancy_bench", NULL)};
	tc *c = tc_open(w.sys);
	w.owner = tc_uuid(c);
	w.account = tc_account(c, w.owner)->account->id;
	w.sub = tc_subaccount(c, w.owner, w.account, "North")->id;
	w.users = US_ARENA_ARRAY(c->arena, char *, AMONG);
	for (size_t i = 0; i < AMONG; i++)
		w.users[i] = tc_uuid(c);

	double *ms = calloc(CHECKS > MEMBERS ? CHECKS : MEMBERS, sizeof(double));
	assert_non_null(ms);
	for (size_t i = 0; i < MEMBERS; i++) {
		double t = now_ms();
		tc_grant(c, w.account, w.users[i], USHER__V1__ROLE__ROLE_MEMBER, tc_subs(c, 1, w.sub));
		ms[i] = now_ms() - t;
	}
	report("GrantMembership (idempotent)", ms, MEMBERS);

	for (size_t i = 0; i < CHECKS; i++) {
		double t = now_ms();
		tc_check(c, w.users[i % MEMBERS], w.account, w.sub, "messages.send");
		ms[i] = now_ms() - t;
	}
	report("Check", ms, CHECKS);

	worker workers[THREADS];
	pthread_t threads[THREADS];
	double start = now_ms();
	for (int i = 0; i < THREADS; i++) {
		workers[i] = (worker){&w, 0};
		assert_int_equal(pthread_create(&threads[i], NULL, check_loop, &workers[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	printf("%-34s %d callers x %d: %.0f checks/s\n", "Check, concurrent", THREADS,
	       CHECKS / THREADS, 1e3 * CHECKS / (now_ms() - start));

	Usher__V1__MembersAmongRequest among = USHER__V1__MEMBERS_AMONG_REQUEST__INIT;
	among.account_id = w.account;
	among.user_ids = w.users + MEMBERS / 2; /* half members, the rest strangers */
	among.n_user_ids = AMONG - MEMBERS / 2;
	for (size_t i = 0; i < 5; i++) {
		Usher__V1__MembersAmongReply *out;
		double t = now_ms();
		tc_expect(c, tc_call(c, "MembersAmong", NULL, NULL, &among.base,
		                     &usher__v1__members_among_reply__descriptor, &out),
		          US_OK, "MembersAmong");
		ms[i] = now_ms() - t;
		assert_int_equal(out->n_user_ids, MEMBERS / 2);
	}
	report("MembersAmong of 45,000 ids", ms, 5);

	Usher__V1__ListMembersRequest list = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	list.account_id = w.account;
	list.page_size = 500;
	size_t pages = 0;
	do {
		Usher__V1__ListMembersReply *out;
		double t = now_ms();
		tc_expect(c, tc_call(c, "ListMembers", NULL, NULL, &list.base,
		                     &usher__v1__list_members_reply__descriptor, &out),
		          US_OK, "ListMembers");
		ms[pages++] = now_ms() - t;
		list.page_token = out->next_page_token;
	} while (list.page_token[0] != '\0');
	report("ListMembers page of 500", ms, pages);

	free(ms);
	tc_close(c);
	tc_system_stop(w.sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
