/* systemd's Type=notify readiness from a real daemon: started with NOTIFY_SOCKET naming a
 * datagram socket (as systemd does), usher-identityd sends READY=1 once it serves RPC,
 * and STOPPING=1 when SIGTERM stops it (packaging/systemd, common/sd_notify.c). */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* The next datagram on fd within timeout_ms, into buf; fails the test without one. */
static void next_message(int fd, char *buf, size_t size, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, timeout_ms), 1);
	ssize_t n = recv(fd, buf, size - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_ready_when_serving_stopping_on_sigterm(void **state)
{
	(void)state;
	char dir[] = "/tmp/ut-notify-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/notify", dir);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);

	ut_system *sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "notify_readiness");
	static char notify[160];
	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", addr.sun_path);
	sys->extra_env[0] = notify;
	/* Returns once the daemon answers RPC. */
	ut_system_start(sys, UT_IDENTITY);
	char msg[128];
	next_message(fd, msg, sizeof(msg), 30000);
	assert_string_equal(msg, "READY=1");
	/* Nothing more while it serves. */
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 200), 0);

	assert_int_equal(ut_system_signal(sys, UT_IDENTITY, SIGTERM, 30000, NULL), 0);
	next_message(fd, msg, sizeof(msg), 1000); /* already queued: the daemon has exited */
	assert_string_equal(msg, "STOPPING=1");

	ut_system_teardown(sys);
	free(sys);
	close(fd);
	unlink(addr.sun_path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_when_serving_stopping_on_sigterm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
