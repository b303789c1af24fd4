#include "common/rpc_server.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <sodium.h>

#include "common/admin_service.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/fault.h"
#include "common/idempotency.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/socket_close.h"
#include "common/status.h"
#include "common/trace.h"
#include "common/transport.h"
#include "common/wake.h"
#include "usher/v1/health.pb-c.h"
#include "usher/v1/rpc.pb-c.h"

/* How long closing waits for nng (see socket_close.h). */
#define CLOSE_WITHIN_MS 2000u

/* Each worker keeps this many receives posted, so requests are taken off the socket
 * (and their deadline clock starts) while the workers are busy. */
#define SLOTS_PER_WORKER 4
#define FIELD_MAX 200

typedef struct slot {
	us_rpc_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *msg;
	int64_t received_ms;
	struct slot *next;
} slot;

typedef struct worker {
	us_rpc_server *srv;
	pthread_t thread;
	bool started;
	PGconn *db;
	nng_aio *send_aio;
} worker;

/* A service with its handlers laid out in descriptor order. */
typedef struct bound_service {
	const ProtobufCServiceDescriptor *descriptor;
	us_rpc_handler **handlers;
	unsigned *flags;
	const us_rpc_reply_secret **secrets;
	void *ctx;
} bound_service;

/* The built-in Health/Check: any authenticated caller. */
#define OPEN_METHOD (1u << 31)

struct us_rpc_server {
	us_rpc_server_opts opts;
	nng_socket sock;
	bool sock_open;
	char bound_url[128]; /* what the listener is bound to (a tcp port 0 resolved) */
	bound_service *services;
	size_t n_services;
	slot *slots;
	int n_slots;
	worker *workers;
	int n_workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	slot *head, *tail; /* received, waiting for a worker */
	bool draining;     /* no receive is posted again */
	bool receives_stopped;
	atomic_bool serving;
	us_admin_ctx admin; /* usher.v1.Admin's, for a server with a database */
};

struct us_call {
	us_rpc_server *srv;
	worker *w;
	us_arena *arena;
	void *service_ctx;
	const Usher__V1__RpcRequest *req;
	const ProtobufCMethodDescriptor *method;
	unsigned method_flags; /* its us_rpc_method's */
	const char *request_id;
	int64_t deadline_ms;
	us_status status;
	us_caller caller;
	char child_traceparent[US_TRACEPARENT_SIZE]; /* the last downstream call's */
};

/* --- handler API --- */

us_arena *us_call_arena(us_call *call) { return call->arena; }
PGconn *us_call_db(us_call *call) { return call->w->db; }
void *us_call_service_ctx(us_call *call) { return call->service_ctx; }
const ProtobufCMethodDescriptor *us_call_method(us_call *call) { return call->method; }
const char *us_call_request_id(us_call *call) { return call->request_id; }
const char *us_call_traceparent(us_call *call) { return call->req->traceparent; }
const us_caller *us_call_caller(us_call *call) { return &call->caller; }
const char *us_call_caller_name(us_call *call) { return call->caller.name ? call->caller.name : ""; }
bool us_call_is_system(us_call *call)
{
	return call->caller.kind == US_CALLER_PEER && (call->caller.rights & US_RIGHT_SYSTEM);
}
const us_principal *us_call_principal(us_call *call)
{
	return call->caller.kind == US_CALLER_PRINCIPAL ? call->caller.principal : NULL;
}
const char *us_call_idempotency_key(us_call *call) { return call->req->idempotency_key; }

const char *us_call_actor_user_id(us_call *call)
{
	return call->req->actor != NULL ? call->req->actor->user_id : "";
}

const char *us_call_actor_account_id(us_call *call)
{
	return call->req->actor != NULL ? call->req->actor->account_id : "";
}

int64_t us_call_remaining_ms(us_call *call)
{
	int64_t left = call->deadline_ms - us_monotonic_ms();
	return left > 0 ? left : 0;
}

void us_call_downstream(us_call *call, us_rpc_call_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	int64_t left = us_call_remaining_ms(call);
	opts->timeout_ms = (uint32_t)(left > 0 ? left : 1);
	opts->request_id = call->request_id;
	/* The trace goes on, each call a span of its own (W3C: a new parent id per hop). */
	opts->traceparent = "";
	if (us_traceparent_valid(call->req->traceparent)) {
		us_traceparent_next(call->req->traceparent, call->child_traceparent);
		opts->traceparent = call->child_traceparent;
	}
	opts->actor_user_id = us_call_actor_user_id(call);
	opts->actor_account_id = us_call_actor_account_id(call);
}

us_err us_call_error(us_call *call, us_err code, const char *fmt, ...)
{
	call->status.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->status.message, sizeof(call->status.message), fmt, ap);
	va_end(ap);
	return code;
}

