/* The in-process wake of the relays (event_relay.h, invitationd's outbox.h). Whatever in
 * the daemon commits a change that may have written events or outbox rows (an RPC that is
 * not US_RPC_READ_ONLY, a recovery or reminder round that changed something, an outbox
 * take) announces it afterwards, and every relay of the process that waits for work of
 * that topic looks at once. Rows another process wrote (another replica, usherctl) are
 * found by the relays' poll.
 *
 * It replaces a NOTIFY in each such transaction: Postgres serialises notifying commits
 * through one lock held across the WAL flush (bench/notify_cost.sh: 3.3x fewer commits/s
 * from 8 clients). A commit while no relay waits costs a few atomic operations. */
#ifndef US_WAKE_H
#define US_WAKE_H

#include <stdbool.h>

typedef struct us_wake us_wake;

/* What a commit wrote, as far as the relays care. */
typedef enum us_wake_topic {
	US_WAKE_EVENTS, /* events rows: the event relay */
	US_WAKE_OUTBOX, /* outbox rows: invitationd's outbox relays */
	US_WAKE_TOPICS
} us_wake_topic;

/* A relay's (or a group of relay threads') waiting place, woken by commits of topic; NULL
 * when out of memory. */
us_wake *us_wake_new(us_wake_topic topic);

/* Frees w (its threads have stopped). Takes NULL. */
void us_wake_free(us_wake *w);

/* Announces a commit of any topic (a request's: it may have written either). */
void us_wake_committed(void);

/* Announces a commit of one topic (an outbox take writes events, no outbox rows: the
 * outbox relays need not look again for it). */
void us_wake_committed_topic(us_wake_topic topic);

/* Notes the commits of w's topic announced so far: us_wake_wait() returns for any after
 * this. Called before a relay looks for rows, so a commit during the look brings another.
 * Returns the mark to pass to us_wake_wait(). */
unsigned long us_wake_mark(const us_wake *w);

typedef enum us_wake_reason {
	US_WAKE_STOP,    /* us_wake_stop() was called */
	US_WAKE_COMMIT,  /* a commit was announced after mark */
	US_WAKE_TIMEOUT, /* timeout_ms passed */
} us_wake_reason;

/* Waits for a commit of w's topic announced after mark, a stop, or timeout_ms. */
us_wake_reason us_wake_wait(us_wake *w, unsigned long mark, int timeout_ms);

/* Sleeps ms (the pause that gathers the rows of many commits into one call); false when
 * stopped. Commits announced meanwhile do not cut it short. */
bool us_wake_pause(us_wake *w, int ms);

/* Wakes w's threads for good: every wait and pause returns at once from now on. */
void us_wake_stop(us_wake *w);

/* True once us_wake_stop(w) was called. */
bool us_wake_stopping(us_wake *w);

#endif
