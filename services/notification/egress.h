/* Where webhook posts may connect: only to public addresses, unless WEBHOOK_ALLOW_PRIVATE.
 *
 * An endpoint's URL is registered by a person or a service; without this check it could
 * point notificationd at the machines behind it (loopback, the private network, a cloud's
 * metadata address at 169.254.169.254). The check runs on the address curl is about to
 * connect to, after name resolution, so a name that resolves to a private address (or is
 * made to, between registration and delivery) is refused as well. */
#ifndef NOTIFICATION_EGRESS_H
#define NOTIFICATION_EGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <sys/socket.h>

/* True when sa (AF_INET or AF_INET6) is a globally routable unicast address: not loopback,
 * private (RFC 1918, unique local), shared (100.64/10), link-local, multicast, unspecified,
 * reserved, or an IPv4-mapped or NAT64 form of one of those. */
bool notification_address_is_public(const struct sockaddr *sa);

/* What a refusal leaves for the delivery's error. */
typedef struct notification_egress {
	bool allow_private;
	char refused[64]; /* the last refused address as text; "" when none */
} notification_egress;

/* curl's CURLOPT_OPENSOCKETFUNCTION, with a notification_egress as its data: opens the
 * socket when the address may be reached, else records it and refuses. */
curl_socket_t notification_egress_open_socket(void *egress, curlsocktype purpose,
                                              struct curl_sockaddr *address);

#endif