void us_call_violation(us_call *call, const char *field, const char *fmt, ...)
{
	char description[US_STATUS_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(description, sizeof(description), fmt, ap);
	va_end(ap);
	us_status_add_violation(&call->status, field, "%s", description);
}

bool us_call_has_violations(const us_call *call)
{
	return call->status.n_violations > 0;
}

us_err us_call_invalid(us_call *call)
{
	const us_status *st = &call->status;
	if (st->n_violations == 1)
		return us_call_error(call, US_EINVAL, "invalid %s: %s", st->violations[0].field,
		                     st->violations[0].description);
	return us_call_error(call, US_EINVAL, "invalid request: %zu fields are invalid",
	                     st->n_violations);
}

/* --- health --- */

static bool database_ok(us_call *call)
{
	PGconn *db = call->w->db;
	if (db == NULL)
		return true;
	if (us_db_ensure(db, call->srv->opts.schema) != US_OK)
		return false;
	return us_db_exec(db, "SELECT 1", 0, NULL, NULL) == US_OK;
}

static us_err health_check(us_call *call, const ProtobufCMessage *request,
                           ProtobufCMessage **reply)
{
	const Usher__V1__HealthCheckRequest *req = (const Usher__V1__HealthCheckRequest *)request;
	us_rpc_server *srv = call->srv;
	bool known = req->service[0] == '\0';
	for (size_t i = 0; i < srv->n_services && !known; i++)
		known = strcmp(srv->services[i].descriptor->name, req->service) == 0;
	if (!known)
		return us_call_error(call, US_ENOTFOUND, "unknown service \"%.100s\"", req->service);

	Usher__V1__HealthCheckResponse *res = US_ARENA_NEW(call->arena,
	                                                   Usher__V1__HealthCheckResponse);
	if (res == NULL)
		return US_EEXHAUSTED;
	usher__v1__health_check_response__init(res);
	bool up = atomic_load(&srv->serving) && database_ok(call);
	res->status = up ? USHER__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
	                 : USHER__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	*reply = &res->base;
	return US_OK;
}

static const us_rpc_method health_methods[] = {
	{"Check", health_check, OPEN_METHOD},
};

/* --- binding the tables --- */

static us_err bind_service(bound_service *b, const us_rpc_service *svc, bool has_db, char *err,
                           size_t err_size)
{
	const ProtobufCServiceDescriptor *d = svc->descriptor;
	b->descriptor = d;
	b->ctx = svc->ctx;
	b->handlers = calloc(d->n_methods ? d->n_methods : 1, sizeof(*b->handlers));
	b->flags = calloc(d->n_methods ? d->n_methods : 1, sizeof(*b->flags));
	b->secrets = calloc(d->n_methods ? d->n_methods : 1, sizeof(*b->secrets));
	if (b->handlers == NULL || b->flags == NULL || b->secrets == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	for (size_t i = 0; i < svc->n_methods; i++) {
		const us_rpc_method *m = &svc->methods[i];
		const ProtobufCMethodDescriptor *md =
		        protobuf_c_service_descriptor_get_method_by_name(d, m->name);
		if (md == NULL) {
			snprintf(err, err_size, "method \"%s\" is not in service \"%s\"", m->name, d->name);
			return US_EINTERNAL;
		}
		if ((m->flags & US_RPC_IDEMPOTENT) && !has_db) {
			snprintf(err, err_size, "idempotent method \"%s\" needs a database", m->name);
			return US_EINTERNAL;
		}
		size_t index = (size_t)(md - d->methods);
		b->handlers[index] = m->handler;
		b->flags[index] = m->flags;
	}
	return US_OK;
}

/* Attaches each reply-secret hook to its idempotent method. */
static us_err bind_secrets(us_rpc_server *srv, char *err, size_t err_size)
{
	for (size_t i = 0; i < srv->opts.n_reply_secrets; i++) {
		const us_rpc_reply_secret *h = &srv->opts.reply_secrets[i];
		const char *slash = strchr(h->method, '/');
		bool bound = false;
		for (size_t k = 0; slash != NULL && k < srv->n_services && !bound; k++) {
			bound_service *b = &srv->services[k];
			const char *name = b->descriptor->name;
			if (strlen(name) != (size_t)(slash - h->method) ||
			    strncmp(name, h->method, (size_t)(slash - h->method)) != 0)
				continue;
			const ProtobufCMethodDescriptor *md =
			        protobuf_c_service_descriptor_get_method_by_name(b->descriptor, slash + 1);
			size_t index = md != NULL ? (size_t)(md - b->descriptor->methods) : 0;
			if (md != NULL && (b->flags[index] & US_RPC_IDEMPOTENT)) {
				b->secrets[index] = h;
				bound = true;
			}
		}
		if (!bound) {
			snprintf(err, err_size, "reply secret hooks name \"%s\", not an idempotent method",
			         h->method);
			return US_EINTERNAL;
		}
	}
	return US_OK;
}

static void unbind_services(us_rpc_server *srv)
{
	for (size_t i = 0; i < srv->n_services; i++) {
		free(srv->services[i].handlers);
		free(srv->services[i].flags);
		free(srv->services[i].secrets);
	}
	free(srv->services);
}

/* --- dispatch --- */

typedef struct dispatch {
	us_call *call;
	us_rpc_handler *handler;
	const ProtobufCMethodDescriptor *method;
	const ProtobufCMessage *input;
	const us_rpc_reply_secret *secret;
	const uint8_t *full; /* with secret hooks: the reply as sent, when the stored one is stripped */
	size_t full_len;
} dispatch;

static us_err pack(us_arena *arena, const ProtobufCMessage *m, const uint8_t **out, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = us_arena_alloc(arena, *len ? *len : 1);
	if (buf == NULL)
		return US_EEXHAUSTED;
	protobuf_c_message_pack(m, buf);
	*out = buf;
	return US_OK;
}

/* Runs the handler and packs its reply into the arena; with secret hooks, what it returns
 * (what is stored) is the reply stripped of its secret, and d->full the whole reply. */
static us_err run_handler(void *arg, const uint8_t **reply, size_t *reply_len)
{
	dispatch *d = arg;
	ProtobufCMessage *out = NULL;
	us_err rc = d->handler(d->call, d->input, &out);
	if (rc != US_OK)
		return rc;
	if (out == NULL || out->descriptor != d->method->output) {
		us_error("handler returned no reply or a reply of the wrong type");
		return US_EINTERNAL;
	}
	rc = pack(d->call->arena, out, reply, reply_len);
	if (rc != US_OK || d->secret == NULL)
		return rc;
	d->full = *reply;
	d->full_len = *reply_len;
	d->secret->strip(out);
	return pack(d->call->arena, out, reply, reply_len);
}

/* A repeat of a method whose stored reply was stripped: the method makes the reply. */
static us_err replay_secret(dispatch *d, const uint8_t *stored, size_t stored_len,
                            const uint8_t **reply, size_t *reply_len)
{
	ProtobufCAllocator alloc = us_arena_protobuf_allocator(d->call->arena);
	ProtobufCMessage *kept = protobuf_c_message_unpack(d->method->output, &alloc, stored_len,
	                                                   stored);
	if (kept == NULL) {
		us_error("a stored reply does not unpack");
		return US_EINTERNAL;
	}
	ProtobufCMessage *out = NULL;
	us_err rc = d->secret->replay(d->call, d->input, kept, &out);
	if (rc != US_OK)
		return rc;
	if (out == NULL || out->descriptor != d->method->output) {
		us_error("replay returned no reply or a reply of the wrong type");
		return US_EINTERNAL;
	}
	return pack(d->call->arena, out, reply, reply_len);
}

static const bound_service *find_service(us_rpc_server *srv, const char *name, size_t len)
{
	for (size_t i = 0; i < srv->n_services; i++) {
		const char *svc = srv->services[i].descriptor->name;
		if (strlen(svc) == len && memcmp(svc, name, len) == 0)
			return &srv->services[i];
	}
	return NULL;
}

static bool field_too_long(const char *s)
{
	return strlen(s) > FIELD_MAX;
}

/* Handles one request envelope; fills call->status and, on success, *payload. */
/* Who the events of the call's transaction record as the actor: the person it acts for,
 * else a service principal acting as itself; "" (the daemon's own work) otherwise. */
static const char *event_actor(us_call *call)
{
	const char *user = us_call_actor_user_id(call);
	if (user[0] != '\0') {
		const char *label = us_arena_printf(call->arena, "user:%s", user);
		return label != NULL ? label : "";
	}
	return call->caller.kind == US_CALLER_PRINCIPAL ? call->caller.id : "";
}

static void dispatch_request(us_call *call, const Usher__V1__RpcRequest *req,
                             const uint8_t **payload, size_t *payload_len)
{
	us_rpc_server *srv = call->srv;

	const char *slash = strchr(req->method, '/');
	const bound_service *svc = slash ? find_service(srv, req->method, (size_t)(slash - req->method))
	                                 : NULL;
	const ProtobufCMethodDescriptor *md =
	        svc ? protobuf_c_service_descriptor_get_method_by_name(svc->descriptor, slash + 1)
	            : NULL;
	size_t index = md ? (size_t)(md - svc->descriptor->methods) : 0;
	if (md == NULL || svc->handlers[index] == NULL) {
		us_call_error(call, US_EUNIMPLEMENTED, "unknown method \"%.200s\"", req->method);
		return;
	}
	call->service_ctx = svc->ctx;
	call->method = md;
	unsigned flags = svc->flags[index];
	call->method_flags = flags;
	unsigned needs = ((flags & OPEN_METHOD) ? US_AUTH_OPEN : 0) |
	                 ((flags & US_RPC_INTERNAL) ? US_AUTH_NEEDS_SYSTEM : 0) |
	                 ((flags & US_RPC_PRINCIPAL_ADMIN) ? US_AUTH_NEEDS_PRINCIPALS : 0);
	bool names_actor = req->actor != NULL &&
	                   (req->actor->user_id[0] != '\0' || req->actor->account_id[0] != '\0');
	char why[US_STATUS_MESSAGE_MAX];
	if (us_auth_permit(&call->caller, req->method, needs, names_actor, why, sizeof(why)) != US_OK) {
		us_log_fields(US_LOG_WARN, "request refused: caller may not call this", "caller",
		              call->caller.id, "why", why, NULL);
		us_call_error(call, US_EDENIED, "%s", why);
		return;
	}

	ProtobufCAllocator alloc = us_arena_protobuf_allocator(call->arena);
	ProtobufCMessage *input = protobuf_c_message_unpack(md->input, &alloc, req->payload.len,
	                                                    req->payload.data);
	if (input == NULL) {
		us_call_error(call, US_EINVAL, "malformed %s payload", md->input->name);
		return;
	}
	if (us_auth_permit_input(&call->caller, input, (flags & US_RPC_IDEMPOTENT) != 0, why,
	                         sizeof(why)) != US_OK) {
		us_log_fields(US_LOG_WARN, "request refused: outside the caller's scope", "caller",
		              call->caller.id, "why", why, NULL);
		us_call_error(call, US_EDENIED, "%s", why);
		return;
	}

	if (call->w->db != NULL && us_db_ensure(call->w->db, srv->opts.schema) != US_OK) {
		us_call_error(call, US_EUNAVAILABLE, "database unavailable");
		return;
	}

	dispatch d = {call, svc->handlers[index], md, input, svc->secrets[index], NULL, 0};
	us_err rc;
	if (flags & US_RPC_IDEMPOTENT) {
		if (req->idempotency_key[0] == '\0') {
			us_call_violation(call, "idempotency_key", "is required by %s", req->method);
			us_call_invalid(call);
			return;
		}
		/* Scoped by who asks, for whom and what: one caller's key never replays another's
		 * reply (or another person's, behind the same gateway). */
		us_idempotency_scope scope = {
			.caller = call->caller.id,
			.actor = req->actor != NULL ? req->actor->user_id : "",
			.method = req->method,
			.key = req->idempotency_key,
			.event_actor = event_actor(call),
		};
		us_idempotency_result res;
		rc = ((flags & US_RPC_CLAIM_AHEAD) ? us_idempotency_run_ahead : us_idempotency_run)(
		        call->w->db, call->arena, &scope, req->payload.data, req->payload.len,
		        srv->opts.request_hash_key, us_call_remaining_ms(call), run_handler, &d, &res);
		if (res.replayed) {
			/* What a handler run ahead said is void. */
			us_status_clear(&call->status);
			d.full = NULL;
		}
		if (res.key_reused) {
			us_status_clear(&call->status);
			us_call_violation(call, "idempotency_key", "was already used with a different request");
			us_call_invalid(call);
			return;
		}
		if (rc == US_OK && res.replayed && d.secret != NULL) {
			us_debug("replaying a stored reply without its secret");
			rc = replay_secret(&d, res.reply, res.reply_len, payload, payload_len);
		} else if (rc == US_OK) {
			*payload = d.full != NULL ? d.full : res.reply;
			*payload_len = d.full != NULL ? d.full_len : res.reply_len;
			if (res.replayed)
				us_debug("replayed the stored reply");
		}
	} else {
		rc = run_handler(&d, payload, payload_len);
	}
	if (rc != US_OK && call->status.code == US_OK)
		us_call_error(call, rc, "%s", us_strerror(rc));
	else if (rc != US_OK)
		call->status.code = rc;
}

/* Packs status and payload into an RpcReply message. */
static nng_msg *pack_reply(us_call *call, const uint8_t *payload, size_t payload_len)
{
	us_status *st = &call->status;
	Usher__V1__Status status = USHER__V1__STATUS__INIT;
	Usher__V1__RpcReply reply = USHER__V1__RPC_REPLY__INIT;
	Usher__V1__FieldViolation *violations = NULL;
	Usher__V1__FieldViolation **violation_ptrs = NULL;

	/* Internal detail never leaves the process. */
	if (st->code == US_EINTERNAL)
		snprintf(st->message, sizeof(st->message), "internal error");
	status.code = (Usher__V1__Code)st->code;
	status.message = st->message;
	status.reason = st->reason;
	if (st->n_violations > 0) {
		violations = US_ARENA_ARRAY(call->arena, Usher__V1__FieldViolation, st->n_violations);
		violation_ptrs = US_ARENA_ARRAY(call->arena, Usher__V1__FieldViolation *,
		                                st->n_violations);
		if (violations != NULL && violation_ptrs != NULL) {
			for (size_t i = 0; i < st->n_violations; i++) {
				usher__v1__field_violation__init(&violations[i]);
				violations[i].field = st->violations[i].field;
				violations[i].description = st->violations[i].description;
				violation_ptrs[i] = &violations[i];
			}
			status.n_violations = st->n_violations;
			status.violations = violation_ptrs;
		}
	}
	reply.status = &status;
	/* Callers MAC their next requests for this key instead of signing them. */
	const uint8_t *server_key = us_auth_server_key(call->srv->opts.auth);
	if (server_key != NULL) {
		reply.server_key.data = (uint8_t *)server_key;
		reply.server_key.len = US_PUBLIC_KEY_BYTES;
	}
	if (st->code == US_OK) {
		reply.payload.data = (uint8_t *)payload;
		reply.payload.len = payload_len;
	}

	size_t len = usher__v1__rpc_reply__get_packed_size(&reply);
	if (len > call->srv->opts.max_message_bytes) {
		us_error("reply of %zu bytes is over the message limit", len);
		us_status_clear(st);
		us_status_set(st, US_EEXHAUSTED, "reply too large");
		return pack_reply(call, NULL, 0);
	}
	nng_msg *msg;
	if (nng_msg_alloc(&msg, len) != 0)
		return NULL;
	usher__v1__rpc_reply__pack(&reply, nng_msg_body(msg));
	return msg;
}

static const char *service_label(const us_rpc_server *srv)
{
	return srv->opts.service != NULL ? srv->opts.service : "usher";
}

/* A gauge of the server's (in flight, busy workers) moved by delta. */
static void gauge_add(const us_rpc_server *srv, const char *name, const char *help, double delta)
{
	const char *labels[] = {service_label(srv)};
	us_metrics_add(us_metrics_family(US_METRIC_GAUGE, name, help, "service"), labels, delta);
}

/* Counts a handled request. The method label is a method the server knows (its full name
 * from the request, checked by dispatch), never an arbitrary string a caller sent. */
static void count_request(const us_call *call, double seconds)
{
	const char *method = call->method != NULL ? call->req->method : "unknown";
	const char *labels[] = {service_label(call->srv), method, us_err_name(call->status.code)};
	us_metrics_add(us_metrics_family(US_METRIC_COUNTER, "usher_rpc_requests_total",
	                                 "RPC requests handled, by method and status code",
	                                 "service,method,code"),
	               labels, 1);
	us_metrics_observe(us_metrics_family(US_METRIC_HISTOGRAM, "usher_rpc_request_duration_seconds",
	                                     "time from receiving an RPC request to its reply",
	                                     "service,method"),
	                   labels, seconds);
}

static us_log_level level_for(us_err code)
{
	switch (code) {
	case US_OK: return US_LOG_DEBUG;
	case US_EINTERNAL:
	case US_EUNKNOWN:
	case US_EDATALOSS: return US_LOG_ERROR;
	case US_EUNAVAILABLE:
	case US_EDEADLINE:
	case US_EEXHAUSTED: return US_LOG_WARN;
	default: return US_LOG_INFO;
	}
}

/* Handles one received request; returns the reply to send (NULL: out of memory). */
/* *wrote: the request was one that may have committed events or outbox rows (see
 * us_wake_committed(), announced once its reply is on its way). */
static nng_msg *handle_message(worker *w, const uint8_t *in, size_t in_len, int64_t received_ms,
                               bool *wrote)
{
	*wrote = false;
	us_rpc_server *srv = w->srv;
	us_call call = {.srv = srv, .w = w};
	us_status_init(&call.status);
	call.arena = us_arena_new();
	if (call.arena == NULL)
		return NULL;

	static const Usher__V1__RpcRequest empty_request = USHER__V1__RPC_REQUEST__INIT;
	us_auth_result auth;
	us_auth_request(srv->opts.auth, w->db, in, in_len, call.arena, &auth);
	Usher__V1__RpcRequest *req = auth.request;
	call.caller = auth.caller;
	const uint8_t *payload = NULL;
	size_t payload_len = 0;
	char generated_id[33];

	call.req = req != NULL ? req : &empty_request;
	call.request_id = call.req->request_id;
	if (call.request_id[0] == '\0') {
		uint8_t raw[16];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(generated_id, sizeof(generated_id), raw, sizeof(raw));
		call.request_id = generated_id;
	}
	us_log_set_request(call.request_id, req != NULL ? req->method : NULL);
	us_log_set_trace(call.req->traceparent);
	us_db_round_trips_reset();
	uint32_t timeout = call.req->timeout_ms ? call.req->timeout_ms : srv->opts.default_timeout_ms;
	call.deadline_ms = received_ms + timeout;

	if (req == NULL) {
		us_call_error(&call, auth.code, "%s", auth.message);
		snprintf(call.status.reason, sizeof(call.status.reason), "%s",
		         auth.reason != NULL ? auth.reason : "");
		if (auth.code == US_EUNAUTHENTICATED)
			us_log_fields(US_LOG_WARN, "request refused: caller not authenticated", "reason",
			              auth.reason, "key", auth.caller.fingerprint, NULL);
	} else if (field_too_long(req->method) || field_too_long(req->request_id) ||
	           field_too_long(req->caller) || field_too_long(req->traceparent) ||
	           strlen(req->idempotency_key) > US_IDEMPOTENCY_KEY_MAX ||
	           (req->actor != NULL && (field_too_long(req->actor->user_id) ||
	                                   field_too_long(req->actor->account_id)))) {
		us_call_error(&call, US_EINVAL, "request envelope field too long");
	} else if (us_monotonic_ms() >= call.deadline_ms) {
		us_call_error(&call, US_EDEADLINE, "deadline exceeded before the request was handled");
	} else {
		dispatch_request(&call, req, &payload, &payload_len);
		us_fault_point_method(req->method, "before_reply");
		*wrote = call.method != NULL && !(call.method_flags & (US_RPC_READ_ONLY | OPEN_METHOD));
	}

	int64_t took = us_monotonic_ms() - received_ms;
	count_request(&call, (double)took / 1000.0);
	char took_text[24], trips_text[24];
	snprintf(took_text, sizeof(took_text), "%lld", (long long)took);
	snprintf(trips_text, sizeof(trips_text), "%lu", us_db_round_trips());
	/* Every request at info at least (the daemon's access log), but the readiness
	 * probes' health checks, which come twice a second from each peer. */
	us_log_level level = level_for(call.status.code);
	if (level == US_LOG_DEBUG && strcmp(call.req->method, "usher.v1.Health/Check") != 0)
		level = US_LOG_INFO;
	us_log_fields(level, "request handled", "code",
	              us_err_name(call.status.code), "ms", took_text, "db_round_trips", trips_text,
	              "caller", call.caller.id != NULL ? call.caller.id : "", "auth",
	              req == NULL ? "" : call.caller.by_mac ? "mac" : "signature", NULL);

	nng_msg *out = pack_reply(&call, payload, payload_len);
	us_log_set_request(NULL, NULL);
	us_log_set_trace(NULL);
	us_status_clear(&call.status);
	us_arena_free(call.arena);
	return out;
}

/* --- threads --- */

static void post_receive_locked(slot *s)
{
	if (!s->srv->draining)
		nng_ctx_recv(s->ctx, s->aio);
}

/* Runs on NNG's callback thread: only queue the message, never work here. */
static void slot_received(void *arg)
{
	slot *s = arg;
	us_rpc_server *srv = s->srv;
	int rv = nng_aio_result(s->aio);
	pthread_mutex_lock(&srv->mu);
	if (rv == 0) {
		s->msg = nng_aio_get_msg(s->aio);
		s->received_ms = us_monotonic_ms();
		gauge_add(srv, "usher_rpc_in_flight", "RPC requests received and not yet answered", 1);
		s->next = NULL;
		if (srv->tail != NULL)
			srv->tail->next = s;
		else
			srv->head = s;
		srv->tail = s;
		pthread_cond_signal(&srv->cv);
	} else if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
		post_receive_locked(s);
	}
	pthread_mutex_unlock(&srv->mu);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	us_rpc_server *srv = w->srv;
	for (;;) {
		pthread_mutex_lock(&srv->mu);
		while (srv->head == NULL && !srv->receives_stopped)
			pthread_cond_wait(&srv->cv, &srv->mu);
		slot *s = srv->head;
		if (s == NULL) {
			pthread_mutex_unlock(&srv->mu);
			break;
		}
		srv->head = s->next;
		if (srv->head == NULL)
			srv->tail = NULL;
		pthread_mutex_unlock(&srv->mu);

		gauge_add(srv, "usher_rpc_workers_busy", "RPC workers handling a request", 1);
		bool wrote;
		nng_msg *reply = handle_message(w, nng_msg_body(s->msg), nng_msg_len(s->msg),
		                                s->received_ms, &wrote);
		gauge_add(srv, "usher_rpc_workers_busy", "RPC workers handling a request", -1);
		nng_msg_free(s->msg);
		s->msg = NULL;
		if (reply != NULL) {
			nng_aio_set_msg(w->send_aio, reply);
			nng_ctx_send(s->ctx, w->send_aio);
			nng_aio_wait(w->send_aio);
			if (nng_aio_result(w->send_aio) != 0)
				nng_msg_free(reply);
		}
		/* Its events and outbox rows are committed: the relays take them now, the reply
		 * gone first (waking them costs the caller nothing). */
		if (wrote)
			us_wake_committed();
		gauge_add(srv, "usher_rpc_in_flight", "RPC requests received and not yet answered", -1);

		pthread_mutex_lock(&srv->mu);
		post_receive_locked(s);
		pthread_mutex_unlock(&srv->mu);
	}
	return NULL;
}

const char *us_rpc_server_url(const us_rpc_server *srv)
{
	return srv->bound_url;
}

void us_rpc_server_set_serving(us_rpc_server *srv, bool serving)
{
	atomic_store(&srv->serving, serving);
}

static void server_free(us_rpc_server *srv)
{
	for (int i = 0; i < srv->n_slots; i++) {
		if (srv->slots[i].aio != NULL) {
			nng_aio_stop(srv->slots[i].aio);
			nng_ctx_close(srv->slots[i].ctx);
			nng_aio_free(srv->slots[i].aio);
		}
	}
	if (srv->sock_open && !us_socket_close_within(srv->sock, CLOSE_WITHIN_MS))
		us_warn("RPC server socket left closing: nng did not finish within %u ms",
		        CLOSE_WITHIN_MS);
	for (int i = 0; i < srv->n_workers; i++) {
		nng_aio_free(srv->workers[i].send_aio);
		if (srv->workers[i].db != NULL)
			PQfinish(srv->workers[i].db);
	}
	free(srv->slots);
	free(srv->workers);
	unbind_services(srv);
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->cv);
	free(srv);
}

