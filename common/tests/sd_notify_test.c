/* The readiness message reaches a socket bound where NOTIFY_SOCKET says, a filesystem
 * path or an abstract name, as systemd binds it; unset, nothing is sent; a malformed
 * name is an error, not a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sd_notify.h"

/* A datagram socket bound to name (the NOTIFY_SOCKET spelling). */
static int bind_notify_socket(const char *name)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	memcpy(addr.sun_path, name, len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	                                 (name[0] == '@' ? 0 : 1));
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, addr_len), 0);
	return fd;
}

static void expect_message(int fd, const char *want)
{
	char got[64];
	ssize_t n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, want);
}

static void test_path_socket(void **state)
{
	(void)state;
	char dir[] = "/tmp/ut-notify-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char name[64];
	snprintf(name, sizeof(name), "%s/notify", dir);
	int fd = bind_notify_socket(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(us_sd_notify("READY=1"), 1);
	expect_message(fd, "READY=1");
	assert_int_equal(us_sd_notify("STOPPING=1"), 1);
	expect_message(fd, "STOPPING=1");
	close(fd);
	unlink(name);
	rmdir(dir);
	/* Gone (systemd restarted, say): an error to log, nothing worse. */
	assert_int_equal(us_sd_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@ut-notify-%ld", (long)getpid());
	int fd = bind_notify_socket(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(us_sd_notify("READY=1"), 1);
	expect_message(fd, "READY=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_unset_or_malformed(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(us_sd_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(us_sd_notify("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(us_sd_notify("READY=1"), -1);
	char too_long[200];
	memset(too_long, 'x', sizeof(too_long) - 1);
	too_long[0] = '/';
	too_long[sizeof(too_long) - 1] = '\0';
	setenv("NOTIFY_SOCKET", too_long, 1);
	assert_int_equal(us_sd_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_unset_or_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
