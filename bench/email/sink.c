/* bench-email-sink: an SMTP server that accepts everything and only counts, so it is
 * never the bottleneck of the email benchmark (see README.md). One thread per
 * connection, replies in lock-step as a real server does.
 *
 *   bench-email-sink --port P [--port-file F] --expect N
 *       serve until N messages arrived, then print the times of the first and the last
 *   bench-email-sink --port P --drive N [--connections C] [--size BYTES]
 *       be the client instead: send N messages over C connections as fast as the
 *       server answers (how the sink alone is measured) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 65536

static atomic_long received;
static atomic_llong first_ns, last_ns;
static long expect;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct conn {
	int fd;
	char buf[BUF_SIZE];
	size_t len, pos;
} conn;

/* The next line without its CRLF, or NULL when the peer is gone. */
static char *next_line(conn *c)
{
	for (;;) {
		char *start = c->buf + c->pos;
		char *eol = memchr(start, '\n', c->len - c->pos);
		if (eol != NULL) {
			*eol = '\0';
			if (eol > start && eol[-1] == '\r')
				eol[-1] = '\0';
			c->pos = (size_t)(eol - c->buf) + 1;
			return start;
		}
		memmove(c->buf, start, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
		if (c->len == sizeof(c->buf))
			c->len = 0; /* a line longer than the buffer: its start is dropped */
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

static void say(conn *c, const char *reply)
{
	size_t len = strlen(reply);
	if (write(c->fd, reply, len) != (ssize_t)len)
		c->len = c->pos = 0;
}

static void message_done(void)
{
	long long t = now_ns();
	long long zero = 0;
	atomic_compare_exchange_strong(&first_ns, &zero, t);
	atomic_store(&last_ns, t);
	if (atomic_fetch_add(&received, 1) + 1 == expect) {
		long long first = atomic_load(&first_ns);
		printf("received %ld messages; first at %.6f, last at %.6f: %.0f messages/s\n", expect,
		       first / 1e9, t / 1e9, expect > 1 ? (expect - 1) / ((t - first) / 1e9) : 0);
		fflush(stdout);
		exit(0);
	}
}

static void *serve(void *arg)
{
	conn *c = arg;
	say(c, "220 bench-email-sink ESMTP\r\n");
	bool data = false;
	char *line;
	while ((line = next_line(c)) != NULL) {
		if (data) {
			if (strcmp(line, ".") == 0) {
				data = false;
				say(c, "250 2.0.0 OK\r\n");
				message_done();
			}
		} else if (strncasecmp(line, "EHLO", 4) == 0) {
			say(c, "250-bench-email-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			data = true;
			say(c, "354 go ahead\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			say(c, "221 bye\r\n");
			break;
		} else {
			say(c, "250 OK\r\n"); /* HELO, MAIL, RCPT, RSET, NOOP */
		}
	}
	close(c->fd);
	free(c);
	return NULL;
}

static int listen_on(int port, const char *port_file)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		perror("bench-email-sink: listen");
		exit(1);
	}
	if (port_file != NULL) {
		FILE *f = fopen(port_file, "w");
		fprintf(f, "%d\n", ntohs(a.sin_port));
		fclose(f);
	}
	return fd;
}

static _Noreturn void run_server(int port, const char *port_file)
{
	int lfd = listen_on(port, port_file);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conn *c = calloc(1, sizeof(*c));
		c->fd = fd;
		pthread_t t;
		pthread_create(&t, NULL, serve, c);
		pthread_detach(t);
	}
}

/* --- the driver --- */

typedef struct driver {
	int port;
	long messages;
	const char *body;
} driver;

static bool expect_reply(conn *c, char code)
{
	char *line;
	while ((line = next_line(c)) != NULL) {
		if (strlen(line) >= 4 && line[3] == '-')
			continue; /* a continued multi-line reply */
		return line[0] == code;
	}
	return false;
}

static bool send_line(conn *c, const char *s)
{
	size_t len = strlen(s);
	return write(c->fd, s, len) == (ssize_t)len;
}

static void *drive(void *arg)
{
	const driver *d = arg;
	conn *c = calloc(1, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bool ok = connect(c->fd, (struct sockaddr *)&a, sizeof(a)) == 0 && expect_reply(c, '2') &&
	          send_line(c, "EHLO driver\r\n") && expect_reply(c, '2');
	for (long i = 0; ok && i < d->messages; i++) {
		ok = send_line(c, "MAIL FROM:<bench@usher.test>\r\n") && expect_reply(c, '2') &&
		     send_line(c, "RCPT TO:<someone@example.com>\r\n") && expect_reply(c, '2') &&
		     send_line(c, "DATA\r\n") && expect_reply(c, '3') && send_line(c, d->body) &&
		     send_line(c, ".\r\n") && expect_reply(c, '2');
	}
	if (!ok)
		fprintf(stderr, "bench-email-sink: the driver lost its connection\n");
	close(c->fd);
	free(c);
	return NULL;
}

static int run_driver(int port, long messages, int connections, size_t size)
{
	char *body = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		body[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'x';
	body[size] = '\0';
	if (size >= 2) {
		body[size - 2] = '\r';
		body[size - 1] = '\n';
	}
	pthread_t *threads = calloc((size_t)connections, sizeof(*threads));
	driver d = {port, messages / connections, body};
	long long start = now_ns();
	for (int i = 0; i < connections; i++)
		pthread_create(&threads[i], NULL, drive, &d);
	for (int i = 0; i < connections; i++)
		pthread_join(threads[i], NULL);
	double s = (now_ns() - start) / 1e9;
	long sent = d.messages * connections;
	printf("drove %ld messages of %zu bytes over %d connections in %.3f s: %.0f messages/s\n",
	       sent, size, connections, s, sent / s);
	free(threads);
	free(body);
	return 0;
}

int main(int argc, char **argv)
{
	int port = 0, connections = 4;
	long drive_n = 0;
	size_t size = 3000;
	const char *port_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--expect") == 0)
			expect = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--drive") == 0)
			drive_n = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--connections") == 0)
			connections = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--size") == 0)
			size = (size_t)atol(argv[i + 1]);
	}
	if (drive_n > 0)
		return run_driver(port, drive_n, connections > 0 ? connections : 1, size);
	run_server(port, port_file);
}