/* The address a listener is bound to: a tcp:// port 0 becomes the port the kernel chose. */
static void describe_listener(nng_listener l, const char *url, char *out, size_t size)
{
	nng_sockaddr sa;
	char host[INET6_ADDRSTRLEN];
	snprintf(out, size, "%s", url);
	if (nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET &&
	    inet_ntop(AF_INET, &sa.s_in.sa_addr, host, sizeof(host)) != NULL)
		snprintf(out, size, "tcp://%s:%u", host, ntohs(sa.s_in.sa_port));
	else if (sa.s_family == NNG_AF_INET6 &&
	         inet_ntop(AF_INET6, sa.s_in6.sa_addr, host, sizeof(host)) != NULL)
		snprintf(out, size, "tcp://[%s]:%u", host, ntohs(sa.s_in6.sa_port));
}

static us_err open_socket(us_rpc_server *srv, char *err, size_t err_size)
{
	int rv = nng_rep0_open(&srv->sock);
	if (rv != 0) {
		snprintf(err, err_size, "could not open socket: %s", nng_strerror(rv));
		return US_EINTERNAL;
	}
	srv->sock_open = true;
	const char *refused = us_transport_check(srv->opts.listen_url);
	if (refused != NULL) {
		snprintf(err, err_size, "will not listen on \"%s\": %s", srv->opts.listen_url, refused);
		return US_EINVAL;
	}
	nng_listener listener;
	rv = nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, srv->opts.max_message_bytes);
	if (rv == 0)
		rv = nng_listen(srv->sock, srv->opts.listen_url, &listener, 0);
	if (rv != 0) {
		snprintf(err, err_size, "could not listen on \"%s\": %s", srv->opts.listen_url,
		         nng_strerror(rv));
		return US_EUNAVAILABLE;
	}
	describe_listener(listener, srv->opts.listen_url, srv->bound_url, sizeof(srv->bound_url));
	return US_OK;
}

