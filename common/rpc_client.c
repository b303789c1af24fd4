#include "rpc_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "clock.h"
#include "transport.h"
#include "usher/v1/rpc.pb-c.h"

#define DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_MS 2000

struct us_rpc_client {
	nng_socket sock;
	char *caller;
	size_t max_message_bytes;
};

static us_err from_nng(int rv)
{
	switch (rv) {
	case 0: return US_OK;
	case NNG_ETIMEDOUT: return US_EDEADLINE;
	case NNG_ENOMEM: return US_EEXHAUSTED;
	case NNG_EMSGSIZE: return US_EEXHAUSTED;
	case NNG_EINVAL:
	case NNG_EADDRINVAL: return US_EINVAL;
	default: return US_EUNAVAILABLE;
	}
}

/* Whether a TCP connection to host:port of a tcp:// url is taken within timeout_ms.
 * Checked with a plain socket because NNG's blocking dial also waits for the SP handshake,
 * which a paused or wedged server never answers (nng 1.5.2 gives up after 10 s, whatever
 * the caller's deadline): a refused connection fails at once, a taken one is enough. */
static us_err probe_tcp(const char *url, uint32_t timeout_ms, char *err, size_t err_size)
{
	const char *host = url + strlen("tcp://");
	const char *colon = strrchr(host, ':');
	if (colon == NULL || colon == host) {
		snprintf(err, err_size, "\"%s\" has no host and port", url);
		return US_EINVAL;
	}
	char name[256];
	size_t len = (size_t)(colon - host);
	if (host[0] == '[' && len >= 2 && host[len - 1] == ']') {
		host++; /* [::1] */
		len -= 2;
	}
	if (len >= sizeof(name)) {
		snprintf(err, err_size, "\"%s\": host name too long", url);
		return US_EINVAL;
	}
	memcpy(name, host, len);
	name[len] = '\0';
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *addrs = NULL;
	int gai = getaddrinfo(name, colon + 1, &hints, &addrs);
	if (gai != 0) {
		snprintf(err, err_size, "could not resolve \"%s\": %s", name, gai_strerror(gai));
		return US_EUNAVAILABLE;
	}
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	int last = ECONNREFUSED;
	for (struct addrinfo *ai = addrs; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		int rv = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rv != 0 && errno == EINPROGRESS) {
			int64_t left = deadline - us_monotonic_ms();
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			rv = poll(&pfd, 1, left > 0 ? (int)left : 0);
			if (rv == 1) {
				socklen_t elen = sizeof(last);
				rv = getsockopt(fd, SOL_SOCKET, SO_ERROR, &last, &elen) == 0 && last == 0 ? 0 : -1;
			} else {
				last = rv == 0 ? ETIMEDOUT : errno;
				rv = -1;
			}
		} else if (rv != 0) {
			last = errno;
		}
		close(fd);
		if (rv == 0) {
			freeaddrinfo(addrs);
			return US_OK;
		}
	}
	freeaddrinfo(addrs);
	snprintf(err, err_size, "could not connect to \"%s\": %s", url,
	         last == ETIMEDOUT ? "no answer in time" : strerror(last));
	return US_EUNAVAILABLE;
}

us_err us_rpc_client_open(const us_rpc_client_opts *opts, us_rpc_client **out, char *err,
                          size_t err_size)
{
	us_rpc_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	c->caller = strdup(opts->caller != NULL ? opts->caller : "");
	c->max_message_bytes = opts->max_message_bytes ? opts->max_message_bytes
	                                               : DEFAULT_MAX_MESSAGE;
	int rv = c->caller != NULL ? nng_req0_open(&c->sock) : NNG_ENOMEM;
	if (rv != 0) {
		free(c->caller);
		free(c);
		snprintf(err, err_size, "could not open socket: %s", nng_strerror(rv));
		return from_nng(rv);
	}
	const char *refused = us_transport_check(opts->url);
	if (refused != NULL) {
		snprintf(err, err_size, "will not connect to \"%s\": %s", opts->url, refused);
		us_rpc_client_close(c);
		return US_EINVAL;
	}
	/* Over TCP the dial never blocks: a tool checks that somebody listens, then its calls'
	 * deadlines cover the handshake. Other transports (inproc) dial at once. */
	bool tcp = strncmp(opts->url, "tcp://", 6) == 0;
	if (tcp && !opts->wait_for_server) {
		us_err rc = probe_tcp(opts->url, opts->connect_timeout_ms ? opts->connect_timeout_ms
		                                                          : DEFAULT_CONNECT_TIMEOUT_MS,
		                      err, err_size);
		if (rc != US_OK) {
			us_rpc_client_close(c);
			return rc;
		}
	}
	rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_message_bytes);
	if (rv == 0)
		rv = nng_dial(c->sock, opts->url, NULL,
		              tcp || opts->wait_for_server ? NNG_FLAG_NONBLOCK : 0);
	if (rv != 0) {
		snprintf(err, err_size, "could not connect to \"%s\": %s", opts->url, nng_strerror(rv));
		us_rpc_client_close(c);
		return from_nng(rv) == US_EINVAL ? US_EINVAL : US_EUNAVAILABLE;
	}
	*out = c;
	return US_OK;
}

void us_rpc_client_close(us_rpc_client *c)
{
	if (c == NULL)
		return;
	nng_close(c->sock);
	free(c->caller);
	free(c);
}

