#include "common/rpc_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/socket_close.h"
#include "common/transport.h"

#define DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define DEFAULT_TIMEOUT_MS 5000
#define NONCE_BYTES 16
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
/* How long closing waits for nng (see socket_close.h). */
#define CLOSE_WITHIN_MS 2000u

/* A server key a reply named, and the key this client MACs its requests for it with. */
typedef struct server_key {
	uint8_t public_key[US_PUBLIC_KEY_BYTES];
	uint8_t mac_key[US_MAC_KEY_BYTES];
	uint64_t seen; /* the reply count when a reply last named it: the least recent goes */
} server_key;

struct us_rpc_client {
	nng_socket sock;
	int connections; /* to servers, kept by pipe_event (atomic builtins) */
	size_t n_urls;   /* replicas dialled */
	char *caller;
	size_t max_message_bytes;
	bool has_key;
	us_caller_key key;
	bool closed; /* its socket closed (close_socket; atomic builtins) */
	/* The server keys replies named (one per replica at most, and one spare for a
	 * replica's new key while its old one lingers): requests carry a MAC for each. */
	pthread_mutex_t keys_mu;
	server_key server_keys[US_REQUEST_MACS_MAX];
	size_t n_server_keys, max_server_keys;
	uint64_t replies;
};

/* Counts the connections NNG adds and removes (on its own threads). ADD_PRE, not
 * ADD_POST: NNG runs REM_POST for every pipe it ran ADD_PRE for, even one dropped before
 * ADD_POST, so these two balance. */
static void pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void)pipe;
	us_rpc_client *c = arg;
	__atomic_add_fetch(&c->connections, ev == NNG_PIPE_EV_ADD_PRE ? 1 : -1, __ATOMIC_ACQ_REL);
}

bool us_rpc_client_connected(const us_rpc_client *c)
{
	return us_rpc_client_connections(c) > 0;
}

int us_rpc_client_connections(const us_rpc_client *c)
{
	return __atomic_load_n(&c->connections, __ATOMIC_RELAXED);
}

