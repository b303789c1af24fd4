#include "login.h"

#include <arpa/inet.h>
#include <string.h>

#include <sodium.h>

#include "context.h"
#include "input.h"
#include "common/log.h"
#include "password.h"
#include "store.h"
#include "common/token.h"
#include "usher/v1/identity.pb-c.h"
#include "common/validate.h"

#define ADDRESS_MAX 45 /* INET6_ADDRSTRLEN less its NUL */
#define IPV6_PREFIX_BYTES 8

/* What failures are counted under: a keyed hash, so the table holds no addresses, and
 * the kind goes in first so an email and an address can never share a counter. */
static void subject(const identity_ctx *ctx, const char *kind, const void *value, size_t len,
                    uint8_t out[IDENTITY_SUBJECT_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, ctx->token_key, sizeof(ctx->token_key), IDENTITY_SUBJECT_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
	crypto_generichash_update(&st, value, len);
	crypto_generichash_final(&st, out, IDENTITY_SUBJECT_BYTES);
}

/* The client's network as counted: its IPv4 address, or the /64 its IPv6 address is in
 * (one subscriber commonly holds a whole /64, and any spelling of it counts alike).
 * False when text is not an address. */
static bool client_network(const char *text, const char **kind, uint8_t net[16], size_t *len)
{
	if (strlen(text) > ADDRESS_MAX)
		return false;
	if (inet_pton(AF_INET, text, net) == 1) {
		*kind = "ipv4";
		*len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, text, net) == 1) {
		*kind = "ipv6/64";
		*len = IPV6_PREFIX_BYTES;
		return true;
	}
	return false;
}

typedef struct attempt {
	const char *email; /* normalised */
	uint8_t pair[IDENTITY_SUBJECT_BYTES];
	uint8_t email_subject[IDENTITY_SUBJECT_BYTES];
	uint8_t network[IDENTITY_SUBJECT_BYTES];
	identity_throttle_subjects subjects;
} attempt;

/* How long a subject with failures past limit must still wait: the backoff doubles with
 * each failure beyond the limit, up to the maximum, from the last failure. */
static int64_t backoff_left_ms(const identity_settings *s, const identity_throttle_count *c,
                               int64_t limit)
{
	if (c->failures < limit)
		return 0;
	int64_t max_ms = s->login_backoff_max_s * 1000;
	int64_t shift = c->failures - limit;
	int64_t backoff = shift >= 40 ? max_ms : s->login_backoff_base_ms << shift;
	if (backoff > max_ms)
		backoff = max_ms;
	return backoff > c->since_failure_ms ? backoff - c->since_failure_ms : 0;
}

/* Milliseconds this attempt must wait (0: go ahead). The email and network together are
 * what an attacker elsewhere cannot touch; the network alone stops one client spraying
 * many emails; the email alone stops many networks guessing one, except from a network
 * that signed in to it before, so a crowd of strangers cannot lock its owner out. */
static us_err throttled(us_call *call, const identity_ctx *ctx, const attempt *at, int64_t *wait)
{
	const identity_settings *s = &ctx->settings;
	identity_throttle_count c[3];
	us_err rc = identity_store_throttle_read(us_call_db(call), &at->subjects,
	                                         s->login_failure_window_s,
	                                         s->login_known_network_days, c);
	if (rc != US_OK)
		return rc;
	int64_t waits[3] = {
		backoff_left_ms(s, &c[0], s->login_max_failures),
		c[0].known ? 0 : backoff_left_ms(s, &c[1], s->login_max_failures_per_email),
		at->subjects.network ? backoff_left_ms(s, &c[2], s->login_max_failures_per_address) : 0,
	};
	*wait = 0;
	for (int i = 0; i < 3; i++)
		*wait = waits[i] > *wait ? waits[i] : *wait;
	return US_OK;
}

static us_err refuse(us_call *call, const identity_ctx *ctx, const attempt *at)
{
	us_err rc = identity_store_throttle_fail(us_call_db(call), &at->subjects,
	                                         ctx->settings.login_failure_window_s,
	                                         ctx->settings.login_known_network_days);
	if (rc != US_OK)
		return rc;
	char shown[US_EMAIL_MAX + 8];
	us_redact_email(at->email, shown, sizeof(shown));
	us_log_fields(US_LOG_INFO, "login failed", "email", shown, NULL);
	return us_call_error(call, US_EUNAUTHENTICATED, "invalid email or password");
}