/* One request/reply exchange on a fresh context. Returns the reply message (owned). */
static us_err exchange(us_rpc_client *c, nng_msg *request, uint32_t timeout_ms, nng_msg **reply)
{
	nng_ctx ctx;
	nng_aio *aio = NULL;
	int rv = nng_ctx_open(&ctx, c->sock);
	if (rv != 0) {
		nng_msg_free(request);
		return from_nng(rv);
	}
	rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv != 0) {
		nng_msg_free(request);
		nng_ctx_close(ctx);
		return from_nng(rv);
	}
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
	nng_aio_set_msg(aio, request);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	if (rv != 0) {
		nng_msg_free(request);
	} else {
		/* The reply must arrive within what is left of the budget. */
		int64_t left = deadline - us_monotonic_ms();
		nng_aio_set_timeout(aio, (nng_duration)(left > 0 ? left : 1));
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
		if (rv == 0)
			*reply = nng_aio_get_msg(aio);
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return from_nng(rv);
}

us_err us_rpc_call_raw(us_rpc_client *c, const void *data, size_t len, uint32_t timeout_ms,
                       us_arena *arena, uint8_t **reply, size_t *reply_len)
{
	nng_msg *msg;
	if (nng_msg_alloc(&msg, len) != 0)
		return US_EEXHAUSTED;
	memcpy(nng_msg_body(msg), data, len);
	nng_msg *in = NULL;
	us_err rc = exchange(c, msg, timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS, &in);
	if (rc != US_OK)
		return rc;
	uint8_t *copy = us_arena_alloc(arena, nng_msg_len(in));
	if (copy != NULL)
		memcpy(copy, nng_msg_body(in), nng_msg_len(in));
	*reply_len = nng_msg_len(in);
	nng_msg_free(in);
	if (copy == NULL)
		return US_EEXHAUSTED;
	*reply = copy;
	return US_OK;
}

static void copy_status(const Usher__V1__Status *from, us_status *to)
{
	to->code = (unsigned)from->code < US_ERR_COUNT ? (us_err)from->code : US_EUNKNOWN;
	snprintf(to->message, sizeof(to->message), "%s", from->message);
	for (size_t i = 0; i < from->n_violations; i++)
		us_status_add_violation(to, from->violations[i]->field, "%s",
		                        from->violations[i]->description);
}

us_err us_rpc_call(us_rpc_client *c, const char *method, const us_rpc_call_opts *opts,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                   us_arena *arena, ProtobufCMessage **reply, us_status *status)
{
	static const us_rpc_call_opts no_opts;
	if (opts == NULL)
		opts = &no_opts;
	us_status scratch;
	if (status == NULL)
		status = &scratch;
	us_status_init(status);

	char request_id[33];
	if (opts->request_id == NULL) {
		uint8_t raw[16];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(request_id, sizeof(request_id), raw, sizeof(raw));
	}
	uint32_t timeout = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;

	Usher__V1__Actor actor = USHER__V1__ACTOR__INIT;
	Usher__V1__RpcRequest env = USHER__V1__RPC_REQUEST__INIT;
	env.method = (char *)method;
	env.request_id = (char *)(opts->request_id ? opts->request_id : request_id);
	env.traceparent = (char *)(opts->traceparent ? opts->traceparent : "");
	env.timeout_ms = timeout;
	env.caller = c->caller;
	env.idempotency_key = (char *)(opts->idempotency_key ? opts->idempotency_key : "");
	if (opts->actor_user_id != NULL || opts->actor_account_id != NULL) {
		actor.user_id = (char *)(opts->actor_user_id ? opts->actor_user_id : "");
		actor.account_id = (char *)(opts->actor_account_id ? opts->actor_account_id : "");
		env.actor = &actor;
	}

	/* Pack the payload straight into the arena, then the envelope into the message. */
	size_t payload_len = protobuf_c_message_get_packed_size(request);
	if (payload_len > c->max_message_bytes)
		return us_status_set(status, US_EEXHAUSTED, "request of %zu bytes is over the limit",
		                     payload_len);
	uint8_t *payload = us_arena_alloc(arena, payload_len);
	if (payload == NULL)
		return us_status_set(status, US_EEXHAUSTED, "out of memory");
	protobuf_c_message_pack(request, payload);
	env.payload.data = payload;
	env.payload.len = payload_len;

	size_t len = usher__v1__rpc_request__get_packed_size(&env);
	if (len > c->max_message_bytes)
		return us_status_set(status, US_EEXHAUSTED, "request of %zu bytes is over the limit",
		                     len);
	nng_msg *msg;
	if (nng_msg_alloc(&msg, len) != 0)
		return us_status_set(status, US_EEXHAUSTED, "out of memory");
	usher__v1__rpc_request__pack(&env, nng_msg_body(msg));

	nng_msg *in = NULL;
	us_err rc = exchange(c, msg, timeout, &in);
	if (rc != US_OK)
		return us_status_set(status, rc, "%s: %s", method,
		                     rc == US_EDEADLINE ? "no reply in time" : us_strerror(rc));

	ProtobufCAllocator alloc = us_arena_protobuf_allocator(arena);
	Usher__V1__RpcReply *rep = usher__v1__rpc_reply__unpack(&alloc, nng_msg_len(in),
	                                                        nng_msg_body(in));
	nng_msg_free(in);
	if (rep == NULL || rep->status == NULL)
		return us_status_set(status, US_EINTERNAL, "malformed reply");
	copy_status(rep->status, status);
	if (status->code != US_OK) {
		rc = status->code;
		if (status == &scratch)
			us_status_clear(&scratch);
		return rc;
	}
	ProtobufCMessage *out = protobuf_c_message_unpack(reply_type, &alloc, rep->payload.len,
	                                                  rep->payload.data);
	if (out == NULL)
		return us_status_set(status, US_EINTERNAL, "malformed %s reply", reply_type->name);
	*reply = out;
	return US_OK;
}
