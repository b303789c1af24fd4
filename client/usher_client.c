/* libusher-client (include/usher/client.h): the public face of common/rpc_client.c, which
 * signs, frames and sends; this adds the idempotency key made per call and the retries
 * of UNAVAILABLE within the call's deadline. */
#include "usher/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/arena.h"
#include "common/caller_key.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/rpc_client.h"
#include "common/status.h"

#define DEFAULT_DEADLINE_MS 5000u
#define DEFAULT_MAX_ATTEMPTS 4u
/* Backoff before a retry: doubles from the first, capped, with full jitter. */
#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 2000

struct usher_client {
	us_rpc_client *rpc;
	uint32_t default_deadline_ms;
	unsigned max_attempts;
};

const char *usher_code_name(usher_code code)
{
	return us_err_name((us_err)code);
}

void usher_status_clear(usher_status *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_violations; i++) {
		free(st->violations[i].field);
		free(st->violations[i].description);
	}
	free(st->violations);
	memset(st, 0, sizeof(*st));
}

static usher_code set_status(usher_status *st, usher_code code, const char *message)
{
	if (st != NULL) {
		usher_status_clear(st);
		st->code = code;
		snprintf(st->message, sizeof(st->message), "%s", message);
	}
	return code;
}

/* Moves from's violations into to (from is cleared). */
static usher_code take_status(usher_status *to, us_status *from)
{
	usher_code code = (usher_code)from->code;
	if (to == NULL) {
		us_status_clear(from);
		return code;
	}
	usher_status_clear(to);
	to->code = code;
	snprintf(to->message, sizeof(to->message), "%s", from->message);
	snprintf(to->reason, sizeof(to->reason), "%s", from->reason);
	if (from->n_violations > 0) {
		to->violations = calloc(from->n_violations, sizeof(*to->violations));
		if (to->violations != NULL) {
			for (size_t i = 0; i < from->n_violations; i++) {
				to->violations[i].field = from->violations[i].field;
				to->violations[i].description = from->violations[i].description;
				from->violations[i].field = NULL;
				from->violations[i].description = NULL;
			}
			to->n_violations = from->n_violations;
		}
	}
	us_status_clear(from);
	return code;
}

usher_code usher_client_open(const usher_client_config *config, usher_client **out,
                             usher_status *status)
{
	if (config == NULL || config->urls == NULL || config->urls[0] == '\0')
		return set_status(status, USHER_INVALID_ARGUMENT, "urls: required");
	if (sodium_init() < 0)
		return set_status(status, USHER_INTERNAL, "libsodium could not start");
	us_caller_key key;
	char err[sizeof(((usher_status *)0)->message)];
	if (config->caller_key != NULL) {
		if (us_caller_key_parse(config->caller_key, &key) != 0) {
			snprintf(err, sizeof(err), "caller_key: %s", us_caller_key_check(config->caller_key));
			return set_status(status, USHER_INVALID_ARGUMENT, err);
		}
	} else {
		int found = us_rpc_client_env_key(&key, err, sizeof(err));
		if (found < 0)
			return set_status(status, USHER_INVALID_ARGUMENT, err);
		if (found == 0)
			return set_status(status, USHER_INVALID_ARGUMENT,
			                  "no caller key: give caller_key, or set USHER_CALLER_KEY or "
			                  "USHER_CALLER_KEY_FILE");
	}
	usher_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		us_caller_key_wipe(&key);
		return set_status(status, USHER_RESOURCE_EXHAUSTED, "out of memory");
	}
	c->default_deadline_ms = config->default_deadline_ms ? config->default_deadline_ms
	                                                     : DEFAULT_DEADLINE_MS;
	c->max_attempts = config->max_attempts ? config->max_attempts : DEFAULT_MAX_ATTEMPTS;
	us_rpc_client_opts opts = {
		.url = config->urls,
		.caller = config->caller_name ? config->caller_name : "usher-client",
		.wait_for_server = true,
		.key = &key,
	};
	us_err rc = us_rpc_client_open(&opts, &c->rpc, err, sizeof(err));
	us_caller_key_wipe(&key);
	if (rc != US_OK) {
		free(c);
		return set_status(status, (usher_code)rc, err);
	}
	*out = c;
	return set_status(status, USHER_OK, "");
}