/* Waits up to timeout_ms for a connection to any replica. */
static bool connected_within(const us_rpc_client *c, uint32_t timeout_ms)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	while (!us_rpc_client_connected(c)) {
		if (us_monotonic_ms() >= deadline)
			return false;
		struct timespec pause = {.tv_nsec = 5 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	return true;
}

/* Set once at start-up, before any client exists. */
static bool default_key_set;
static us_caller_key default_key;

void us_rpc_client_set_default_key(const us_caller_key *key)
{
	default_key_set = key != NULL;
	if (key != NULL)
		default_key = *key;
	else
		us_caller_key_wipe(&default_key);
}

int us_rpc_client_env_key(us_caller_key *out, char *err, size_t err_size)
{
	const char *text = getenv("USHER_CALLER_KEY");
	const char *path = getenv("USHER_CALLER_KEY_FILE");
	char *from_file = NULL;
	if ((text == NULL || text[0] == '\0') && path != NULL && path[0] != '\0') {
		char why[300];
		if (us_config_read_file(path, 256, &from_file, why, sizeof(why)) != US_OK) {
			snprintf(err, err_size, "USHER_CALLER_KEY_FILE: %s", why);
			return -1;
		}
		text = from_file;
	}
	if (text == NULL || text[0] == '\0')
		return 0;
	int rc = us_caller_key_parse(text, out) == 0 ? 1 : -1;
	if (rc < 0)
		snprintf(err, err_size, "%s: %s", from_file ? "USHER_CALLER_KEY_FILE" : "USHER_CALLER_KEY",
		         us_caller_key_check(text));
	if (from_file != NULL) {
		sodium_memzero(from_file, strlen(from_file));
		free(from_file);
	}
	return rc;
}

bool us_rpc_client_signs(const us_rpc_client *c)
{
	return c->has_key;
}

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

/* A blocking dial, given up after timeout_ms. NNG's own blocking dial also waits for the
 * SP handshake, which a paused or wedged server never answers (nng 1.5.2 gives up after
 * 10 s, whatever the caller's deadline); closing the socket aborts it. A refused
 * connection still fails at once. Returns NNG's result, or GAVE_UP (the socket is then
 * closed). */
#define GAVE_UP (-1)
typedef struct dial_wait {
	nng_socket sock;
	const char *url;
	int rv;
	bool done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
} dial_wait;

static void *dial_main(void *arg)
{
	dial_wait *w = arg;
	int rv = nng_dial(w->sock, w->url, NULL, 0);
	pthread_mutex_lock(&w->mu);
	w->rv = rv;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int dial_within(nng_socket sock, const char *url, uint32_t timeout_ms)
{
	dial_wait w = {.sock = sock, .url = url};
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, &attr);
	pthread_condattr_destroy(&attr);
	pthread_t thread;
	if (pthread_create(&thread, NULL, dial_main, &w) != 0) {
		dial_main(&w); /* no thread to spare: NNG's own wait */
	} else {
		struct timespec until = us_monotonic_after(timeout_ms);
		pthread_mutex_lock(&w.mu);
		while (!w.done && pthread_cond_timedwait(&w.cv, &w.mu, &until) == 0)
			;
		bool done = w.done;
		pthread_mutex_unlock(&w.mu);
		if (!done)
			nng_close(sock); /* the dial returns NNG_ECLOSED */
		pthread_join(thread, NULL);
		if (!done)
			w.rv = GAVE_UP;
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return w.rv;
}

/* nng 1.5.2 initialises itself lazily in the first socket open without a lock that
 * ThreadSanitizer can see (usherctl health opens its clients on several threads at
 * once); opening under one mutex orders that first initialisation before every other. */
static int open_req_socket(nng_socket *sock)
{
	static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&open_lock);
	int rv = nng_req0_open(sock);
	pthread_mutex_unlock(&open_lock);
	return rv;
}

us_err us_rpc_client_open(const us_rpc_client_opts *opts, us_rpc_client **out, char *err,
                          size_t err_size)
{
	us_rpc_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	if (opts->key != NULL) {
		c->key = *opts->key;
		c->has_key = true;
	} else if (default_key_set) {
		c->key = default_key;
		c->has_key = true;
	} else {
		int found = us_rpc_client_env_key(&c->key, err, err_size);
		if (found < 0) {
			us_caller_key_wipe(&c->key);
			free(c);
			return US_EINVAL;
		}
		c->has_key = found == 1;
	}
	pthread_mutex_init(&c->keys_mu, NULL);
	c->caller = strdup(opts->caller != NULL ? opts->caller : "");
	c->max_message_bytes = opts->max_message_bytes ? opts->max_message_bytes
	                                               : DEFAULT_MAX_MESSAGE;
	int rv = c->caller != NULL ? open_req_socket(&c->sock) : NNG_ENOMEM;
	if (rv != 0) {
		free(c->caller);
		us_caller_key_wipe(&c->key);
		free(c);
		snprintf(err, err_size, "could not open socket: %s", nng_strerror(rv));
		return from_nng(rv);
	}
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, pipe_event, c);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c);
	/* Replicas: "URL,URL,...", each dialled; NNG spreads the calls over those connected. */
	const char *refused = us_transport_check_list(opts->url);
	if (refused != NULL) {
		snprintf(err, err_size, "will not connect to \"%.200s\": %s", opts->url, refused);
		us_rpc_client_close(c);
		return US_EINVAL;
	}
	char urls[US_TRANSPORT_LIST_BYTES_MAX + 1];
	snprintf(urls, sizeof(urls), "%s", opts->url);
	const char *list[US_TRANSPORT_URLS_MAX];
	char *save = NULL;
	for (char *u = strtok_r(urls, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save))
		list[c->n_urls++] = u;
	c->max_server_keys = c->n_urls < US_REQUEST_MACS_MAX ? c->n_urls + 1 : US_REQUEST_MACS_MAX;
	rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_message_bytes);
	/* NNG resends nothing: neither after a minute without a reply nor when the
	 * connection closes (it fails the call with NNG_ECONNRESET instead). A byte-for-byte
	 * resend would reach the server as a replay; us_rpc_call() signs anew and retries. */
	if (rv == 0)
		rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	uint32_t connect_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms
	                                               : DEFAULT_CONNECT_TIMEOUT_MS;
	if (rv == 0 && (opts->wait_for_server || c->n_urls > 1)) {
		for (size_t i = 0; rv == 0 && i < c->n_urls; i++)
			rv = nng_dial(c->sock, list[i], NULL, NNG_FLAG_NONBLOCK);
		/* A tool given replicas: on once any of them answers. */
		if (rv == 0 && !opts->wait_for_server && !connected_within(c, connect_ms)) {
			snprintf(err, err_size, "could not connect to any of \"%.200s\" within %u ms",
			         opts->url, connect_ms);
			us_rpc_client_close(c);
			return US_EUNAVAILABLE;
		}
	} else if (rv == 0) {
		rv = dial_within(c->sock, list[0], connect_ms);
	}
	if (rv == GAVE_UP) {
		snprintf(err, err_size, "could not connect to \"%s\": no answer within %u ms", opts->url,
		         connect_ms);
		free(c->caller);
		us_caller_key_wipe(&c->key);
		free(c); /* its socket is closed */
		return US_EUNAVAILABLE;
	}
	if (rv != 0) {
		snprintf(err, err_size, "could not connect to \"%s\": %s", opts->url, nng_strerror(rv));
		us_rpc_client_close(c);
		return from_nng(rv) == US_EINVAL ? US_EINVAL : US_EUNAVAILABLE;
	}
	*out = c;
	return US_OK;
}

