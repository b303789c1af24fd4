/* The one background loop: a thread that runs a function at once and then every interval,
 * measured on the monotonic clock (a wall-clock jump neither stalls nor floods it), until
 * stopped. Stopping wakes the thread from its wait and returns once the round in progress,
 * if any, has finished. */
#ifndef US_TICKER_H
#define US_TICKER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

typedef struct us_ticker us_ticker;

/* One round of work. arg is us_ticker_start()'s. */
typedef void (*us_ticker_fn)(void *arg);

/* Starts the thread; *out is owned (us_ticker_stop() it). interval_ms > 0. */
US_MUST_USE us_err us_ticker_start(const char *name, uint32_t interval_ms, us_ticker_fn fn,
                                   void *arg, us_ticker **out);

/* Runs the next round now instead of at the end of the interval. */
void us_ticker_poke(us_ticker *t);

/* True once us_ticker_stop() has been called: a long round checks it between its steps,
 * so a stop waits for one step rather than the round. */
bool us_ticker_stopping(us_ticker *t);

/* Stops the thread and frees it. Takes NULL. */
void us_ticker_stop(us_ticker *t);

#endif
