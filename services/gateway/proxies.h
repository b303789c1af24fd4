/* Who the client is behind a reverse proxy. The socket's peer is the client unless it is
 * one of the configured trusted proxies (TRUSTED_PROXIES): then X-Forwarded-For is read
 * from the right, skipping trusted proxies, and the first address that is not one is
 * the client. Nothing a client writes is believed unless a trusted proxy passed it on. */
#ifndef GATEWAY_PROXIES_H
#define GATEWAY_PROXIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_PROXIES_MAX 32
#define GATEWAY_ADDRESS_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

typedef struct gateway_network {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
	unsigned prefix;   /* bits */
} gateway_network;

typedef struct gateway_proxies {
	gateway_network nets[GATEWAY_PROXIES_MAX];
	size_t n;
} gateway_proxies;

/* Parses "10.0.0.0/8, 192.0.2.7, 2001:db8::/32" (empty: none). Returns NULL, or the
 * reason it is not such a list. */
const char *gateway_proxies_parse(const char *list, gateway_proxies *out);

/* The client's address as text (out, GATEWAY_ADDRESS_TEXT_MAX bytes) from the socket's peer
 * (text, "" when unknown) and the last X-Forwarded-For header (NULL when none). */
void gateway_proxies_client(const gateway_proxies *trusted, const char *peer, const char *forwarded_for,
                       char *out, size_t out_size);

#endif
