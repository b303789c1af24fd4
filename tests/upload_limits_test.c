/* Request bodies against usher-gatewayd over raw sockets, so the test sees exactly when
 * the gateway answers: an upload is authenticated and its CSRF token checked before a
 * byte of its body is read; oversized bodies get 413, chunked ones included; and the
 * bodies all connections hold together stay within HTTP_MAX_BODY_MEMORY (503 beyond). */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "calls.h"
#include "common/clock.h"
#include "harness.h"
#include "http.h"

#define PASSWORD "correct horse battery"
#define MIB (1024 * 1024)
#define UPLOAD_MAX (32 * MIB)       /* HTTP_MAX_UPLOAD_BYTES, the default */
#define BODY_MEMORY (32 * MIB)      /* HTTP_MAX_BODY_MEMORY, as set below */
#define ANSWER_WAIT_MS 60000        /* generous: the test waits on the answer, not a clock */
#define N_UNAUTHENTICATED 8

static ut_system sys;
static us_arena *A;
static int port;
static char import_path[200];
static char cookie[256]; /* "usher_session=..." */
static char csrf[128];

/* --- a raw HTTP/1.1 client --- */

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			fail_msg("send: %s", strerror(errno));
		data += n;
		len -= (size_t)n;
	}
}

/* Sends the request line and headers of an upload: auth is "none", "cookie" (no CSRF
 * token) or "both"; length < 0 means chunked. */
static int start_upload(const char *path, const char *auth, long long length, bool expect_100)
{
	char head[1024];
	int n = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                                     "Content-Type: text/csv\r\n", path);
	if (length >= 0)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %lld\r\n", length);
	else
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Transfer-Encoding: chunked\r\n");
	if (strcmp(auth, "none") != 0)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Cookie: %s\r\n", cookie);
	if (strcmp(auth, "both") == 0)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "X-CSRF-Token: %s\r\n", csrf);
	/* A form from another site: its token could only be a field, which is not read. */
	if (strcmp(auth, "foreign") == 0)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Origin: https://evil.example\r\n");
	if (expect_100)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Expect: 100-continue\r\n");
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	int fd = dial();
	send_all(fd, head, (size_t)n);
	return fd;
}

/* The status of the next response on fd (its head read whole, into head if given), or
 * 0 when the connection closed first; fails after ANSWER_WAIT_MS. */
static int read_status(int fd, char *head, size_t size)
{
	char buf[4096] = "";
	size_t len = 0;
	int64_t deadline = us_monotonic_ms() + ANSWER_WAIT_MS;
	while (strstr(buf, "\r\n\r\n") == NULL) {
		int64_t left = deadline - us_monotonic_ms();
		if (left <= 0)
			fail_msg("no answer within %d ms", ANSWER_WAIT_MS);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (len == sizeof(buf) - 1)
			break;
	}
	if (head != NULL)
		snprintf(head, size, "%s", buf);
	int status = 0;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	return status;
}

/* Writes up to len bytes of body until the peer stops taking them; returns how many the
 * kernel accepted. */
static size_t push_body(int fd, size_t len)
{
	char chunk[16 * 1024]; /* per thread */
	memset(chunk, 'x', sizeof(chunk));
	size_t sent = 0;
	while (sent < len) {
		size_t n = len - sent < sizeof(chunk) ? len - sent : sizeof(chunk);
		ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	return sent;
}

/* kB of the gateway's peak (VmHWM) or current (VmRSS) resident memory. */
static long gateway_memory_kb(const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)sys.daemons[UT_GATEWAY].pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	long kb = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
			kb = atol(line + strlen(field) + 1);
	}
	fclose(f);
	assert_true(kb > 0);
	return kb;
}

/* --- the tests --- */

typedef struct stranger {
	const char *auth;
	int status;
	size_t sent_before_answer;
	size_t pushed_after;
} stranger;

