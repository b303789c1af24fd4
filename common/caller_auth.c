#include "common/caller_auth.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/replay_cache.h"
#include "usher/v1/tenancy.pb-c.h"

#define NONCE_BYTES 16
#define PRINCIPAL_SLOTS 1024
#define MAC_KEY_SLOTS 1024

/* One cached answer about a key that is not in the policy. */
typedef struct principal_slot {
	bool used;
	uint8_t public_key[US_PUBLIC_KEY_BYTES];
	int64_t until_ms;  /* monotonic */
	bool found;
	us_arena *arena;   /* holds p */
	us_principal *p;
} principal_slot;

/* The MAC key agreed with one caller (a secret: wiped when replaced). */
typedef struct mac_key_slot {
	bool used;
	uint8_t public_key[US_PUBLIC_KEY_BYTES];
	uint8_t key[US_MAC_KEY_BYTES];
} mac_key_slot;

struct us_auth {
	pthread_rwlock_t lock; /* guards callers */
	us_callers *callers;
	char *callers_file;
	int64_t window_ms;
	us_replay_cache *replay;
	us_principal_lookup *lookup;
	void *lookup_ctx;
	int64_t principal_ttl_ms;
	pthread_mutex_t cache_mu;
	principal_slot *slots;
	bool has_server_key;
	us_caller_key server_key;
	pthread_mutex_t mac_mu;
	mac_key_slot *mac_slots; /* of identified callers only: strangers evict nobody */
};

us_err us_auth_new(const us_auth_opts *opts, us_auth **out, char *err, size_t err_size)
{
	us_auth *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	a->window_ms = opts->window_ms;
	a->lookup = opts->lookup;
	a->lookup_ctx = opts->lookup_ctx;
	a->principal_ttl_ms = opts->principal_ttl_ms;
	pthread_rwlock_init(&a->lock, NULL);
	pthread_mutex_init(&a->cache_mu, NULL);
	pthread_mutex_init(&a->mac_mu, NULL);
	if (opts->server_key != NULL) {
		a->has_server_key = true;
		a->server_key = *opts->server_key;
	}
	a->callers_file = strdup(opts->callers_file);
	a->slots = calloc(PRINCIPAL_SLOTS, sizeof(principal_slot));
	a->mac_slots = calloc(MAC_KEY_SLOTS, sizeof(mac_key_slot));
	us_err rc = a->callers_file != NULL && a->slots != NULL && a->mac_slots != NULL
	                    ? US_OK
	                    : US_EEXHAUSTED;
	if (rc == US_OK)
		rc = us_replay_cache_new(opts->window_ms, opts->replay_max, &a->replay);
	if (rc != US_OK)
		snprintf(err, err_size, "out of memory");
	else
		rc = us_callers_load(a->callers_file, &a->callers, err, err_size);
	if (rc != US_OK) {
		us_auth_free(a);
		return rc;
	}
	*out = a;
	return US_OK;
}

static void forget_principals(us_auth *a)
{
	pthread_mutex_lock(&a->cache_mu);
	for (size_t i = 0; i < PRINCIPAL_SLOTS; i++) {
		us_arena_free(a->slots[i].arena);
		memset(&a->slots[i], 0, sizeof(a->slots[i]));
	}
	pthread_mutex_unlock(&a->cache_mu);
}

void us_auth_free(us_auth *a)
{
	if (a == NULL)
		return;
	if (a->slots != NULL)
		forget_principals(a);
	free(a->slots);
	if (a->mac_slots != NULL)
		sodium_memzero(a->mac_slots, MAC_KEY_SLOTS * sizeof(mac_key_slot));
	free(a->mac_slots);
	us_caller_key_wipe(&a->server_key);
	pthread_mutex_destroy(&a->mac_mu);
	us_callers_free(a->callers);
	us_replay_cache_free(a->replay);
	free(a->callers_file);
	pthread_rwlock_destroy(&a->lock);
	pthread_mutex_destroy(&a->cache_mu);
	free(a);
}

const uint8_t *us_auth_server_key(const us_auth *a)
{
	return a->has_server_key ? a->server_key.public_key : NULL;
}

size_t us_auth_caller_count(us_auth *a)
{
	pthread_rwlock_rdlock(&a->lock);
	size_t n = us_callers_count(a->callers);
	pthread_rwlock_unlock(&a->lock);
	return n;
}