/* Closes the socket once, whoever asks first (abort and close may both). */
static void close_socket(us_rpc_client *c)
{
	if (__atomic_exchange_n(&c->closed, true, __ATOMIC_ACQ_REL))
		return;
	if (!us_socket_close_within(c->sock, CLOSE_WITHIN_MS))
		us_warn("RPC client socket left closing: nng did not finish within %u ms",
		        CLOSE_WITHIN_MS);
}

void us_rpc_client_abort(us_rpc_client *c)
{
	if (c != NULL)
		close_socket(c);
}

void us_rpc_client_close(us_rpc_client *c)
{
	if (c == NULL)
		return;
	close_socket(c);
	/* NNG's reaper runs the last pipe_event after the socket closed, perhaps long before
	 * (us_rpc_client_abort): this acquire of what it wrote orders its write before the
	 * free (ThreadSanitizer saw no order between them). */
	(void)__atomic_load_n(&c->connections, __ATOMIC_ACQUIRE);
	free(c->caller);
	us_caller_key_wipe(&c->key);
	sodium_memzero(c->server_keys, sizeof(c->server_keys));
	pthread_mutex_destroy(&c->keys_mu);
	free(c);
}

/* One request/reply exchange on a fresh context. Returns the reply message (owned), or
 * the NNG error (NNG_ECONNRESET: the connection closed before the reply came). */
static int exchange(us_rpc_client *c, nng_msg *request, uint32_t timeout_ms, nng_msg **reply)
{
	nng_ctx ctx;
	nng_aio *aio = NULL;
	int rv = nng_ctx_open(&ctx, c->sock);
	if (rv != 0) {
		nng_msg_free(request);
		return rv;
	}
	rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv != 0) {
		nng_msg_free(request);
		nng_ctx_close(ctx);
		return rv;
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
	return rv;
}

us_err us_rpc_call_raw(us_rpc_client *c, const void *data, size_t len, uint32_t timeout_ms,
                       us_arena *arena, uint8_t **reply, size_t *reply_len)
{
	nng_msg *msg;
	if (nng_msg_alloc(&msg, len) != 0)
		return US_EEXHAUSTED;
	memcpy(nng_msg_body(msg), data, len);
	nng_msg *in = NULL;
	us_err rc = from_nng(exchange(c, msg, timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS, &in));
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
	snprintf(to->reason, sizeof(to->reason), "%s", from->reason);
	for (size_t i = 0; i < from->n_violations; i++)
		us_status_add_violation(to, from->violations[i]->field, "%s",
		                        from->violations[i]->description);
}

/* --- server keys --- */

static server_key *find_server_key(us_rpc_client *c, const uint8_t *public_key)
{
	for (size_t i = 0; i < c->n_server_keys; i++) {
		if (memcmp(c->server_keys[i].public_key, public_key, US_PUBLIC_KEY_BYTES) == 0)
			return &c->server_keys[i];
	}
	return NULL;
}

/* A reply named its server's key: remember it (deriving the MAC key once, ~50 µs), or
 * note that it is still in use. A key that is no valid point is not learnt. */
