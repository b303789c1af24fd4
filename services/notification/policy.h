/* What happens to a message after an attempt: sent, tried again later (exponential
 * backoff with jitter, until a maximum age), or failed for good, with its address
 * suppressed when the server refused the recipient. Pure functions, no I/O. */
#ifndef NOTIFICATION_POLICY_H
#define NOTIFICATION_POLICY_H

#include <stdint.h>

/* How an attempt ended, as the transport saw it. */
typedef enum notification_send_outcome {
	SEND_OK,        /* the server answered 250 after the data */
	SEND_TRANSIENT, /* no connection, a timeout, a 4xx, or a 5xx about our session */
	SEND_REFUSED,   /* a 5xx about this recipient or this message */
	SEND_BROKEN,    /* the message cannot be built; no server was asked */
} notification_send_outcome;

#define SEND_REPLY_MAX 256

/* An attempt's outcome and what to record about it: the server's last answer, or what
 * went wrong before one came. */
typedef struct notification_send_result {
	notification_send_outcome outcome;
	char reply[SEND_REPLY_MAX];
} notification_send_result;

typedef enum notification_policy_action {
	POLICY_SENT,
	POLICY_RETRY,
	POLICY_FAIL,
	POLICY_FAIL_AND_SUPPRESS,
} notification_policy_action;

typedef struct notification_retry_policy {
	int64_t base_ms;    /* the first retry's delay, before jitter */
	int64_t max_ms;     /* no delay is longer */
	int64_t max_age_ms; /* after this long since queueing, a transient failure is final */
} notification_retry_policy;

/* The backoff before retry number attempts (1 = after the first failed attempt):
 * base * 2^(attempts-1), capped at max, then jittered into [d/2, d] by random. */
int64_t notification_policy_backoff_ms(const notification_retry_policy *p, uint32_t attempts,
                                       uint32_t random);

/* The action for an attempt that ended with outcome, the message having had attempts
 * attempts (this one included) and being age_ms old. For POLICY_RETRY, *delay_ms gets
 * the wait, never past the maximum age, so the last try happens at that age. */
notification_policy_action notification_policy_decide(const notification_retry_policy *p,
                                                      notification_send_outcome outcome,
                                                      uint32_t attempts, int64_t age_ms,
                                                      uint32_t random, int64_t *delay_ms);

#endif
