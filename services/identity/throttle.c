#include "throttle.h"

#include <arpa/inet.h>
#include <string.h>

#include <sodium.h>

#include "common/validate.h"

#define ADDRESS_MAX 45 /* INET6_ADDRSTRLEN less its NUL */
#define IPV6_PREFIX_BYTES 8

void identity_throttle_subject(const uint8_t key[US_TOKEN_KEY_BYTES], const char *kind,
                               const void *value, size_t len,
                               uint8_t out[IDENTITY_SUBJECT_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, US_TOKEN_KEY_BYTES, IDENTITY_SUBJECT_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
	crypto_generichash_update(&st, value, len);
	crypto_generichash_final(&st, out, IDENTITY_SUBJECT_BYTES);
}

/* The client's network as counted: its kind and bytes. False when text is not an
 * address. */
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

void identity_throttle_email_subject(const uint8_t key[US_TOKEN_KEY_BYTES], const char *email,
                                     uint8_t out[IDENTITY_SUBJECT_BYTES])
{
	identity_throttle_subject(key, "email", email, strlen(email), out);
}

bool identity_throttle_network_subject(const uint8_t key[US_TOKEN_KEY_BYTES],
                                       const char *address, uint8_t out[IDENTITY_SUBJECT_BYTES])
{
	const char *kind;
	uint8_t net[16];
	size_t len;
	if (!client_network(address, &kind, net, &len))
		return false;
	identity_throttle_subject(key, kind, net, len, out);
	return true;
}

bool identity_throttle_address_ok(const char *address)
{
	const char *kind;
	uint8_t net[16];
	size_t len;
	return address[0] == '\0' || client_network(address, &kind, net, &len);
}

void identity_throttle_attempt_init(const uint8_t key[US_TOKEN_KEY_BYTES], const char *email,
                                    const char *address, identity_throttle_attempt *at)
{
	const char *kind = "none";
	uint8_t net[16];
	size_t net_len = 0;
	bool has_address = address[0] != '\0' && client_network(address, &kind, net, &net_len);
	identity_throttle_email_subject(key, email, at->email);
	/* The pair: the email, a NUL, then the network's kind, a NUL, and its bytes. */
	uint8_t pair_value[US_EMAIL_MAX + 1 + 16 + 16];
	size_t email_len = strnlen(email, US_EMAIL_MAX), kind_len = strlen(kind) + 1;
	memcpy(pair_value, email, email_len);
	pair_value[email_len] = '\0';
	memcpy(pair_value + email_len + 1, kind, kind_len);
	memcpy(pair_value + email_len + 1 + kind_len, net, net_len);
	identity_throttle_subject(key, "pair", pair_value, email_len + 1 + kind_len + net_len,
	                          at->pair);
	at->subjects.pair = at->pair;
	at->subjects.email = at->email;
	at->subjects.network = NULL;
	if (has_address) {
		identity_throttle_subject(key, kind, net, net_len, at->network);
		at->subjects.network = at->network;
	}
}

/* How long a subject with failures past limit must still wait. */
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

int64_t identity_throttle_wait_ms(const identity_settings *s, const identity_throttle_count c[3],
                                  bool has_network)
{
	int64_t waits[3] = {
		backoff_left_ms(s, &c[0], s->login_max_failures),
		c[0].known ? 0 : backoff_left_ms(s, &c[1], s->login_max_failures_per_email),
		has_network ? backoff_left_ms(s, &c[2], s->login_max_failures_per_address) : 0,
	};
	int64_t wait = 0;
	for (int i = 0; i < 3; i++)
		wait = waits[i] > wait ? waits[i] : wait;
	return wait;
}