static us_err prepare_workers(us_rpc_server *srv, char *err, size_t err_size)
{
	bool socketless = srv->opts.listen_url == NULL;
	srv->n_workers = srv->opts.workers > 0 && !socketless ? srv->opts.workers : 1;
	srv->workers = calloc((size_t)srv->n_workers, sizeof(worker));
	srv->n_slots = socketless ? 0 : srv->n_workers * SLOTS_PER_WORKER;
	srv->slots = calloc((size_t)srv->n_slots, sizeof(slot));
	if (srv->workers == NULL || (srv->slots == NULL && srv->n_slots > 0)) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	for (int i = 0; i < srv->n_workers; i++) {
		worker *w = &srv->workers[i];
		w->srv = srv;
		if (nng_aio_alloc(&w->send_aio, NULL, NULL) != 0) {
			snprintf(err, err_size, "out of memory");
			return US_EEXHAUSTED;
		}
		if (srv->opts.database_url != NULL) {
			us_err rc = us_db_connect(srv->opts.database_url, srv->opts.schema, &w->db, err,
			                          err_size);
			if (rc != US_OK)
				return rc;
		}
	}
	for (int i = 0; i < srv->n_slots; i++) {
		slot *s = &srv->slots[i];
		s->srv = srv;
		int rv = nng_ctx_open(&s->ctx, srv->sock);
		if (rv == 0)
			rv = nng_aio_alloc(&s->aio, slot_received, s);
		if (rv != 0) {
			snprintf(err, err_size, "could not open context: %s", nng_strerror(rv));
			return US_EINTERNAL;
		}
	}
	return US_OK;
}