us_err us_auth_reload(us_auth *a, char *err, size_t err_size)
{
	us_callers *fresh;
	us_err rc = us_callers_load(a->callers_file, &fresh, err, err_size);
	if (rc != US_OK)
		return rc;
	pthread_rwlock_wrlock(&a->lock);
	us_callers *old = a->callers;
	a->callers = fresh;
	pthread_rwlock_unlock(&a->lock);
	us_callers_free(old);
	forget_principals(a);
	/* And the MAC keys of callers the new policy may no longer list (rederived once). */
	pthread_mutex_lock(&a->mac_mu);
	sodium_memzero(a->mac_slots, MAC_KEY_SLOTS * sizeof(mac_key_slot));
	pthread_mutex_unlock(&a->mac_mu);
	return US_OK;
}

/* --- principals --- */

static char **copy_strings(us_arena *arena, char *const *from, size_t n)
{
	char **to = US_ARENA_ARRAY(arena, char *, n ? n : 1);
	for (size_t i = 0; to != NULL && i < n; i++) {
		if ((to[i] = us_arena_strdup(arena, from[i])) == NULL)
			return NULL;
	}
	return to;
}

us_principal *us_principal_copy(us_arena *arena, const us_principal *p)
{
	us_principal *c = US_ARENA_NEW(arena, us_principal);
	if (c == NULL)
		return NULL;
	*c = *p;
	c->id = us_arena_strdup(arena, p->id);
	c->name = us_arena_strdup(arena, p->name);
	c->account_ids = copy_strings(arena, p->account_ids, p->n_account_ids);
	c->methods = copy_strings(arena, p->methods, p->n_methods);
	if (c->id == NULL || c->name == NULL || c->account_ids == NULL || c->methods == NULL)
		return NULL;
	return c;
}

bool us_principal_covers(const us_principal *p, const char *account_id)
{
	if (p->all_accounts)
		return true;
	for (size_t i = 0; i < p->n_account_ids; i++) {
		if (strcmp(p->account_ids[i], account_id) == 0)
			return true;
	}
	return false;
}

static principal_slot *slot_of(us_auth *a, const uint8_t public_key[US_PUBLIC_KEY_BYTES])
{
	uint32_t h;
	memcpy(&h, public_key, sizeof(h)); /* a public key is uniformly random enough */
	return &a->slots[h % PRINCIPAL_SLOTS];
}

/* The principal holding public_key, from the cache or the lookup. */
static us_err find_principal(us_auth *a, PGconn *db, const uint8_t public_key[US_PUBLIC_KEY_BYTES],
                             us_arena *arena, us_principal **out)
{
	int64_t now = us_monotonic_ms();
	pthread_mutex_lock(&a->cache_mu);
	principal_slot *s = slot_of(a, public_key);
	if (s->used && s->until_ms > now &&
	    memcmp(s->public_key, public_key, US_PUBLIC_KEY_BYTES) == 0) {
		us_err rc = US_ENOTFOUND;
		if (s->found)
			rc = (*out = us_principal_copy(arena, s->p)) != NULL ? US_OK : US_EEXHAUSTED;
		pthread_mutex_unlock(&a->cache_mu);
		return rc;
	}
	pthread_mutex_unlock(&a->cache_mu);

	us_principal *p = NULL;
	us_err rc = a->lookup(a->lookup_ctx, db, public_key, arena, &p);
	if (rc != US_OK && rc != US_ENOTFOUND)
		return rc; /* not known either way: nothing to cache */

	/* The answer, either way, is kept for the TTL (a copy in an arena of its own). */
	us_arena *keep = rc == US_OK ? us_arena_new() : NULL;
	us_principal *kept = keep != NULL ? us_principal_copy(keep, p) : NULL;
	if (rc == US_ENOTFOUND || kept != NULL) {
		pthread_mutex_lock(&a->cache_mu);
		s = slot_of(a, public_key);
		us_arena_free(s->arena);
		*s = (principal_slot){true, {0}, us_monotonic_ms() + a->principal_ttl_ms, rc == US_OK,
		                      keep, kept};
		memcpy(s->public_key, public_key, US_PUBLIC_KEY_BYTES);
		pthread_mutex_unlock(&a->cache_mu);
	} else {
		us_arena_free(keep);
	}
	if (rc == US_OK)
		*out = p;
	return rc;
}

