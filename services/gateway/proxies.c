#include "proxies.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An address in text into net (prefix: all its bits); false when it is not one. */
static bool parse_address(const char *text, gateway_network *net)
{
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, text, net->bytes) == 1) {
		net->family = AF_INET;
		net->prefix = 32;
		return true;
	}
	if (inet_pton(AF_INET6, text, net->bytes) == 1) {
		net->family = AF_INET6;
		net->prefix = 128;
		return true;
	}
	return false;
}

/* One "address" or "address/prefix". */
static bool parse_network(const char *text, gateway_network *net)
{
	char buf[GATEWAY_ADDRESS_TEXT_MAX + 5];
	if (strlen(text) >= sizeof(buf))
		return false;
	strcpy(buf, text);
	char *slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (!parse_address(buf, net))
		return false;
	if (slash == NULL)
		return true;
	char *end;
	unsigned long prefix = strtoul(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || prefix > net->prefix)
		return false;
	net->prefix = (unsigned)prefix;
	return true;
}

const char *gateway_proxies_parse(const char *list, gateway_proxies *out)
{
	out->n = 0;
	const char *p = list != NULL ? list : "";
	while (*p != '\0') {
		p += strspn(p, " ,");
		size_t len = strcspn(p, " ,");
		if (len == 0)
			break;
		char item[64];
		if (len >= sizeof(item))
			return "must list addresses or networks like 10.0.0.0/8 or 2001:db8::/32";
		memcpy(item, p, len);
		item[len] = '\0';
		if (out->n == GATEWAY_PROXIES_MAX)
			return "must list at most 32 addresses or networks";
		if (!parse_network(item, &out->nets[out->n]))
			return "must list addresses or networks like 10.0.0.0/8 or 2001:db8::/32";
		out->n++;
		p += len;
	}
	return NULL;
}

static bool within(const gateway_network *net, const gateway_network *addr)
{
	if (net->family != addr->family)
		return false;
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	if (memcmp(net->bytes, addr->bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net->bytes[full] & mask) == (addr->bytes[full] & mask);
}

static bool trusted_address(const gateway_proxies *trusted, const char *text)
{
	gateway_network addr;
	if (!parse_address(text, &addr))
		return false;
	for (size_t i = 0; i < trusted->n; i++) {
		if (within(&trusted->nets[i], &addr))
			return true;
	}
	return false;
}

void gateway_proxies_client(const gateway_proxies *trusted, const char *peer, const char *forwarded_for,
                       char *out, size_t out_size)
{
	snprintf(out, out_size, "%s", peer);
	if (forwarded_for == NULL || !trusted_address(trusted, peer))
		return;
	/* From the right: each hop a trusted proxy added, until the first one that is not
	 * (the client as the outermost trusted proxy saw it). A malformed entry ends the walk:
	 * what lies left of it is the client's to write. */
	const char *end = forwarded_for + strlen(forwarded_for);
	while (end > forwarded_for) {
		const char *start = end;
		while (start > forwarded_for && start[-1] != ',')
			start--;
		const char *a = start, *b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		char entry[GATEWAY_ADDRESS_TEXT_MAX];
		gateway_network addr;
		if ((size_t)(b - a) >= sizeof(entry))
			return;
		memcpy(entry, a, (size_t)(b - a));
		entry[b - a] = '\0';
		if (!parse_address(entry, &addr))
			return;
		snprintf(out, out_size, "%s", entry);
		if (!trusted_address(trusted, entry))
			return;
		end = start > forwarded_for ? start - 1 : forwarded_for;
	}
}