us_err us_rpc_server_start(const us_rpc_server_opts *opts, const us_rpc_service *services,
                           size_t n_services, us_rpc_server **out, char *err, size_t err_size)
{
	us_rpc_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	if (opts->auth == NULL) {
		free(srv);
		snprintf(err, err_size, "no caller policy: every request must be authenticated");
		return US_EINVAL;
	}
	srv->opts = *opts;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	atomic_init(&srv->serving, true);

	us_err rc = US_OK;
	srv->services = calloc(n_services + 2, sizeof(bound_service));
	if (srv->services == NULL) {
		snprintf(err, err_size, "out of memory");
		rc = US_EEXHAUSTED;
		goto fail;
	}
	const us_rpc_service health = {&usher__v1__health__descriptor, health_methods, 1, NULL};
	bool has_db = opts->database_url != NULL;
	rc = bind_service(&srv->services[srv->n_services++], &health, has_db, err, err_size);
	srv->admin = (us_admin_ctx){opts->schema, opts->migrations};
	const us_rpc_service admin = us_admin_service(&srv->admin);
	if (rc == US_OK && has_db)
		rc = bind_service(&srv->services[srv->n_services++], &admin, has_db, err, err_size);
	for (size_t i = 0; i < n_services && rc == US_OK; i++)
		rc = bind_service(&srv->services[srv->n_services++], &services[i], has_db, err, err_size);
	if (rc == US_OK)
		rc = bind_secrets(srv, err, err_size);
	if (rc == US_OK && opts->listen_url != NULL)
		rc = open_socket(srv, err, err_size);
	if (rc == US_OK)
		rc = prepare_workers(srv, err, err_size);
	if (rc != US_OK)
		goto fail;
	if (opts->listen_url == NULL) {
		*out = srv; /* requests come through us_rpc_server_handle() */
		return US_OK;
	}

	for (int i = 0; i < srv->n_workers; i++) {
		if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
			snprintf(err, err_size, "could not start worker thread");
			rc = US_EEXHAUSTED;
			goto fail_running;
		}
		srv->workers[i].started = true;
	}
	const char *labels[] = {service_label(srv)};
	us_metrics_set(us_metrics_family(US_METRIC_GAUGE, "usher_rpc_workers", "RPC worker threads",
	                                 "service"),
	               labels, srv->n_workers);
	gauge_add(srv, "usher_rpc_workers_busy", "RPC workers handling a request", 0);
	gauge_add(srv, "usher_rpc_in_flight", "RPC requests received and not yet answered", 0);
	pthread_mutex_lock(&srv->mu);
	for (int i = 0; i < srv->n_slots; i++)
		post_receive_locked(&srv->slots[i]);
	pthread_mutex_unlock(&srv->mu);
	*out = srv;
	return US_OK;