/* --- authentication --- */

/* Records why a request is refused; returns false for `return refuse(...)`. */
static bool refuse(us_auth_result *out, us_err code, const char *reason, const char *message)
{
	out->code = code;
	out->reason = reason;
	out->message = message;
	return false;
}

/* Step 3: the caller holding public_key. */
static us_err identify(us_auth *a, PGconn *db, const uint8_t public_key[US_PUBLIC_KEY_BYTES],
                       us_arena *arena, us_caller *c)
{
	us_err rc = US_ENOTFOUND;
	pthread_rwlock_rdlock(&a->lock);
	const us_caller_entry *e = us_callers_find(a->callers, public_key);
	if (e != NULL) {
		c->kind = US_CALLER_PEER;
		c->name = us_arena_strdup(arena, e->name);
		c->id = us_arena_printf(arena, "peer:%s", e->name);
		c->rights = e->rights;
		c->n_methods = e->n_methods;
		c->methods = copy_strings(arena, e->methods, e->n_methods);
		rc = c->name != NULL && c->id != NULL && c->methods != NULL ? US_OK : US_EEXHAUSTED;
	}
	pthread_rwlock_unlock(&a->lock);
	if (e != NULL || a->lookup == NULL)
		return rc;

	us_principal *p;
	rc = find_principal(a, db, public_key, arena, &p);
	if (rc != US_OK)
		return rc;
	if (p->key_expires_at_ms != 0 && us_wall_ms() >= p->key_expires_at_ms)
		return US_ENOTFOUND;
	c->kind = US_CALLER_PRINCIPAL;
	c->name = p->name;
	c->id = us_arena_printf(arena, "principal:%s", p->id);
	c->principal = p;
	return c->id != NULL ? US_OK : US_EEXHAUSTED;
}

/* --- MACs --- */

static mac_key_slot *mac_slot_of(us_auth *a, const uint8_t public_key[US_PUBLIC_KEY_BYTES])
{
	uint32_t h;
	memcpy(&h, public_key, sizeof(h));
	return &a->mac_slots[h % MAC_KEY_SLOTS];
}

/* The key agreed with the caller holding public_key: cached (*cached true), or derived
 * (~50 µs). Returns 0, or -1 when public_key is no valid point. */
static int mac_key_of(us_auth *a, const uint8_t public_key[US_PUBLIC_KEY_BYTES],
                      uint8_t key[US_MAC_KEY_BYTES], bool *cached)
{
	pthread_mutex_lock(&a->mac_mu);
	mac_key_slot *s = mac_slot_of(a, public_key);
	*cached = s->used && memcmp(s->public_key, public_key, US_PUBLIC_KEY_BYTES) == 0;
	if (*cached)
		memcpy(key, s->key, US_MAC_KEY_BYTES);
	pthread_mutex_unlock(&a->mac_mu);
	if (*cached)
		return 0;
	return us_mac_key_for_caller(&a->server_key, public_key, key);
}

static void remember_mac_key(us_auth *a, const uint8_t public_key[US_PUBLIC_KEY_BYTES],
                             const uint8_t key[US_MAC_KEY_BYTES])
{
	pthread_mutex_lock(&a->mac_mu);
	mac_key_slot *s = mac_slot_of(a, public_key);
	s->used = true;
	memcpy(s->public_key, public_key, US_PUBLIC_KEY_BYTES);
	memcpy(s->key, key, US_MAC_KEY_BYTES);
	pthread_mutex_unlock(&a->mac_mu);
}

/* Step 1 for a MAC'd request: the MAC for this server's key, checked with key (which
 * *derived says was derived for this request, to be kept once the caller is known). */
