#include "egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ip in host order. */
static bool ipv4_is_public(uint32_t ip)
{
	static const struct {
		uint32_t net;
		int bits;
	} blocked[] = {
		{0x00000000, 8},  /* "this network" */
		{0x0a000000, 8},  /* private */
		{0x64400000, 10}, /* shared address space (carrier-grade NAT) */
		{0x7f000000, 8},  /* loopback */
		{0xa9fe0000, 16}, /* link-local, cloud metadata */
		{0xac100000, 12}, /* private */
		{0xc0000000, 24}, /* IETF protocol assignments */
		{0xc0a80000, 16}, /* private */
		{0xc6120000, 15}, /* benchmarking */
		{0xe0000000, 4},  /* multicast */
		{0xf0000000, 4},  /* reserved, broadcast */
	};
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - blocked[i].bits);
		if ((ip & mask) == blocked[i].net)
			return false;
	}
	return true;
}

static uint32_t ipv4_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool ipv6_is_public(const uint8_t a[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t zeros[12] = {0};
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return ipv4_is_public(ipv4_at(a + 12));
	if (memcmp(a, zeros, 12) == 0)
		return false; /* unspecified, loopback, IPv4-compatible (deprecated) */
	if (a[0] == 0xff)
		return false; /* multicast */
	if ((a[0] & 0xfe) == 0xfc)
		return false; /* unique local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return false; /* link-local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return false; /* site-local (deprecated) */
	return true;
}

bool notification_address_is_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return ipv4_is_public(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		return ipv6_is_public(in6->sin6_addr.s6_addr);
	}
	return false;
}

curl_socket_t notification_egress_open_socket(void *egress, curlsocktype purpose,
                                              struct curl_sockaddr *address)
{
	(void)purpose;
	notification_egress *e = egress;
	if (!e->allow_private && !notification_address_is_public(&address->addr)) {
		const void *bytes = address->family == AF_INET6
		                            ? (const void *)&((struct sockaddr_in6 *)&address->addr)->sin6_addr
		                            : (const void *)&((struct sockaddr_in *)&address->addr)->sin_addr;
		if (inet_ntop(address->family, bytes, e->refused, sizeof(e->refused)) == NULL)
			snprintf(e->refused, sizeof(e->refused), "(an address of family %d)", address->family);
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}
