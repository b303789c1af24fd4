/* Closing an NNG socket without hanging the caller.
 *
 * nng 1.5.2 can hang nng_close() for good: when a message arrives on a tcp:// connection
 * just as the socket closes it, the transport asks for the rest of the message on a
 * receive it has already stopped, which never completes, and the pipe waits for it in
 * nng's only reaper thread. A client that gave up on a request and closes while the late
 * reply comes in is enough. The socket (and every socket closed after it in the process)
 * then never finishes closing; the process can still exit, so closing gives up waiting. */
#ifndef US_SOCKET_CLOSE_H
#define US_SOCKET_CLOSE_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

/* Closes sock, waiting at most within_ms for nng to finish. True when it did; false when
 * the close was left to finish (or hang) on a thread of its own, or no thread could be
 * started for it (then it is not closed). Either way sock is not to be used again. */
bool us_socket_close_within(nng_socket sock, uint32_t within_ms);

/* True when no close in this process was left unfinished: nng's reaper is not wedged, so
 * nng_fini() (which waits for it) can free nng's state at exit. Where one was left,
 * nng_fini() would wait for ever. */
bool us_socket_close_all_finished(void);

#endif