static void *upload_as_stranger(void *arg)
{
	stranger *s = arg;
	int fd = start_upload(import_path, s->auth, 30LL * MIB, false);
	/* Nothing of the body is sent before the answer comes. */
	s->status = read_status(fd, NULL, 0);
	/* Then the client insists: the gateway has stopped reading. */
	s->pushed_after = push_body(fd, 30 * MIB);
	close(fd);
	return NULL;
}

static void test_uploads_are_authenticated_before_their_body_is_read(void **state)
{
	(void)state;
	long hwm_before = gateway_memory_kb("VmHWM");
	stranger strangers[N_UNAUTHENTICATED];
	pthread_t threads[N_UNAUTHENTICATED];
	for (int i = 0; i < N_UNAUTHENTICATED; i++) {
		/* No session at all, or a session cookie without its CSRF token (a cross-site
		 * form would send one, with its own Origin). */
		strangers[i] = (stranger){.auth = i % 3 == 0 ? "none" : i % 3 == 1 ? "cookie" : "foreign"};
		pthread_create(&threads[i], NULL, upload_as_stranger, &strangers[i]);
	}
	for (int i = 0; i < N_UNAUTHENTICATED; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < N_UNAUTHENTICATED; i++) {
		assert_int_equal(strangers[i].status, i % 3 == 0 ? 401 : 403);
		/* The connection was closed on them: far from all 30 MiB went anywhere. */
		assert_true(strangers[i].pushed_after < 30 * MIB);
	}
	long hwm_after = gateway_memory_kb("VmHWM");
	print_message("gateway VmHWM %ld kB before, %ld kB after %d unauthenticated 30 MiB uploads "
	              "(VmRSS now %ld kB)\n",
	              hwm_before, hwm_after, N_UNAUTHENTICATED, gateway_memory_kb("VmRSS"));
	assert_true(hwm_after - hwm_before < 16 * 1024);
}

/* Sends a chunked body of len bytes of CSV, then its last chunk. */
static void send_chunked_csv(int fd, size_t len)
{
	static char data[MIB];
	memset(data, 'x', sizeof(data));
	memcpy(data, "email\n", 6);
	char size_line[32];
	for (size_t sent = 0; sent < len;) {
		size_t n = len - sent < sizeof(data) ? len - sent : sizeof(data);
		int k = snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
		send_all(fd, size_line, (size_t)k);
		send_all(fd, data, n);
		send_all(fd, "\r\n", 2);
		sent += n;
	}
	send_all(fd, "0\r\n\r\n", 5);
}

static void test_oversized_bodies_get_413(void **state)
{
	(void)state;
	/* Declared too large: refused before the body. */
	int fd = start_upload(import_path, "both", UPLOAD_MAX + 1LL, false);
	assert_int_equal(read_status(fd, NULL, 0), 413);
	close(fd);

	/* Chunked, so only reading tells: 413 all the same, not a dropped connection. */
	fd = start_upload(import_path, "both", -1, false);
	send_chunked_csv(fd, UPLOAD_MAX + 1);
	char head[4096];
	assert_int_equal(read_status(fd, head, sizeof(head)), 413);
	assert_non_null(strcasestr(head, "Connection: close"));
	close(fd);

	/* A JSON body the same way (HTTP_MAX_BODY_BYTES, 4 MiB by default). */
	fd = dial();
	static const char login_head[] = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                                 "Content-Type: application/json\r\n"
	                                 "Transfer-Encoding: chunked\r\n\r\n";
	send_all(fd, login_head, sizeof(login_head) - 1);
	send_chunked_csv(fd, 4 * MIB + 1);
	assert_int_equal(read_status(fd, NULL, 0), 413);
	close(fd);

	/* Just under the limit, the upload is read and judged on its content. */
	fd = start_upload(import_path, "both", -1, false);
	send_chunked_csv(fd, 2 * MIB);
	assert_int_equal(read_status(fd, NULL, 0), 400);
	close(fd);
}

