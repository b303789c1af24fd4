/* Closing a socket while a reply is still arriving on it: with nng 1.5.2 that can hang
 * nng_close() for good (socket_close.h). us_socket_close_within() must hand control back
 * every time, whether nng finished closing or not. Its own process: once nng wedges, its
 * reaper thread stays stuck for every socket closed afterwards. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "common/socket_close.h"

/* Replies this big arrive in many reads, so a close lands mid-message most times. */
#define REPLY_BYTES (4u << 20)
#define ROUNDS 10

static void *serve_big_replies(void *arg)
{
	nng_socket rep = *(nng_socket *)arg;
	for (;;) {
		nng_msg *msg;
		if (nng_recvmsg(rep, &msg, 0) != 0)
			return NULL;
		if (nng_msg_realloc(msg, REPLY_BYTES) != 0 || nng_sendmsg(rep, msg, 0) != 0)
			nng_msg_free(msg);
	}
}

static void test_close_returns_while_a_reply_arrives(void **state)
{
	(void)state;
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ut_free_port());
	nng_socket rep;
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(nng_socket_set_size(rep, NNG_OPT_RECVMAXSZ, 0), 0);
	assert_int_equal(nng_listen(rep, url, NULL, 0), 0);
	pthread_t server;
	assert_int_equal(pthread_create(&server, NULL, serve_big_replies, &rep), 0);

	int left_closing = 0;
	for (int round = 0; round < ROUNDS; round++) {
		nng_socket req;
		assert_int_equal(nng_req0_open(&req), 0);
		assert_int_equal(nng_socket_set_size(req, NNG_OPT_RECVMAXSZ, 0), 0);
		assert_int_equal(nng_dial(req, url, NULL, 0), 0);
		nng_msg *msg;
		assert_int_equal(nng_msg_alloc(&msg, 8), 0);
		assert_int_equal(nng_sendmsg(req, msg, 0), 0);
		/* The client gives up on its reply at some point while it streams in. */
		usleep((useconds_t)(rand() % 3000));
		if (!us_socket_close_within(req, 500))
			left_closing++;
	}
	print_message("%d of %d closes were left to nng (it hung mid-reply)\n", left_closing,
	              ROUNDS);
	/* The listener's socket too returns, though nng's reaper may be stuck by now. */
	us_socket_close_within(rep, 500);
	pthread_detach(server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_returns_while_a_reply_arrives),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
