#include "state.h"

/* Set once at start-up (main.c), read by the request threads. */
gw_state gw;