static bool check_mac(us_auth *a, const Usher__V1__SignedRequest *sr, uint8_t key[US_MAC_KEY_BYTES],
                      bool *derived, us_auth_result *out)
{
	const uint8_t *mine = NULL;
	if (sr->n_macs > US_REQUEST_MACS_MAX || sr->signature.len != 0)
		return refuse(out, US_EUNAUTHENTICATED, "BAD_MAC", "malformed MAC");
	for (size_t i = 0; i < sr->n_macs; i++) {
		const Usher__V1__RequestMac *m = sr->macs[i];
		if (m->server_key.len != US_PUBLIC_KEY_BYTES || m->mac.len != US_MAC_BYTES)
			return refuse(out, US_EUNAUTHENTICATED, "BAD_MAC", "malformed MAC");
		if (a->has_server_key &&
		    memcmp(m->server_key.data, a->server_key.public_key, US_PUBLIC_KEY_BYTES) == 0)
			mine = m->mac.data;
	}
	if (mine == NULL)
		return refuse(out, US_EUNAUTHENTICATED, "OTHER_SERVER_KEY",
		              a->has_server_key ? "the request is MAC'd for another server's key: sign it"
		                                : "this server takes signed requests only");
	bool cached;
	if (mac_key_of(a, sr->public_key.data, key, &cached) != 0)
		return refuse(out, US_EUNAUTHENTICATED, "BAD_MAC", "the caller's key is not a valid key");
	*derived = !cached;
	if (!us_request_mac_verify(key, sr->request.data, sr->request.len, mine))
		return refuse(out, US_EUNAUTHENTICATED, "BAD_MAC", "bad MAC");
	return true;
}

/* Steps 1 to 4; false when refused. */
static bool authenticate(us_auth *a, PGconn *db, const uint8_t *frame, size_t len,
                         us_arena *arena, us_auth_result *out, uint8_t mac_key[US_MAC_KEY_BYTES])
{
	ProtobufCAllocator alloc = us_arena_protobuf_allocator(arena);
	Usher__V1__SignedRequest *signed_req = usher__v1__signed_request__unpack(&alloc, len, frame);
	if (signed_req == NULL)
		return refuse(out, US_EINVAL, NULL, "malformed request envelope");
	const ProtobufCBinaryData *pk = &signed_req->public_key, *sig = &signed_req->signature;
	bool by_mac = signed_req->n_macs > 0;
	if (pk->len == 0 && sig->len == 0 && !by_mac)
		return refuse(out, US_EUNAUTHENTICATED, "UNSIGNED", "the request is not signed");
	if (pk->len != US_PUBLIC_KEY_BYTES)
		return refuse(out, US_EUNAUTHENTICATED, by_mac ? "BAD_MAC" : "BAD_SIGNATURE",
		              "malformed caller key");
	us_public_key_fingerprint(pk->data, out->caller.fingerprint);
	bool derived = false;
	if (by_mac) {
		if (!check_mac(a, signed_req, mac_key, &derived, out))
			return false;
	} else if (sig->len != US_SIGNATURE_BYTES) {
		return refuse(out, US_EUNAUTHENTICATED, "BAD_SIGNATURE", "malformed signature");
	} else if (!us_caller_key_verify(pk->data, signed_req->request.data, signed_req->request.len,
	                                 sig->data)) {
		return refuse(out, US_EUNAUTHENTICATED, "BAD_SIGNATURE", "bad signature");
	}
	out->caller.by_mac = by_mac;

	Usher__V1__RpcRequest *req = usher__v1__rpc_request__unpack(&alloc, signed_req->request.len,
	                                                            signed_req->request.data);
	if (req == NULL)
		return refuse(out, US_EINVAL, NULL, "malformed request envelope");
	/* Compared with now +- the window, never subtracted: issued_at_ms is any int64. */
	int64_t now = us_wall_ms();
	if (req->issued_at_ms > now + a->window_ms || req->issued_at_ms < now - a->window_ms)
		return refuse(out, US_EUNAUTHENTICATED, "CLOCK_SKEW",
		              "the request's issue time is too far from the server's clock");
	if (req->nonce.len != NONCE_BYTES)
		return refuse(out, US_EUNAUTHENTICATED, "BAD_NONCE", "the request has no valid nonce");

	us_err rc = identify(a, db, pk->data, arena, &out->caller);
	if (rc == US_OK && derived)
		remember_mac_key(a, pk->data, mac_key);
	if (rc == US_ENOTFOUND)
		return refuse(out, US_EUNAUTHENTICATED, "UNKNOWN_KEY", "unknown caller key");
	if (rc != US_OK)
		return refuse(out, rc == US_EEXHAUSTED ? rc : US_EUNAVAILABLE, NULL,
		              "could not check the caller's key; try again");

	/* The id covers the key: one caller's nonce never blocks another's. */
	uint8_t id[US_REPLAY_ID_BYTES];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(id));
	crypto_generichash_update(&st, pk->data, pk->len);
	crypto_generichash_update(&st, req->nonce.data, req->nonce.len);
	crypto_generichash_final(&st, id, sizeof(id));
	switch (us_replay_cache_check(a->replay, id, req->issued_at_ms)) {
	case US_REPLAY_NEW:
		break;
	case US_REPLAY_SEEN:
		return refuse(out, US_EUNAUTHENTICATED, "REPLAYED",
		              "this request was already received (a replay, or a resend: sign it anew)");
	case US_REPLAY_FULL:
		return refuse(out, US_EEXHAUSTED, NULL, "too many requests at once; try again");
	}
	out->request = req;
	return true;
}