static void learn_server_key(us_rpc_client *c, const ProtobufCBinaryData *named)
{
	if (!c->has_key || named->len != US_PUBLIC_KEY_BYTES)
		return;
	pthread_mutex_lock(&c->keys_mu);
	server_key *k = find_server_key(c, named->data);
	if (k != NULL)
		k->seen = ++c->replies;
	pthread_mutex_unlock(&c->keys_mu);
	if (k != NULL)
		return;
	server_key fresh;
	memcpy(fresh.public_key, named->data, US_PUBLIC_KEY_BYTES);
	if (us_mac_key_for_server(&c->key, fresh.public_key, fresh.mac_key) != 0)
		return;
	pthread_mutex_lock(&c->keys_mu);
	if (find_server_key(c, fresh.public_key) == NULL) {
		k = &c->server_keys[c->n_server_keys];
		if (c->n_server_keys == c->max_server_keys) {
			k = &c->server_keys[0];
			for (size_t i = 1; i < c->n_server_keys; i++)
				k = c->server_keys[i].seen < k->seen ? &c->server_keys[i] : k;
		} else {
			c->n_server_keys++;
		}
		fresh.seen = ++c->replies;
		*k = fresh;
	}
	pthread_mutex_unlock(&c->keys_mu);
	sodium_memzero(&fresh, sizeof(fresh));
}

/* Forgets the key named (NULL: every key). */
static void forget_server_key(us_rpc_client *c, const ProtobufCBinaryData *named)
{
	pthread_mutex_lock(&c->keys_mu);
	if (named == NULL) {
		sodium_memzero(c->server_keys, sizeof(c->server_keys));
		c->n_server_keys = 0;
	} else {
		server_key *k = named->len == US_PUBLIC_KEY_BYTES ? find_server_key(c, named->data)
		                                                  : NULL;
		if (k != NULL) {
			*k = c->server_keys[--c->n_server_keys];
			sodium_memzero(&c->server_keys[c->n_server_keys], sizeof(server_key));
		}
	}
	pthread_mutex_unlock(&c->keys_mu);
}

/* The MACs of packed for each key in keys, into frame (in arena). */
static us_err add_macs(Usher__V1__SignedRequest *frame, const uint8_t *packed, size_t len,
                       const server_key *keys, size_t n, us_arena *arena)
{
	Usher__V1__RequestMac *macs = US_ARENA_ARRAY(arena, Usher__V1__RequestMac, n);
	Usher__V1__RequestMac **ptrs = US_ARENA_ARRAY(arena, Usher__V1__RequestMac *, n);
	uint8_t *tags = us_arena_alloc(arena, n * US_MAC_BYTES);
	if (macs == NULL || ptrs == NULL || tags == NULL)
		return US_EEXHAUSTED;
	uint8_t digest[US_REQUEST_DIGEST_BYTES];
	us_request_digest(packed, len, digest);
	for (size_t i = 0; i < n; i++) {
		usher__v1__request_mac__init(&macs[i]);
		us_request_mac(keys[i].mac_key, digest, tags + i * US_MAC_BYTES);
		macs[i].server_key.data = us_arena_alloc(arena, US_PUBLIC_KEY_BYTES);
		if (macs[i].server_key.data == NULL)
			return US_EEXHAUSTED;
		memcpy(macs[i].server_key.data, keys[i].public_key, US_PUBLIC_KEY_BYTES);
		macs[i].server_key.len = US_PUBLIC_KEY_BYTES;
		macs[i].mac.data = tags + i * US_MAC_BYTES;
		macs[i].mac.len = US_MAC_BYTES;
		ptrs[i] = &macs[i];
	}
	frame->macs = ptrs;
	frame->n_macs = n;
	return US_OK;
}

/* m packed in arena (*out, *len). */
static us_err pack_message(const ProtobufCMessage *m, us_arena *arena, uint8_t **out,
                           size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	*out = us_arena_alloc(arena, *len ? *len : 1);
	if (*out == NULL)
		return US_EEXHAUSTED;
	protobuf_c_message_pack(m, *out);
	return US_OK;
}

