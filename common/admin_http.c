#include "common/admin_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"
#include "common/metrics.h"
#include "usher/v1/health.pb-c.h"

/* The daemon's own gauges are refreshed every this many periods. */
#define COLLECT_EVERY 4
#define REASONS_MAX 1024

struct us_admin_http {
	us_admin_opts opts;
	struct MHD_Daemon *http;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	bool poked; /* judge again now, not at the end of the period */
	atomic_bool draining;
	char reasons[REASONS_MAX]; /* why not ready, under mu; "" when ready */
	PGconn *db;                /* the readiness thread's */
};

static atomic_bool process_ready;

bool us_admin_ready(void)
{
	return atomic_load(&process_ready);
}

/* Splits HOST:PORT or [V6]:PORT into an address; NULL when fine, else the reason. */
static const char *parse_listen(const char *value, struct sockaddr_storage *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(value, ':');
	if (colon == NULL)
		return "must be HOST:PORT or [IPv6]:PORT";
	size_t host_len = (size_t)(colon - value);
	bool bracketed = host_len >= 2 && value[0] == '[' && value[host_len - 1] == ']';
	if (bracketed) {
		value++;
		host_len -= 2;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return "must be HOST:PORT or [IPv6]:PORT, with a numeric address";
	memcpy(host, value, host_len);
	host[host_len] = '\0';
	const char *port_text = colon + 1;
	char *end;
	long port = strtol(port_text, &end, 10);
	if (port_text[0] == '\0' || *end != '\0' || port < 0 || port > 65535)
		return "the port must be a number from 0 to 65535";
	memset(out, 0, sizeof(*out));
	if (!bracketed) {
		struct sockaddr_in *in = (struct sockaddr_in *)out;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return "the host must be an IPv4 address, or an IPv6 one in brackets";
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return "the address in brackets must be an IPv6 address";
	}
	return NULL;
}

const char *us_admin_check_listen(const char *value)
{
	struct sockaddr_storage addr;
	return parse_listen(value, &addr);
}

/* --- readiness --- */

static void add_reason(char *reasons, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_reason(char *reasons, const char *fmt, ...)
{
	size_t len = strlen(reasons);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reasons + len, REASONS_MAX - len, fmt, ap);
	va_end(ap);
}

/* Postgres answers and every migration of the binary is applied. */
static void check_database(us_admin_http *a, char *reasons)
{
	char err[256];
	/* A broken connection is opened afresh (quietly: the reason says it, and a warning
	 * twice a second while Postgres is down would drown the log). */
	if (a->db != NULL && PQstatus(a->db) != CONNECTION_OK) {
		PQfinish(a->db);
		a->db = NULL;
	}
	if (a->db == NULL &&
	    us_db_connect(a->opts.database_url, a->opts.schema, &a->db, err, sizeof(err)) != US_OK) {
		a->db = NULL;
		add_reason(reasons, "database: %s\n", err);
		return;
	}
	if (us_db_exec(a->db, "SELECT 1", 0, NULL, NULL) != US_OK) {
		add_reason(reasons, "database: does not answer\n");
		return;
	}
	us_arena *arena = us_arena_new();
	us_migration_state *states = NULL;
	size_t n = 0;
	if (arena == NULL || us_migrate_status(a->db, a->opts.migrations, arena, &states, &n) != US_OK) {
		add_reason(reasons, "database: could not read the applied migrations\n");
	} else {
		for (size_t i = 0; i < n; i++) {
			if (states[i].known && !states[i].applied) {
				add_reason(reasons, "database: migration %s is not applied\n", states[i].name);
				break;
			}
		}
	}
	us_arena_free(arena);
}

static void check_peer(const us_admin_peer *peer, char *reasons)
{
	us_rpc_client *client = *peer->client;
	if (client == NULL) {
		add_reason(reasons, "%s: %s\n", peer->name, "no client");
		return;
	}
	us_arena *arena = us_arena_new();
	if (arena == NULL) {
		add_reason(reasons, "%s: %s\n", peer->name, "out of memory");
		return;
	}
	Usher__V1__HealthCheckRequest req = USHER__V1__HEALTH_CHECK_REQUEST__INIT;
	us_rpc_call_opts opts = {.timeout_ms = US_ADMIN_PEER_TIMEOUT_MS};
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_status_init(&st);
	us_err rc = us_rpc_call(client, "usher.v1.Health/Check", &opts, &req.base,
	                        &usher__v1__health_check_response__descriptor, arena, &reply, &st);
	if (rc != US_OK)
		add_reason(reasons, "%s: %s\n", peer->name, us_err_name(rc));
	else if (((Usher__V1__HealthCheckResponse *)reply)->status !=
	         USHER__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
		add_reason(reasons, "%s: %s\n", peer->name, "not serving");
	us_status_clear(&st);
	us_arena_free(arena);
}

static void judge(us_admin_http *a, unsigned round)
{
	char reasons[REASONS_MAX] = "";
	if (a->opts.database_url != NULL)
		check_database(a, reasons);
	for (size_t i = 0; i < a->opts.n_peers; i++)
		check_peer(&a->opts.peers[i], reasons);
	if (atomic_load(&a->draining))
		add_reason(reasons, "draining\n");
	if (a->opts.collect != NULL && round % COLLECT_EVERY == 0 &&
	    (a->db != NULL || a->opts.database_url == NULL) && strncmp(reasons, "database", 8) != 0)
		a->opts.collect(a->opts.collect_ctx, a->db);

	bool ready = reasons[0] == '\0';
	bool was = atomic_exchange(&process_ready, ready);
	const char *labels[] = {a->opts.service};
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_ready",
	                                 "1 when /readyz answers 200", "service"),
	               labels, ready ? 1 : 0);
	pthread_mutex_lock(&a->mu);
	bool changed = was != ready || strcmp(a->reasons, reasons) != 0;
	snprintf(a->reasons, sizeof(a->reasons), "%s", reasons);
	pthread_mutex_unlock(&a->mu);
	if (changed && ready) {
		us_info("ready");
	} else if (changed) {
		/* One line: the reasons, separated by ';'. */
		for (char *p = reasons; (p = strchr(p, '\n')) != NULL; p++)
			*p = p[1] != '\0' ? ';' : '\0';
		us_log_fields(US_LOG_WARN, "not ready", "reasons", reasons, NULL);
	}
}