fail_running:
	us_rpc_server_stop(srv);
	return rc;
fail:
	server_free(srv);
	return rc;
}

us_err us_rpc_server_handle(us_rpc_server *srv, const uint8_t *request, size_t len,
                            us_arena *arena, uint8_t **reply, size_t *reply_len)
{
	bool wrote;
	nng_msg *msg = handle_message(&srv->workers[0], request, len, us_monotonic_ms(), &wrote);
	if (wrote)
		us_wake_committed();
	uint8_t *copy = msg != NULL ? us_arena_alloc(arena, nng_msg_len(msg) + 1) : NULL;
	if (copy == NULL) {
		nng_msg_free(msg);
		return US_EEXHAUSTED;
	}
	memcpy(copy, nng_msg_body(msg), nng_msg_len(msg));
	*reply = copy;
	*reply_len = nng_msg_len(msg);
	nng_msg_free(msg);
	return US_OK;
}

void us_rpc_server_stop(us_rpc_server *srv)
{
	if (srv == NULL)
		return;
	atomic_store(&srv->serving, false);
	pthread_mutex_lock(&srv->mu);
	srv->draining = true;
	pthread_mutex_unlock(&srv->mu);

	/* Cancel the posted receives and wait for their callbacks: after this, every
	 * request taken off the socket is in the queue, and none arrives later. */
	for (int i = 0; i < srv->n_slots; i++)
		nng_aio_stop(srv->slots[i].aio);

	pthread_mutex_lock(&srv->mu);
	srv->receives_stopped = true;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);

	for (int i = 0; i < srv->n_workers; i++) {
		if (srv->workers[i].started)
			pthread_join(srv->workers[i].thread, NULL);
	}
	server_free(srv);
}