us_err us_rpc_mac(const us_caller_key *key, const uint8_t server_public_key[US_PUBLIC_KEY_BYTES],
                  const Usher__V1__RpcRequest *req, us_arena *arena, uint8_t **out, size_t *len)
{
	server_key k;
	memcpy(k.public_key, server_public_key, US_PUBLIC_KEY_BYTES);
	if (us_mac_key_for_server(key, k.public_key, k.mac_key) != 0)
		return US_EINVAL;
	uint8_t *packed;
	size_t req_len;
	Usher__V1__SignedRequest frame = USHER__V1__SIGNED_REQUEST__INIT;
	us_err rc = pack_message(&req->base, arena, &packed, &req_len);
	if (rc == US_OK)
		rc = add_macs(&frame, packed, req_len, &k, 1, arena);
	sodium_memzero(&k, sizeof(k));
	if (rc != US_OK)
		return rc;
	frame.request.data = packed;
	frame.request.len = req_len;
	frame.public_key.data = (uint8_t *)key->public_key;
	frame.public_key.len = US_PUBLIC_KEY_BYTES;
	return pack_message(&frame.base, arena, out, len);
}

us_err us_rpc_sign(const us_caller_key *key, const Usher__V1__RpcRequest *req, us_arena *arena,
                   uint8_t **out, size_t *len)
{
	uint8_t *packed;
	size_t req_len;
	if (pack_message(&req->base, arena, &packed, &req_len) != US_OK)
		return US_EEXHAUSTED;
	uint8_t signature[US_SIGNATURE_BYTES];
	us_caller_key_sign(key, packed, req_len, signature);
	Usher__V1__SignedRequest frame = USHER__V1__SIGNED_REQUEST__INIT;
	frame.request.data = packed;
	frame.request.len = req_len;
	frame.public_key.data = (uint8_t *)key->public_key;
	frame.public_key.len = US_PUBLIC_KEY_BYTES;
	frame.signature.data = signature;
	frame.signature.len = US_SIGNATURE_BYTES;
	return pack_message(&frame.base, arena, out, len);
}

/* env stamped with the time and a fresh nonce, signed (unless there is no key) and packed
 * into a message. With may_mac and the client's own key as signer, MAC'd instead for the
 * server keys replies named, when there are any (*macd then). */
static us_err frame_message(us_rpc_client *c, const us_caller_key *signer, bool may_mac,
                            Usher__V1__RpcRequest *env, uint8_t nonce[NONCE_BYTES],
                            us_arena *arena, nng_msg **out, bool *macd)
{
	randombytes_buf(nonce, NONCE_BYTES);
	env->nonce.data = nonce;
	env->nonce.len = NONCE_BYTES;
	env->issued_at_ms = us_wall_ms();

	Usher__V1__SignedRequest frame = USHER__V1__SIGNED_REQUEST__INIT;
	uint8_t signature[US_SIGNATURE_BYTES];
	size_t req_len = usher__v1__rpc_request__get_packed_size(env);
	if (req_len > c->max_message_bytes)
		return US_EEXHAUSTED;
	uint8_t *packed = us_arena_alloc(arena, req_len ? req_len : 1);
	if (packed == NULL)
		return US_EEXHAUSTED;
	usher__v1__rpc_request__pack(env, packed);
	frame.request.data = packed;
	frame.request.len = req_len;
	server_key keys[US_REQUEST_MACS_MAX];
	size_t n_keys = 0;
	if (may_mac && signer == &c->key) {
		pthread_mutex_lock(&c->keys_mu);
		n_keys = c->n_server_keys;
		memcpy(keys, c->server_keys, n_keys * sizeof(server_key));
		pthread_mutex_unlock(&c->keys_mu);
	}
	*macd = n_keys > 0;
	if (n_keys > 0) {
		us_err rc = add_macs(&frame, packed, req_len, keys, n_keys, arena);
		sodium_memzero(keys, n_keys * sizeof(server_key));
		if (rc != US_OK)
			return rc;
		frame.public_key.data = (uint8_t *)signer->public_key;
		frame.public_key.len = US_PUBLIC_KEY_BYTES;
	} else if (signer != NULL) {
		us_caller_key_sign(signer, packed, req_len, signature);
		frame.public_key.data = (uint8_t *)signer->public_key;
		frame.public_key.len = US_PUBLIC_KEY_BYTES;
		frame.signature.data = signature;
		frame.signature.len = US_SIGNATURE_BYTES;
	}
	size_t len = usher__v1__signed_request__get_packed_size(&frame);
	if (len > c->max_message_bytes)
		return US_EEXHAUSTED;
	if (nng_msg_alloc(out, len) != 0)
		return US_EEXHAUSTED;
	usher__v1__signed_request__pack(&frame, nng_msg_body(*out));
	return US_OK;
}