void us_auth_request(us_auth *a, PGconn *db, const uint8_t *frame, size_t len, us_arena *arena,
                     us_auth_result *out)
{
	memset(out, 0, sizeof(*out));
	uint8_t mac_key[US_MAC_KEY_BYTES];
	authenticate(a, db, frame, len, arena, out, mac_key);
	sodium_memzero(mac_key, sizeof(mac_key));
}

/* --- authorization --- */

static us_err deny(char *why, size_t why_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static us_err deny(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_size, fmt, ap);
	va_end(ap);
	return US_EDENIED;
}

us_err us_auth_permit(const us_caller *c, const char *method, unsigned needs, bool names_actor,
                      char *why, size_t why_size)
{
	if (needs & US_AUTH_OPEN)
		return US_OK;
	if (c->kind == US_CALLER_PRINCIPAL) {
		const us_principal *p = c->principal;
		if (names_actor)
			return deny(why, why_size, "%s", "a service key acts as itself, never for a person");
		if (needs & (US_AUTH_NEEDS_SYSTEM | US_AUTH_NEEDS_PRINCIPALS))
			return deny(why, why_size, "%s is internal to Usher", method);
		if (p->n_methods == 0 || !us_methods_allow(p->methods, p->n_methods, method))
			return deny(why, why_size, "this key may not call %s", method);
		return US_OK;
	}
	if (!us_methods_allow(c->methods, c->n_methods, method))
		return deny(why, why_size, "this caller may not call %s", method);
	if (names_actor && !(c->rights & US_RIGHT_ACTOR))
		return deny(why, why_size, "%s", "this caller may not act for a person");
	if ((needs & US_AUTH_NEEDS_SYSTEM) && !(c->rights & US_RIGHT_SYSTEM))
		return deny(why, why_size, "%s is internal to Usher", method);
	if ((needs & US_AUTH_NEEDS_PRINCIPALS) && !(c->rights & US_RIGHT_PRINCIPALS))
		return deny(why, why_size, "%s", "managing service principals needs an operator's key");
	return US_OK;
}

static const ProtobufCFieldDescriptor *single_field(const ProtobufCMessage *m, const char *name,
                                                    ProtobufCType type)
{
	const ProtobufCFieldDescriptor *f =
	        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
	if (f == NULL || f->type != type || f->label == PROTOBUF_C_LABEL_REPEATED)
		return NULL;
	return f;
}

us_err us_auth_permit_input(const us_caller *c, const ProtobufCMessage *input, bool mutating,
                            char *why, size_t why_size)
{
	if (c->kind != US_CALLER_PRINCIPAL)
		return US_OK;
	const us_principal *p = c->principal;
	if (!p->all_accounts) {
		const ProtobufCFieldDescriptor *f = single_field(input, "account_id",
		                                                 PROTOBUF_C_TYPE_STRING);
		const char *account = f != NULL ? *(char *const *)((const char *)input + f->offset) : NULL;
		if (account == NULL || account[0] == '\0')
			return deny(why, why_size, "%s",
			            "this key may act only in its accounts, and the request names none");
		if (!us_principal_covers(p, account))
			return deny(why, why_size, "%s", "this key may not act in this account");
	}
	const ProtobufCFieldDescriptor *role = single_field(input, "role", PROTOBUF_C_TYPE_ENUM);
	if (mutating && role != NULL && role->descriptor == &usher__v1__role__descriptor) {
		int value = *(const int *)((const char *)input + role->offset);
		if (value > p->max_role) {
			static const char *const names[] = {"nobody", "member", "moderator", "admin", "owner"};
			bool known = p->max_role >= 0 && p->max_role <= 4;
			return deny(why, why_size, "this key may invite or grant at most %s",
			            known ? names[p->max_role] : "nobody");
		}
	}
	return US_OK;
}