/* A new session for user; its token goes into the reply and nowhere else. */
static us_err open_session(us_call *call, const identity_ctx *ctx, const attempt *at,
                           Usher__V1__User *user, const char *hash, const char *rehash,
                           ProtobufCMessage **reply)
{
	us_arena *a = us_call_arena(call);
	Usher__V1__LoginReply *out = US_ARENA_NEW(a, Usher__V1__LoginReply);
	char *token = us_arena_alloc(a, US_TOKEN_TEXT_LEN + 1);
	if (out == NULL || token == NULL)
		return US_EEXHAUSTED;
	usher__v1__login_reply__init(out);
	us_token_new(token);
	uint8_t token_hash[US_TOKEN_HASH_BYTES];
	if (us_token_hash(token, ctx->token_key, token_hash) != US_OK)
		return US_EINTERNAL;
	identity_new_session s = {
		.user_id = user->id,
		.token_hash = token_hash,
		.ttl_hours = ctx->settings.session_ttl_hours,
		.pair_subject = at->pair,
		.old_hash = hash,
		.new_hash = rehash[0] != '\0' ? rehash : NULL,
	};
	char *session_id;
	us_err rc = identity_store_open_session(us_call_db(call), a, &s, &session_id, &out->expires_at);
	if (rc != US_OK)
		return rc;
	if (s.new_hash != NULL)
		us_log_fields(US_LOG_INFO, "password rehashed with the current parameters", "user_id",
		              user->id, NULL);
	us_log_fields(US_LOG_INFO, "logged in", "user_id", user->id, "session_id", session_id, NULL);
	out->session_token = token;
	out->user = user;
	*reply = &out->base;
	return US_OK;
}

/* Checks the request and works out what its failures count under. */
static us_err read_attempt(us_call *call, const identity_ctx *ctx,
                           const Usher__V1__LoginRequest *req, attempt *at)
{
	at->email = identity_email_arg(call, "email", req->email);
	identity_check_password(call, "password", req->password);
	bool has_address = req->client_address[0] != '\0';
	const char *kind = "none";
	uint8_t net[16];
	size_t net_len = 0;
	if (has_address && !client_network(req->client_address, &kind, net, &net_len))
		us_call_violation(call, "client_address", "must be an IPv4 or IPv6 address");
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	identity_email_subject(ctx, at->email, at->email_subject);
	/* The pair: the email, a NUL, then the network's kind and bytes. */
	uint8_t pair_value[US_EMAIL_MAX + 1 + 16 + 16];
	size_t email_len = strlen(at->email), kind_len = strlen(kind) + 1;
	memcpy(pair_value, at->email, email_len + 1);
	memcpy(pair_value + email_len + 1, kind, kind_len);
	memcpy(pair_value + email_len + 1 + kind_len, net, net_len);
	subject(ctx, "pair", pair_value, email_len + 1 + kind_len + net_len, at->pair);
	at->subjects.pair = at->pair;
	at->subjects.email = at->email_subject;
	if (has_address) {
		subject(ctx, kind, net, net_len, at->network);
		at->subjects.network = at->network;
	}
	return US_OK;
}

void identity_email_subject(const identity_ctx *ctx, const char *email,
                            uint8_t out[IDENTITY_SUBJECT_BYTES])
{
	subject(ctx, "email", email, strlen(email), out);
}

bool identity_network_subject(const identity_ctx *ctx, const char *address,
                              uint8_t out[IDENTITY_SUBJECT_BYTES])
{
	const char *kind;
	uint8_t net[16];
	size_t len;
	if (!client_network(address, &kind, net, &len))
		return false;
	subject(ctx, kind, net, len, out);
	return true;
}

us_err identity_login(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__LoginRequest *req = (const Usher__V1__LoginRequest *)request;
	const identity_ctx *ctx = us_call_service_ctx(call);
	attempt at = {0};
	us_err rc = read_attempt(call, ctx, req, &at);
	if (rc != US_OK)
		return rc;
	int64_t wait_ms = 0;
	rc = throttled(call, ctx, &at, &wait_ms);
	if (rc != US_OK)
		return rc;
	if (wait_ms > 0)
		return us_call_error(call, US_EEXHAUSTED,
		                     "too many failed logins; try again in %lld seconds",
		                     (long long)((wait_ms + 999) / 1000));

	Usher__V1__User *user = NULL;
	char *hash = NULL;
	rc = identity_store_credentials_by_email(us_call_db(call), us_call_arena(call), at.email,
	                                         &user, &hash);
	if (rc != US_OK && rc != US_ENOTFOUND)
		return rc;
	bool match = false;
	char rehash[IDENTITY_PASSWORD_HASH_SIZE];
	rc = identity_password_verify(hash, req->password, &match, rehash);
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "too many password operations at once, try again");
	if (rc != US_OK)
		return rc;
	if (!match)
		return refuse(call, ctx, &at);
	if (user->status != USHER__V1__USER_STATUS__USER_ACTIVE)
		return us_call_error(call, US_EDENIED, "this user is disabled");
	return open_session(call, ctx, &at, user, hash, rehash, reply);
}