static bool replayed(const us_status *st)
{
	return st->code == US_EUNAUTHENTICATED && strcmp(st->reason, "REPLAYED") == 0;
}

/* A MAC'd request refused for its MAC, before anything ran: the server holds another key
 * (restarted with a new one), or takes signatures only ("BAD_SIGNATURE" from a server
 * that predates MACs). */
static bool mac_refused(const us_status *st)
{
	return st->code == US_EUNAUTHENTICATED &&
	       (strcmp(st->reason, "OTHER_SERVER_KEY") == 0 || strcmp(st->reason, "BAD_MAC") == 0 ||
	        strcmp(st->reason, "BAD_SIGNATURE") == 0);
}

/* What every reply teaches: the server's key. True when the request (macd: it was MAC'd)
 * must be sent once more, signed: its MAC did not do and nothing ran. A key whose MAC
 * was bad is forgotten (the signed request's reply teaches it again); a server that names
 * no key takes signatures only, so every key is (the client signs until a reply names
 * one, rather than pay a refusal per call). */
static bool sign_instead(us_rpc_client *c, bool macd, const Usher__V1__RpcReply *rep,
                         const us_status *status)
{
	learn_server_key(c, &rep->server_key);
	if (!macd || !mac_refused(status))
		return false;
	if (rep->server_key.len == 0)
		forget_server_key(c, NULL);
	else if (strcmp(status->reason, "BAD_MAC") == 0)
		forget_server_key(c, &rep->server_key);
	return true;
}

/* A call's envelope: method, ids, trace, caller, idempotency key and actor (into *actor),
 * with request packed into arena as its payload (once, straight into the arena). Without
 * opts->request_id, a fresh one is made into id. US_EEXHAUSTED when the payload is over
 * the limit (env->payload.len says its size) or memory ran out. */
static us_err envelope(const us_rpc_client *c, const char *method, const us_rpc_call_opts *opts,
                       const ProtobufCMessage *request, us_arena *arena, char id[33],
                       Usher__V1__Actor *actor, Usher__V1__RpcRequest *env)
{
	if (opts->request_id == NULL) {
		uint8_t raw[16];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(id, 33, raw, sizeof(raw));
	}
	usher__v1__actor__init(actor);
	usher__v1__rpc_request__init(env);
	env->method = (char *)method;
	env->request_id = (char *)(opts->request_id ? opts->request_id : id);
	env->traceparent = (char *)(opts->traceparent ? opts->traceparent : "");
	env->caller = c->caller;
	env->idempotency_key = (char *)(opts->idempotency_key ? opts->idempotency_key : "");
	if (opts->actor_user_id != NULL || opts->actor_account_id != NULL) {
		actor->user_id = (char *)(opts->actor_user_id ? opts->actor_user_id : "");
		actor->account_id = (char *)(opts->actor_account_id ? opts->actor_account_id : "");
		env->actor = actor;
	}
	env->payload.len = protobuf_c_message_get_packed_size(request);
	if (env->payload.len > c->max_message_bytes)
		return US_EEXHAUSTED;
	return pack_message(request, arena, &env->payload.data, &env->payload.len);
}

/* What a call ends with once its reply's status is in *status: that status's code, or the
 * payload unpacked as reply_type into *reply. scratch: the caller's own status, when it was
 * given none (cleared here). */