static void test_bodies_in_flight_share_one_budget(void **state)
{
	(void)state;
	/* One upload declares 20 of the 32 MiB budget and holds it while it waits for the
	 * go-ahead (100 Continue: its headers have been judged). */
	int holder = start_upload(import_path, "both", 20LL * MIB, true);
	assert_int_equal(read_status(holder, NULL, 0), 100);

	/* Another 20 MiB does not fit: 503 with Retry-After, before its body. */
	int refused = start_upload(import_path, "both", 20LL * MIB, true);
	char head[4096];
	assert_int_equal(read_status(refused, head, sizeof(head)), 503);
	assert_non_null(strcasestr(head, "Retry-After: "));
	close(refused);

	/* Once the first goes away its share comes back. */
	close(holder);
	int64_t deadline = us_monotonic_ms() + ANSWER_WAIT_MS;
	int status = 0;
	while (status != 100 && us_monotonic_ms() < deadline) {
		int fd = start_upload(import_path, "both", 20LL * MIB, true);
		status = read_status(fd, NULL, 0);
		close(fd);
		if (status != 100)
			usleep(50 * 1000);
	}
	assert_int_equal(status, 100);
}

/* A budget smaller than one body could never let it in: the gateway refuses to start. */
static void test_a_budget_below_the_limits_is_refused(void **state)
{
	(void)state;
	char binary[512];
	ut_bin("usher-gatewayd", binary, sizeof(binary));
	char *argv[] = {binary, NULL};
	char *envp[] = {
		"GATEWAY_CSRF_KEY=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
		"IDENTITY_RPC_URL=tcp://127.0.0.1:1", "TENANCY_RPC_URL=tcp://127.0.0.1:1",
		"INVITATION_RPC_URL=tcp://127.0.0.1:1", "NOTIFICATION_RPC_URL=tcp://127.0.0.1:1",
		"RPC_LISTEN=tcp://127.0.0.1:0",
		"RPC_SIGNING_KEY=1111111111111111111111111111111111111111111111111111111111111111",
		"RPC_CALLERS_FILE=/dev/null", "HTTP_MAX_BODY_MEMORY=16777216", NULL,
	};
	char *out = NULL;
	int status = ut_run(argv, envp, true, &out);
	assert_int_not_equal(status, 0);
	assert_non_null(strstr(out, "HTTP_MAX_BODY_MEMORY: must be at least HTTP_MAX_UPLOAD_BYTES"));
	free(out);
}

static int setup(void **state)
{
	(void)state;
	A = us_arena_new();
	ut_system_init(&sys, "uploads");
	static char budget[64];
	snprintf(budget, sizeof(budget), "HTTP_MAX_BODY_MEMORY=%d", BODY_MEMORY);
	sys.extra_env[0] = budget;
	ut_system_start_all(&sys);
	char *owner = ut_create_user(&sys, A, "owner@acme.example", "Olivia Owner", PASSWORD);
	char *account = ut_create_account(&sys, A, owner, "Acme Team", "texting");
	snprintf(import_path, sizeof(import_path), "/accounts/%s/invitations/import?dry_run=true",
	         account);
	port = ut_gateway_port(&sys);

	ut_browser *b = ut_browser_new(&sys);
	ut_reply r;
	static const char login[] = "{\"email\":\"owner@acme.example\",\"password\":\"" PASSWORD "\"}";
	ut_http(b, "POST", "/login", login, sizeof(login) - 1, NULL, &r);
	if (r.status != 200)
		fail_msg("login: HTTP %ld", r.status);
	snprintf(csrf, sizeof(csrf), "%s", json_string_value(json_object_get(r.json, "csrfToken")));
	const char *set = strcasestr(r.headers, "Set-Cookie: usher_session=");
	assert_non_null(set);
	set += strlen("Set-Cookie: ");
	snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(set, ";\r\n"), set);
	ut_reply_free(&r);
	ut_browser_free(b);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_system_teardown(&sys);
	us_arena_free(A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uploads_are_authenticated_before_their_body_is_read),
		cmocka_unit_test(test_oversized_bodies_get_413),
		cmocka_unit_test(test_bodies_in_flight_share_one_budget),
		cmocka_unit_test(test_a_budget_below_the_limits_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
