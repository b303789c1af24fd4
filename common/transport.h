/* Which NNG transports Usher will listen on or dial, given the nng it is linked with.
 *
 * nng before 1.6.0 has a listener bug in its ipc:// and tls+tcp:// transports (upstream
 * issue 1518): a peer that disconnects during the connection handshake stops the
 * listener accepting, for good, while existing connections keep working. A daemon in
 * that state answers nobody new. tcp:// is not affected, so it is the transport Usher
 * uses; the others are refused with the reason while the linked nng has the bug. */
#ifndef US_TRANSPORT_H
#define US_TRANSPORT_H

#include <stdbool.h>

/* True when the linked nng's transport for url's scheme can wedge its listener. */
bool us_transport_wedges(const char *url);

/* NULL when url is an address Usher may use; else why not (a static string, or one in a
 * thread-local buffer valid until the next call on the same thread). Accepts
 * tcp://HOST:PORT (HOST a name, an IPv4 address or [IPv6]), inproc://NAME, and ipc://PATH
 * only with an nng that does not wedge it. tls+tcp:// is refused: no certificates are
 * configured, and confidentiality comes from the network. */
const char *us_transport_check(const char *url);

/* The most replicas, and bytes, a list of addresses may have. */
#define US_TRANSPORT_URLS_MAX 16
#define US_TRANSPORT_LIST_BYTES_MAX 1023

/* As us_transport_check() for a daemon's replicas, "URL,URL,...": 1 to
 * US_TRANSPORT_URLS_MAX addresses, none empty, none twice, at most
 * US_TRANSPORT_LIST_BYTES_MAX bytes in all. */
const char *us_transport_check_list(const char *urls);

#endif