static us_err reply_payload(const Usher__V1__RpcReply *rep,
                            const ProtobufCMessageDescriptor *reply_type, ProtobufCAllocator *alloc,
                            ProtobufCMessage **reply, us_status *status, us_status *scratch)
{
	if (status->code != US_OK) {
		us_err rc = status->code;
		if (status == scratch)
			us_status_clear(scratch);
		return rc;
	}
	ProtobufCMessage *out = protobuf_c_message_unpack(reply_type, alloc, rep->payload.len,
	                                                  rep->payload.data);
	if (out == NULL)
		return us_status_set(status, US_EINTERNAL, "malformed %s reply", reply_type->name);
	*reply = out;
	return US_OK;
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

	uint32_t timeout = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	int64_t deadline = us_monotonic_ms() + timeout;
	const us_caller_key *signer = opts->signer != NULL ? opts->signer
	                                                   : (c->has_key ? &c->key : NULL);
	char request_id[33];
	Usher__V1__Actor actor;
	Usher__V1__RpcRequest env;
	if (envelope(c, method, opts, request, arena, request_id, &actor, &env) != US_OK)
		return env.payload.len > c->max_message_bytes
		               ? us_status_set(status, US_EEXHAUSTED,
		                               "request of %zu bytes is over the limit", env.payload.len)
		               : us_status_set(status, US_EEXHAUSTED, "out of memory");

	ProtobufCAllocator alloc = us_arena_protobuf_allocator(arena);
	Usher__V1__RpcReply *rep = NULL;
	bool may_mac = true, resent_replayed = false;
	for (int attempt = 0;; attempt++) {
		int64_t left = deadline - us_monotonic_ms();
		env.timeout_ms = (uint32_t)(left > 0 ? left : 1);
		uint8_t nonce[NONCE_BYTES];
		nng_msg *msg;
		bool macd = false;
		us_err rc = frame_message(c, signer, may_mac, &env, nonce, arena, &msg, &macd);
		if (rc != US_OK)
			return us_status_set(status, rc, rc == US_EEXHAUSTED ? "request over the size limit"
			                                                    : "out of memory");
		nng_msg *in = NULL;
		int rv = exchange(c, msg, env.timeout_ms, &in);
		bool time_left = deadline - us_monotonic_ms() > 0;
		/* The connection closed before the reply (the replica died): the server may or
		 * may not have the request. Again, signed anew, with the same idempotency key
		 * (which makes it safe), on a connection that is up: once per replica. */
		if (rv == NNG_ECONNRESET && (size_t)attempt < c->n_urls && time_left)
			continue;
		rc = from_nng(rv);
		if (rc != US_OK)
			return us_status_set(status, rc, "%s: %s", method,
			                     rc == US_EDEADLINE ? "no reply in time" : us_strerror(rc));
		rep = usher__v1__rpc_reply__unpack(&alloc, nng_msg_len(in), nng_msg_body(in));
		nng_msg_free(in);
		if (rep == NULL || rep->status == NULL)
			return us_status_set(status, US_EINTERNAL, "malformed reply");
		copy_status(rep->status, status);
		if (sign_instead(c, macd, rep, status) && deadline - us_monotonic_ms() > 0) {
			us_status_clear(status);
			may_mac = false;
			continue;
		}
		/* The server saw these bytes before (a transport resent them): sign anew. */
		if (replayed(status) && !resent_replayed && deadline - us_monotonic_ms() > 0) {
			resent_replayed = true;
			us_status_clear(status);
			continue;
		}
		break;
	}
	return reply_payload(rep, reply_type, &alloc, reply, status, &scratch);
}

/* --- calls in flight together --- */

struct us_rpc_pending {
	us_rpc_client *client;
	const char *method;
	us_rpc_call_opts opts; /* with the request id, which a retry reuses */
	const ProtobufCMessage *request;
	us_arena *arena;
	int64_t deadline;
	char request_id[33];
	us_err unsent; /* why the request was never sent (nothing to wait for) */
	bool macd;     /* MAC'd rather than signed */
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *msg; /* the request, until it is sent */
};

