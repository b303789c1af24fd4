/* The request ids (a hash of the signer's key and nonce) a daemon has seen within its
 * signing window, so a captured request cannot be sent again. Ids are kept in one bucket
 * per second of their issue time; a bucket is dropped whole once that second has left
 * the window, so memory follows the request rate times the window. Thread-safe. */
#ifndef US_REPLAY_CACHE_H
#define US_REPLAY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define US_REPLAY_ID_BYTES 16

typedef struct us_replay_cache us_replay_cache;

typedef enum us_replay_result {
	US_REPLAY_NEW,  /* first sight: remembered */
	US_REPLAY_SEEN, /* a replay */
	US_REPLAY_FULL, /* max_ids are held: refuse rather than forget */
} us_replay_result;

/* window_ms: how far issue times may be from now (the caller refuses the others first). */
US_MUST_USE us_err us_replay_cache_new(int64_t window_ms, size_t max_ids, us_replay_cache **out);
void us_replay_cache_free(us_replay_cache *c);

/* Checks and remembers id, issued at issued_at_ms (which the caller has found within
 * window_ms of now). */
us_replay_result us_replay_cache_check(us_replay_cache *c, const uint8_t id[US_REPLAY_ID_BYTES],
                                       int64_t issued_at_ms);

/* How many ids are held. */
size_t us_replay_cache_size(us_replay_cache *c);

#endif
