#include "common/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

/* The first nng release whose ipc:// and tls+tcp:// listeners survive a peer that
 * leaves mid-handshake. */
#define FIXED_MAJOR 1
#define FIXED_MINOR 6

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool linked_nng_has_listener_bug(void)
{
	const char *v = nng_version();
	char *end;
	long major = strtol(v, &end, 10);
	long minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
	return major < FIXED_MAJOR || (major == FIXED_MAJOR && minor < FIXED_MINOR);
}

bool us_transport_wedges(const char *url)
{
	return (starts_with(url, "ipc://") || starts_with(url, "tls+tcp://")) &&
	       linked_nng_has_listener_bug();
}

/* "HOST:PORT" with a numeric port; HOST may be empty (all addresses), a name, or [v6]. */
static bool valid_host_port(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon[1] == '\0')
		return false;
	if (s[0] == '[' && (colon == s || colon[-1] != ']'))
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 0 && port <= 65535 && colon[1] >= '0' && colon[1] <= '9';
}

const char *us_transport_check(const char *url)
{
	static _Thread_local char reason[256];
	if (starts_with(url, "tls+tcp://"))
		return "tls+tcp:// is not supported: Usher configures no certificates; use tcp:// on a "
		       "private network (callers are authenticated whatever the transport)";
	if (us_transport_wedges(url)) {
		snprintf(reason, sizeof(reason),
		         "%.*s is refused with the linked nng %s: its listener stops accepting after a "
		         "peer disconnects mid-handshake (fixed in nng 1.6.0); use tcp://HOST:PORT",
		         (int)(strstr(url, "://") - url + 3), url, nng_version());
		return reason;
	}
	if (starts_with(url, "tcp://")) {
		const char *rest = strstr(url, "://") + 3;
		return valid_host_port(rest) && strchr(rest, ',') == NULL ? NULL : "must be tcp://HOST:PORT, e.g. tcp://127.0.0.1:7001";
	}
	if ((starts_with(url, "ipc://") || starts_with(url, "inproc://")) &&
	    strstr(url, "://")[3] != '\0')
		return NULL;
	return "must be an NNG address: tcp://HOST:PORT (or inproc://NAME within one process)";
}

const char *us_transport_check_list(const char *urls)
{
	static _Thread_local char reason[400];
	size_t len = strlen(urls);
	if (len > US_TRANSPORT_LIST_BYTES_MAX)
		return "must be at most 1023 bytes";
	char copy[US_TRANSPORT_LIST_BYTES_MAX + 1];
	memcpy(copy, urls, len + 1);
	const char *seen[US_TRANSPORT_URLS_MAX];
	size_t n = 0;
	char *start = copy;
	for (;;) {
		char *comma = strchr(start, ',');
		if (comma != NULL)
			*comma = '\0';
		if (start[0] == '\0')
			return "must be one address or several separated by commas, none empty";
		if (n == US_TRANSPORT_URLS_MAX)
			return "must list at most 16 addresses (replicas)";
		const char *refused = us_transport_check(start);
		if (refused != NULL) {
			snprintf(reason, sizeof(reason), "\"%.120s\": %s", start, refused);
			return reason;
		}
		for (size_t i = 0; i < n; i++) {
			if (strcmp(seen[i], start) == 0) {
				snprintf(reason, sizeof(reason), "lists \"%.120s\" twice", start);
				return reason;
			}
		}
		seen[n++] = start;
		if (comma == NULL)
			return NULL;
		start = comma + 1;
	}
}
