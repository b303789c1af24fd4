/* All of the notification schema's SQL: queueing, claiming, recording attempts,
 * suppressions and delivery status. Every function runs on a connection owned by the
 * calling thread. */
#ifndef NOTIFICATION_STORE_H
#define NOTIFICATION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "usher/v1/erasure.pb-c.h"
#include "common/arena.h"
#include "compose.h"
#include "common/err.h"
#include "policy.h"
#include "seal.h"
#include "template.h"
#include "usher/v1/notification.pb-c.h"

/* A database session, as claims name it: a claim outlives its session only when the
 * process holding it died. */
typedef struct notification_store_session {
	int pid;
	char started[64]; /* backend_start, as text */
} notification_store_session;

/* An email that passed validation, ready to queue. Everything is borrowed. */
typedef struct notification_store_new_email {
	const char *key;
	const char *template;
	const char *recipient; /* normalised */
	const char *reference;
	const char *subject;   /* rendered */
	const char *sealed;    /* the variables as a JSON object, sealed (seal.h), hex */
} notification_store_new_email;

/* A claimed message; strings in the arena passed to notification_store_claim(). */
typedef struct notification_store_message {
	notification_compose_input in;      /* in.variables: "{}" while they are sealed */
	const char *sealed;    /* the sealed variables (hex), "" for a message queued before */
	int64_t age_ms;
	uint32_t attempts;     /* before this one */
	bool suppressed;       /* its address is suppressed: now final, not to be attempted */
} notification_store_message;

typedef struct notification_store_result {
	const char *id;
	notification_policy_action action;
	const char *reply;
	int64_t delay_ms;      /* POLICY_RETRY */
} notification_store_result;

/* Fills *out with conn's session. */
US_MUST_USE us_err notification_store_session_identify(PGconn *conn,
                                                       notification_store_session *out);

/* Queues emails in one transaction (statements capped at timeout_ms): a key already
 * queued queues nothing and gives the existing message's id. An address on the
 * suppression list is queued as suppressed. On success *ids gets n message ids in order,
 * in arena. */
US_MUST_USE us_err notification_store_queue(PGconn *conn,
                                            const notification_store_new_email *emails, size_t n,
                                            const char *message_id_domain, int64_t timeout_ms,
                                            us_arena *arena, char ***ids);

/* Claims up to limit due messages for session (FOR UPDATE SKIP LOCKED, so workers and
 * replicas never share one). Messages whose address is suppressed are made final on the
 * way and come back with suppressed set. On failure nothing stays claimed. */
US_MUST_USE us_err notification_store_claim(PGconn *conn, const notification_store_session *session,
                                            int limit, us_arena *arena,
                                            notification_store_message **out, size_t *n);

/* Milliseconds until the next unclaimed queued message is due (0 when one is due now),
 * or -1 when none is queued. */
US_MUST_USE us_err notification_store_next_due_ms(PGconn *conn, int64_t *ms);

/* Records the outcome of n attempts in one statement: state, attempt count, reply and
 * the attempt log; suppresses refused addresses; releases the claims. */
US_MUST_USE us_err notification_store_record(PGconn *conn,
                                             const notification_store_session *session,
                                             const notification_store_result *results, size_t n);

/* Gives back every claim session still holds: the messages it did not attempt. */
US_MUST_USE us_err notification_store_release(PGconn *conn,
                                              const notification_store_session *session);

/* Takes back the claims of sessions that no longer exist; *n gets how many. */
US_MUST_USE us_err notification_store_reclaim(PGconn *conn, int64_t *n);

/* Messages by reference and/or recipient ("" = any), newest first, at most limit, each
 * with its latest attempts; built in arena. */
US_MUST_USE us_err notification_store_deliveries(PGconn *conn, const char *reference,
                                                 const char *recipient, uint32_t limit,
                                                 us_arena *arena, Usher__V1__Delivery ***out,
                                                 size_t *n);

/* Seals the plain variables of messages queued before variables were sealed; *n gets
 * how many. */
US_MUST_USE us_err notification_store_seal_plain_variables(
        PGconn *conn, const uint8_t key[NOTIFICATION_SEAL_KEY_BYTES], int64_t *n);

/* Takes email off the suppression list; *removed says whether it was on it. */
US_MUST_USE us_err notification_store_unsuppress(PGconn *conn, const char *email, bool *removed);

/* Retention statement (common/housekeeping.h): messages finished more than $1 days ago. */
extern const char notification_store_purge_messages[];
/* Ended webhook deliveries from their last change (attempts go with them), events no
 * delivery names any more, deleted endpoints no delivery names. */
extern const char notification_store_purge_webhook_deliveries[];
extern const char notification_store_purge_events[];
extern const char notification_store_purge_webhook_endpoints[];

/* Deletes messages to the address or naming it in their subject (their attempts go
 * with them) and its suppression. */
US_MUST_USE us_err notification_store_erase_user(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows);
/* The queue for /metrics: queued messages and the age of the oldest (0 when none). */
US_MUST_USE us_err notification_store_queue_gauges(PGconn *conn, int64_t *depth,
                                                   double *oldest_s);

#endif