void usher_client_close(usher_client *c)
{
	if (c == NULL)
		return;
	us_rpc_client_close(c->rpc);
	free(c);
}

/* Sleeps a random time up to the attempt's backoff, never past deadline. */
static void back_off(unsigned attempt, int64_t deadline)
{
	int64_t cap = BACKOFF_FIRST_MS;
	for (unsigned i = 1; i < attempt && cap < BACKOFF_MAX_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	int64_t ms = (int64_t)randombytes_uniform((uint32_t)cap) + 1;
	int64_t left = deadline - us_monotonic_ms();
	if (ms > left)
		ms = left;
	if (ms <= 0)
		return;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

usher_code usher_call(usher_client *c, const char *method, const ProtobufCMessage *request,
                      const ProtobufCMessageDescriptor *reply_type, const usher_call_opts *opts,
                      ProtobufCMessage **reply, usher_status *status)
{
	static const usher_call_opts no_opts;
	if (opts == NULL)
		opts = &no_opts;
	if (c == NULL || method == NULL || request == NULL || reply_type == NULL || reply == NULL)
		return set_status(status, USHER_INVALID_ARGUMENT,
		                  "usher_call: client, method, request, reply_type and reply are required");

	/* One key for every attempt: a retry of work the daemon did replays its reply. */
	char made_key[40];
	const char *idem = opts->idempotency_key;
	if (idem == NULL) {
		uint8_t raw[16];
		randombytes_buf(raw, sizeof(raw));
		memcpy(made_key, "uc-", 3);
		sodium_bin2hex(made_key + 3, sizeof(made_key) - 3, raw, sizeof(raw));
		idem = made_key;
	}
	/* One request id too, so the daemons' logs show the attempts as one call. */
	char made_id[33];
	const char *request_id = opts->request_id;
	if (request_id == NULL) {
		uint8_t raw[16];
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(made_id, sizeof(made_id), raw, sizeof(raw));
		request_id = made_id;
	}
	uint32_t budget = opts->deadline_ms ? opts->deadline_ms : c->default_deadline_ms;
	int64_t deadline = us_monotonic_ms() + budget;

	us_status st;
	us_status_init(&st);
	for (unsigned attempt = 1;; attempt++) {
		int64_t left = deadline - us_monotonic_ms();
		if (left <= 0)
			break; /* st holds the last attempt's UNAVAILABLE */
		us_status_clear(&st);
		us_arena *arena = us_arena_new();
		if (arena == NULL)
			return set_status(status, USHER_RESOURCE_EXHAUSTED, "out of memory");
		us_rpc_call_opts call = {
			.timeout_ms = (uint32_t)left,
			.idempotency_key = idem,
			.request_id = request_id,
			.traceparent = opts->traceparent,
			.actor_user_id = opts->actor_user_id,
			.actor_account_id = opts->actor_account_id,
		};
		ProtobufCMessage *in_arena = NULL;
		us_err rc = us_rpc_call(c->rpc, method, &call, request, reply_type, arena, &in_arena,
		                        &st);
		if (rc == US_OK) {
			/* Out of the arena into memory of the caller's own (protobuf-c's allocator). */
			size_t len = protobuf_c_message_get_packed_size(in_arena);
			uint8_t *packed = malloc(len ? len : 1);
			ProtobufCMessage *own = NULL;
			if (packed != NULL) {
				protobuf_c_message_pack(in_arena, packed);
				own = protobuf_c_message_unpack(reply_type, NULL, len, packed);
				free(packed);
			}
			us_arena_free(arena);
			us_status_clear(&st);
			if (own == NULL)
				return set_status(status, USHER_RESOURCE_EXHAUSTED, "out of memory");
			*reply = own;
			return set_status(status, USHER_OK, "");
		}
		us_arena_free(arena);
		if (rc != US_EUNAVAILABLE || attempt >= c->max_attempts)
			break;
		back_off(attempt, deadline);
	}
	if (st.code == US_OK) /* the deadline passed before an attempt */
		return set_status(status, USHER_DEADLINE_EXCEEDED, "no time left for the call");
	return take_status(status, &st);
}