static void *readiness_main(void *arg)
{
	us_admin_http *a = arg;
	for (unsigned round = 0;; round++) {
		judge(a, round);
		pthread_mutex_lock(&a->mu);
		struct timespec until = us_monotonic_after(US_ADMIN_CHECK_PERIOD_MS);
		while (!a->stopping && !a->poked &&
		       pthread_cond_timedwait(&a->cv, &a->mu, &until) == 0)
			;
		a->poked = false;
		bool stop = a->stopping;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			return NULL;
	}
}

void us_admin_http_set_draining(us_admin_http *a)
{
	if (a == NULL)
		return;
	atomic_store(&a->draining, true);
	atomic_store(&process_ready, false);
	pthread_mutex_lock(&a->mu);
	a->poked = true; /* judge again now: the reasons and usher_ready say it */
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* --- HTTP --- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               char *body, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Values read when scraped: the database totals and the build. */
static void refresh_scrape_metrics(const us_admin_http *a)
{
	const char *service[] = {a->opts.service};
	unsigned long trips, errors;
	us_db_totals(&trips, &errors);
	if (a->opts.database_url != NULL) {
		us_metrics_set(us_metrics_family(US_METRIC_COUNTER, "usher_db_round_trips_total",
		                                 "statements sent to Postgres", "service"),
		               service, (double)trips);
		us_metrics_set(us_metrics_family(US_METRIC_COUNTER, "usher_db_errors_total",
		                                 "statements that failed unexpectedly (connection "
		                                 "lost, internal error)",
		                                 "service"),
		               service, (double)errors);
	}
	const char *build[] = {a->opts.service, a->opts.version};
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_build_info",
	                                 "1, labelled with the running version", "service,version"),
	               build, 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	us_admin_http *a = cls;
	static const char text[] = "text/plain; charset=utf-8";
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond(conn, 405, text, "method not allowed\n", MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/livez") == 0)
		return respond(conn, 200, text, "ok\n", MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/readyz") == 0) {
		char body[REASONS_MAX + 16];
		pthread_mutex_lock(&a->mu);
		bool ready = atomic_load(&process_ready) && !atomic_load(&a->draining);
		snprintf(body, sizeof(body), "%s", ready ? "ready\n" : a->reasons);
		pthread_mutex_unlock(&a->mu);
		if (!ready && body[0] == '\0')
			snprintf(body, sizeof(body), "%s", atomic_load(&a->draining) ? "draining\n"
			                                                            : "not checked yet\n");
		return respond(conn, ready ? 200 : 503, text, body, MHD_RESPMEM_MUST_COPY);
	}
	if (strcmp(url, "/metrics") == 0) {
		refresh_scrape_metrics(a);
		char *body = us_metrics_render();
		if (body == NULL)
			return respond(conn, 500, text, "out of memory\n", MHD_RESPMEM_PERSISTENT);
		return respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body,
		               MHD_RESPMEM_MUST_FREE);
	}
	return respond(conn, 404, text, "not found: /livez, /readyz and /metrics are served\n",
	               MHD_RESPMEM_PERSISTENT);
}

static void admin_free(us_admin_http *a)
{
	if (a->db != NULL)
		PQfinish(a->db);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}

us_err us_admin_http_start(const us_admin_opts *opts, us_admin_http **out, char *err,
                           size_t err_size)
{
	struct sockaddr_storage addr;
	const char *why = parse_listen(opts->listen, &addr);
	if (why != NULL) {
		snprintf(err, err_size, "ADMIN_LISTEN: %s, got \"%s\"", why, opts->listen);
		return US_EINVAL;
	}
	us_admin_http *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	a->opts = *opts;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &attr);
	pthread_condattr_destroy(&attr);
	atomic_store(&process_ready, false);
	snprintf(a->reasons, sizeof(a->reasons), "not checked yet\n");

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	uint16_t port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
	                                           : ntohs(((struct sockaddr_in *)&addr)->sin_port);
	a->http = MHD_start_daemon(flags, port, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR,
	                           (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, 64u,
	                           MHD_OPTION_CONNECTION_TIMEOUT, 10u,
	                           MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_END);
	if (a->http == NULL) {
		snprintf(err, err_size, "could not listen on %s for admin HTTP", opts->listen);
		admin_free(a);
		return US_EUNAVAILABLE;
	}
	if (pthread_create(&a->thread, NULL, readiness_main, a) != 0) {
		MHD_stop_daemon(a->http);
		admin_free(a);
		snprintf(err, err_size, "could not start the readiness thread");
		return US_EEXHAUSTED;
	}
	a->thread_started = true;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->http, MHD_DAEMON_INFO_BIND_PORT);
	char bound[16];
	snprintf(bound, sizeof(bound), "%u", info != NULL ? info->port : 0);
	us_log_fields(US_LOG_INFO, "admin http listening", "listen", opts->listen, "port", bound,
	              NULL);
	*out = a;
	return US_OK;
}

void us_admin_http_stop(us_admin_http *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (a->thread_started)
		pthread_join(a->thread, NULL);
	MHD_stop_daemon(a->http);
	atomic_store(&process_ready, false);
	admin_free(a);
}