us_rpc_pending *us_rpc_call_start(us_rpc_client *c, const char *method,
                                  const us_rpc_call_opts *opts, const ProtobufCMessage *request,
                                  us_arena *arena)
{
	us_rpc_pending *p = us_arena_alloc(arena, sizeof(*p));
	if (p == NULL)
		return NULL;
	static const us_rpc_call_opts no_opts;
	*p = (us_rpc_pending){.client = c, .method = method, .opts = opts ? *opts : no_opts,
	                      .request = request, .arena = arena};
	uint32_t timeout = p->opts.timeout_ms ? p->opts.timeout_ms : DEFAULT_TIMEOUT_MS;
	p->deadline = us_monotonic_ms() + timeout;
	Usher__V1__Actor actor;
	Usher__V1__RpcRequest env;
	p->unsent = envelope(c, method, &p->opts, request, arena, p->request_id, &actor, &env);
	if (p->unsent != US_OK)
		return p;
	/* A retry (us_rpc_call_finish) goes out under the same request id. */
	p->opts.request_id = env.request_id;
	env.timeout_ms = timeout;
	uint8_t nonce[NONCE_BYTES];
	const us_caller_key *signer = p->opts.signer != NULL ? p->opts.signer
	                                                     : (c->has_key ? &c->key : NULL);
	p->unsent = frame_message(c, signer, true, &env, nonce, arena, &p->msg, &p->macd);
	if (p->unsent != US_OK)
		return p;
	int rv = nng_ctx_open(&p->ctx, c->sock);
	if (rv == 0 && (rv = nng_aio_alloc(&p->aio, NULL, NULL)) != 0)
		nng_ctx_close(p->ctx);
	if (rv != 0) {
		nng_msg_free(p->msg);
		p->aio = NULL;
		p->unsent = from_nng(rv);
		return p;
	}
	nng_aio_set_timeout(p->aio, (nng_duration)timeout);
	nng_aio_set_msg(p->aio, p->msg);
	nng_ctx_send(p->ctx, p->aio);
	return p;
}

/* The started call's exchange, ended: as exchange() returns. */
static int pending_reply(us_rpc_pending *p, nng_msg **reply)
{
	nng_aio_wait(p->aio);
	int rv = nng_aio_result(p->aio);
	if (rv != 0) {
		nng_msg_free(p->msg);
	} else {
		int64_t left = p->deadline - us_monotonic_ms();
		nng_aio_set_timeout(p->aio, (nng_duration)(left > 0 ? left : 1));
		nng_ctx_recv(p->ctx, p->aio);
		nng_aio_wait(p->aio);
		rv = nng_aio_result(p->aio);
		if (rv == 0)
			*reply = nng_aio_get_msg(p->aio);
	}
	nng_aio_free(p->aio);
	nng_ctx_close(p->ctx);
	p->aio = NULL;
	return rv;
}

us_err us_rpc_call_finish(us_rpc_pending *p, const ProtobufCMessageDescriptor *reply_type,
                          ProtobufCMessage **reply, us_status *status)
{
	us_status scratch;
	if (status == NULL)
		status = &scratch;
	us_status_init(status);
	if (p == NULL)
		return us_status_set(status, US_EEXHAUSTED, "out of memory");
	if (p->unsent != US_OK)
		return us_status_set(status, p->unsent, "%s: %s", p->method,
		                     p->unsent == US_EEXHAUSTED ? "request over the size limit or out of memory"
		                                                : us_strerror(p->unsent));
	nng_msg *in = NULL;
	int rv = pending_reply(p, &in);
	Usher__V1__RpcReply *rep = NULL;
	ProtobufCAllocator alloc = us_arena_protobuf_allocator(p->arena);
	if (rv == 0) {
		rep = usher__v1__rpc_reply__unpack(&alloc, nng_msg_len(in), nng_msg_body(in));
		nng_msg_free(in);
		if (rep == NULL || rep->status == NULL)
			return us_status_set(status, US_EINTERNAL, "malformed reply");
		copy_status(rep->status, status);
	}
	bool resend = rv == 0 && sign_instead(p->client, p->macd, rep, status);
	int64_t left = p->deadline - us_monotonic_ms();
	/* The connection closed before the reply, the server saw these bytes before, or their
	 * MAC did not do: again, anew, as us_rpc_call() retries. */
	if (left > 0 && (resend || rv == NNG_ECONNRESET || (rv == 0 && replayed(status)))) {
		us_status_clear(status);
		us_rpc_call_opts opts = p->opts;
		opts.timeout_ms = (uint32_t)left;
		return us_rpc_call(p->client, p->method, &opts, p->request, reply_type, p->arena, reply,
		                   status);
	}
	us_err rc = from_nng(rv);
	if (rc != US_OK)
		return us_status_set(status, rc, "%s: %s", p->method,
		                     rc == US_EDEADLINE ? "no reply in time" : us_strerror(rc));
	return reply_payload(rep, reply_type, &alloc, reply, status, &scratch);
}
