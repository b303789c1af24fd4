/* All of usher-invitationd's SQL. Strings returned in rows live in the given arena. */
#ifndef INVITATION_STORE_H
#define INVITATION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/page_token.h"
#include "usher/v1/erasure.pb-c.h"

/* An invitation joined with its batch. */
typedef struct invitation_row {
	char *id, *account_id, *batch_id, *email;
	char *state;           /* as stored: pending, accepting, accepted, ... */
	bool expired;          /* pending past expires_at */
	bool existing_user;
	char *invited_by, *inviter_name, *inviter_email, *account_name;
	int role;
	bool organization;
	char **subaccount_ids;
	size_t n_subaccount_ids;
	char **products;
	size_t n_products;
	char **flags;
	size_t n_flags;
	char *created_at, *expires_at, *last_sent_at, *decided_at, *revoke_reason;
	char *expires_text;    /* "2026-11-30 16:00 UTC", for emails */
	int send_count;
	char *accepted_user_id; /* "" until known */
	int64_t created_us;     /* created_at in microseconds: the list's keyset position */
	char *invited_by_principal; /* "" unless a service principal invited (invited_by "") */
	char *accept_request_hash;  /* the claiming request's (invitation_request_hash), "" when none */
	char *redirect_url;         /* "" when none */
	char *metadata;             /* the caller's JSON object as text, "" when none */
	bool send_email;            /* false: the caller delivers the link; no email, no reminder */
	char *locale;               /* of its emails; "" : English */
	int reminders_sent;         /* since the last send */
} invitation_row;

/* What a new batch shares. */
typedef struct invitation_batch {
	const char *account_id, *account_name;
	/* One inviter: a person (invited_by) or a service principal (invited_by_principal,
	 * with its name as inviter_name and "" as inviter_email); the other is NULL. */
	const char *invited_by, *invited_by_principal, *inviter_name, *inviter_email;
	int role;
	bool organization;
	char **subaccount_ids;
	size_t n_subaccount_ids;
	char **products;
	size_t n_products;
	char **flags;
	size_t n_flags;
	int expires_in_hours;
	bool send_email;          /* false: no outbox rows and no sealed token kept */
	const char *redirect_url; /* "" when none; checked against the allow-list */
	const char *metadata;     /* "" when none; a JSON object */
	const char *locale;       /* "" : English */
} invitation_batch;

/* One address to invite: its link's token hash (hex) and the token sealed for the outbox. */
typedef struct invitation_new {
	const char *email;
	const char *token_hash_hex;
	const char *sealed_token;
	bool existing_user;
	const char *id; /* set by invitation_store_batch_add for the created ones */
} invitation_new;

/* Of emails, marks in open[] those with an open (pending and unexpired, or accepting)
 * invitation in the account; *lapsed when one of them has a pending invitation past its
 * expiry (still to be marked expired). */
US_MUST_USE us_err invitation_store_open_emails(PGconn *c, us_arena *a, const char *account_id,
                                     char **emails, size_t n, bool *open, bool *lapsed);

/* Starts writing a batch: with expire_lapsed, marks expired the lapsed pending
 * invitations of these addresses (so they can be invited afresh); records the batch;
 * *batch_id in a. */
US_MUST_USE us_err invitation_store_batch_begin(PGconn *c, us_arena *a, const invitation_batch *b, char **emails,
                                     size_t n, bool expire_lapsed, char **batch_id);

/* Writes invitations of the batch, their outbox rows (waking the relays at commit) and
 * one audit row each ("invitation.create" by the inviter, caller who called, detail), one
 * statement for any n. An
 * address that got an open invitation meanwhile is skipped: its id stays NULL; the others'
 * ids are set, in keep. Temporary memory comes from scratch. */
US_MUST_USE us_err invitation_store_batch_add(PGconn *c, us_arena *scratch, us_arena *keep,
                                   const char *batch_id, const invitation_batch *b,
                                   const char *caller, const char *audit_detail,
                                   invitation_new *rows, size_t n);


US_MUST_USE us_err invitation_store_get_by_id(PGconn *c, us_arena *a, const char *id, invitation_row *out);
US_MUST_USE us_err invitation_store_get_by_token(PGconn *c, us_arena *a, const uint8_t *hash, invitation_row *out);

/* The invitation, locked until the transaction ends (a retried accept resumes under it,
 * apart from the recovery loop). */
US_MUST_USE us_err invitation_store_get_locked(PGconn *c, us_arena *a, const char *id, invitation_row *out);

/* pending (unexpired) → accepting, stamping the start, the user when known and the
 * request's hash. True when this call took it. Not in a transaction: a known user's
 * claim commits without waiting for the disk (the saga redoes it). */
US_MUST_USE us_err invitation_store_claim(PGconn *c, const char *id, const char *account_id,
                               const char *user_id, const char *request_hash, bool *claimed);

/* accepting → pending: the accept could not start (no user was created). */
US_MUST_USE us_err invitation_store_release(PGconn *c, const char *id);

/* The lookup and the claim of a signed-in invitee's accept, in two halves so the claim
 * runs while identityd checks the session: _send opens a transaction on an idle
 * connection and sends in it, without waiting, the claim of the invitation of token_hash
 * (or, when it is NULL, of id) if it is open. _end collects it and commits it (without waiting for the disk, as above) only
 * when email (NULL: the session did not prove one) is the invited address, stamping
 * user_id; otherwise it rolls it back: nobody ever saw it. *claimed says which; *out is the
 * invitation as claimed. Nothing else may use c in between. Nothing is to be ended when
 * _send fails. */
US_MUST_USE us_err invitation_store_claim_ahead_send(PGconn *c, const uint8_t *token_hash,
                                                    const char *id, const char *request_hash);
US_MUST_USE us_err invitation_store_claim_ahead_end(PGconn *c, us_arena *a, const char *email,
                                                   const char *user_id, invitation_row *out,
                                                   bool *claimed);

/* accepting → accepted with an outbox notice to the inviter, in one transaction.
 * *decided_at gets when, *home_url the account's home URL ("" when none) for the reply's
 * next step (either may be NULL); both NULL when it was not accepting any more. */
US_MUST_USE us_err invitation_store_finish_accept(PGconn *c, us_arena *a, const char *id,
                                       const char *user_id, char **decided_at,
                                       char **home_url);

/* invitation_store_finish_accept in two halves, so the finish runs while tenancyd grants:
 * _send opens a transaction on an idle connection and sends the finish in it without
 * waiting; _end collects it and commits it (commit) or rolls it back (the grant failed),
 * filling *decided_at and *home_url as invitation_store_finish_accept does when committed.
 * Nothing else may use c in between. Nothing is to be ended when _send fails. */
US_MUST_USE us_err invitation_store_finish_accept_send(PGconn *c, const char *id,
                                                      const char *user_id);
US_MUST_USE us_err invitation_store_finish_accept_end(PGconn *c, us_arena *a, bool commit,
                                                     char **decided_at, char **home_url);

/* accepting → revoked, for an accept that can never succeed. */
US_MUST_USE us_err invitation_store_fail_accept(PGconn *c, const char *id, const char *reason);

/* pending (unexpired) → declined with an outbox notice to the inviter. True when done. */
US_MUST_USE us_err invitation_store_decline(PGconn *c, const char *id, bool *done);

/* pending or expired → revoked. True when done. */
US_MUST_USE us_err invitation_store_revoke(PGconn *c, const char *id, const char *reason, bool *done);

typedef enum invitation_reinvite_result {
	INVITATION_REINVITE_DONE,
	INVITATION_REINVITE_TOO_SOON,
	INVITATION_REINVITE_NOT_OPEN,      /* accepted, declined, revoked or accepting */
	INVITATION_REINVITE_SUPERSEDED,    /* another open invitation exists for the address */
} invitation_reinvite_result;

/* A new token, expiry and send for a pending or expired invitation; sealed_token NULL
 * when the caller delivers the link (no email, nothing sealed kept). */
US_MUST_USE us_err invitation_store_reinvite(PGconn *c, const char *id, const char *token_hash_hex,
                                  const char *sealed_token, bool existing_user,
                                  int expires_in_hours, int64_t min_interval_s,
                                  invitation_reinvite_result *result);

typedef struct invitation_list_query {
	const char *account_id;
	int state;                 /* an InvitationState; 0 = any */
	const char *email_contains;
	const char *subaccount_id;
	bool subaccounts_only;     /* leave out organization-level invitations */
	unsigned page_size;
	const us_page_cursor *after; /* keyset position from a page token, or NULL */
} invitation_list_query;

US_MUST_USE us_err invitation_store_list(PGconn *c, us_arena *a, const invitation_list_query *q, invitation_row **rows,
                              size_t *n);

/* A pending invitation as an export shows it. */
typedef struct invitation_summary {
	char *id;
	char *email;
	int role;
	char *last_sent_at;
	char *expires_at;
	int send_count;
	int64_t created_us; /* the keyset position, with id */
} invitation_summary;

/* The pending list of q (q->state is pending) as summaries: the same rows in the same
 * order as invitation_store_list, with only the columns an export needs. */
US_MUST_USE us_err invitation_store_list_pending_summaries(PGconn *c, us_arena *a,
                                                           const invitation_list_query *q,
                                                           invitation_summary **rows, size_t *n);

/* Pending, unexpired invitations to email, across accounts. */
US_MUST_USE us_err invitation_store_list_for_email(PGconn *c, us_arena *a, const char *email, invitation_row **rows,
                                        size_t *n);

/* Takes one accept whose claim nobody attends to (its database session is gone, it was
 * let go, or it has been in progress for stale_s however alive) for this session, in a
 * statement of its own: the recovery loop's calls that follow hold no lock. *taken_us
 * stamps the take (microseconds): invitation_store_release_taken() acts only while the
 * invitation is as taken. NOT_FOUND when none. */
US_MUST_USE us_err invitation_store_take_stale_accept(PGconn *c, us_arena *a, int64_t stale_s,
                                                      invitation_row *out, int64_t *taken_us);

/* accepting → pending, as invitation_store_release(), but only while the invitation is
 * still this session's as taken at taken_us (nobody, e.g. a retried accept, touched it
 * since). *released says if it was. */
US_MUST_USE us_err invitation_store_release_taken(PGconn *c, const char *id, int64_t taken_us,
                                                  bool *released);

/* This session stops attending to an accept it took (a step failed): the recovery loop may
 * take it again at once. */
US_MUST_USE us_err invitation_store_let_go(PGconn *c, const char *id);

/* Marks the invitation changed (updated_at), so that an accept the recovery loop took
 * before is not released under a retried accept working on it. */
US_MUST_USE us_err invitation_store_touch(PGconn *c, const char *id);

/* An outbox row joined with its invitation. */
typedef struct invitation_outbox_row {
	char *kind;
	int send_number;
	int reminder_number; /* 1 or 2 for a reminder, else 0 */
	char *sealed_token;  /* "" when none */
	char *request_id;    /* of the request that wrote it; "" when none */
	invitation_row inv;
} invitation_outbox_row;

/* Takes up to limit outbox rows (oldest first): deleted by this transaction, so they are
 * gone once it commits and back if it rolls back; rows another relay holds are skipped. */
US_MUST_USE us_err invitation_store_outbox_take(PGconn *c, us_arena *a, size_t limit, invitation_outbox_row **rows,
                                     size_t *n);


/* --- permanent links --- */

typedef struct invitation_link_row {
	char *id, *account_id, *subaccount_id; /* subaccount_id "" for the organization */
	char *account_name, *created_by, *sealed_token;
	bool active;   /* not deleted */
	bool expired;
	bool used_up;
	char *expires_at; /* "" when it never expires */
	char *created_at;
	unsigned max_uses, uses;
	char **domains;
	size_t n_domains;
} invitation_link_row;

typedef struct invitation_link_spec {
	const char *account_id;
	const char *subaccount_id; /* NULL: the organization */
	const char *account_name;
	const char *created_by;
	const char *token_hash_hex;
	const char *sealed_token;
	unsigned expires_in_hours; /* 0: never */
	unsigned max_uses;
	char **domains;
	size_t n_domains;
} invitation_link_spec;

/* Deletes the active link of the account or subaccount, if any, and creates this one. */
US_MUST_USE us_err invitation_store_link_enable(PGconn *c, us_arena *a, const invitation_link_spec *l, invitation_link_row *out);
/* The active link; NOT_FOUND when none. */
US_MUST_USE us_err invitation_store_link_get(PGconn *c, us_arena *a, const char *account_id,
                                  const char *subaccount_id, invitation_link_row *out);
/* Deletes the active link; NOT_FOUND when none. */
US_MUST_USE us_err invitation_store_link_delete(PGconn *c, us_arena *a, const char *account_id,
                                     const char *subaccount_id, invitation_link_row *out);
US_MUST_USE us_err invitation_store_link_by_token(PGconn *c, us_arena *a, const uint8_t *hash, invitation_link_row *out);
US_MUST_USE us_err invitation_store_link_by_id(PGconn *c, us_arena *a, const char *id, invitation_link_row *out);

/* A join through a link in progress (a claim: docs/invitations.md has its states), or
 * one finished (join_request_id "", working false). */
typedef struct invitation_link_claim_row {
	char *link_id, *email;
	char *user_id;         /* the joiner; "" until known (a new user not created yet) */
	unsigned use_number;   /* which use of the link it took */
	char *request_hash;    /* the joining request's (invitation_request_hash) */
	char *join_request_id; /* "" until the address's owner is asked to confirm it */
	bool working;          /* its steps are being taken (or were, by a session now gone) */
} invitation_link_claim_row;

/* Takes a use of the link for email, if the link is active, unexpired and not used up,
 * and records the claim as this session's (user_id and join_request_id may be NULL);
 * *taken says if it was, *use which use it is. ALREADY_EXISTS, with nothing taken, when
 * email has a claim on the link. */
US_MUST_USE us_err invitation_store_link_claim(PGconn *c, const char *link_id, const char *email,
                                    const char *user_id, const char *request_hash,
                                    const char *join_request_id, bool *taken, unsigned *use);
/* The claim of email on the link (locked until the transaction ends when lock); NOT_FOUND
 * when none. */
US_MUST_USE us_err invitation_store_link_claim_get(PGconn *c, us_arena *a, const char *link_id,
                                        const char *email, bool lock, invitation_link_claim_row *out);
/* Makes a working claim this session's when nobody attends to it (its session is gone, it
 * was let go, or it has been working for stale_s); *taken says if it did. */
US_MUST_USE us_err invitation_store_link_claim_take_over(PGconn *c, const char *link_id, const char *email,
                                              int64_t stale_s, bool *taken);
/* This session stops working on the claim (its step failed): a retry or the recovery loop
 * may take it over at once. */
US_MUST_USE us_err invitation_store_link_claim_let_go(PGconn *c, const char *link_id, const char *email);
/* Records the joiner of a working claim; *kept is false when the claim is gone. */
US_MUST_USE us_err invitation_store_link_claim_user(PGconn *c, const char *link_id, const char *email,
                                         const char *user_id, bool *kept);
/* Drops the claim and gives its use back, cancelling its confirmation request: the join
 * did not happen. */
US_MUST_USE us_err invitation_store_link_release(PGconn *c, const char *link_id, const char *email);
/* The claim becomes a join of the user with the membership, its confirmation request
 * joined; *done is false when the claim is gone. */
US_MUST_USE us_err invitation_store_link_complete(PGconn *c, const char *link_id, const char *email,
                                       const char *user_id, const char *membership_id,
                                       bool *done);
/* The latest finished join of email through the link (with its request); NOT_FOUND when
 * none. */
US_MUST_USE us_err invitation_store_link_join_get(PGconn *c, us_arena *a, const char *link_id,
                                       const char *email, invitation_link_claim_row *out);
/* The user's join through the link, recorded with its use; NOT_FOUND when none. */
US_MUST_USE us_err invitation_store_link_join_of_user(PGconn *c, us_arena *a, const char *link_id,
                                           const char *user_id, invitation_link_claim_row *out);
/* A working claim nobody attends to (see invitation_store_link_claim_take_over), locked for this
 * transaction; NOT_FOUND when none. */
US_MUST_USE us_err invitation_store_unattended_link_claim(PGconn *c, us_arena *a, int64_t stale_s,
                                               invitation_link_claim_row *out);
/* A claim awaiting a confirmation that lapsed (its request expired, or was closed), locked
 * for this transaction; *unconfirmed when the request merely expired. NOT_FOUND when
 * none. */
US_MUST_USE us_err invitation_store_lapsed_link_claim(PGconn *c, us_arena *a, invitation_link_claim_row *out,
                                           bool *unconfirmed);

typedef struct invitation_link_join_row {
	char *link_id, *user_id, *email, *membership_id, *joined_at, *subaccount_id;
} invitation_link_join_row;

US_MUST_USE us_err invitation_store_link_joins(PGconn *c, us_arena *a, const char *account_id, unsigned limit,
                                    invitation_link_join_row **rows, size_t *n);


/* --- joins waiting for their address to be proven --- */

typedef struct invitation_join_request_row {
	char *id, *user_id, *email, *state;
	bool expired;
	char *expires_at;   /* RFC 3339 */
	char *expires_text; /* "2026-11-30 16:00 UTC", for emails */
	char *sealed_token; /* until its email is handed over; "" after */
	invitation_link_row link;
} invitation_join_request_row;

/* The confirmation request of the claim of email on the link (which the caller holds
 * locked), for user_id, expiring in hours; a pending request of the user through the link
 * is replaced. */
US_MUST_USE us_err invitation_store_join_request_open(PGconn *c, us_arena *a, const char *link_id,
                                           const char *email, const char *user_id,
                                           const char *token_hash_hex, const char *sealed_token,
                                           unsigned hours, invitation_join_request_row *out);

/* A request by id, or by its token's hash, with its link; NOT_FOUND when none. */
US_MUST_USE us_err invitation_store_join_request_get(PGconn *c, us_arena *a, const char *id,
                                          invitation_join_request_row *out);
US_MUST_USE us_err invitation_store_join_request_by_token(PGconn *c, us_arena *a, const uint8_t *hash,
                                               invitation_join_request_row *out);

/* Its email is handed over: the claim awaits the confirmation, the sealed token goes. */
US_MUST_USE us_err invitation_store_join_request_mailed(PGconn *c, const char *link_id, const char *email,
                                             const char *request_id);

/* Retention statements (common/housekeeping.h): rows older than $1 days. */
extern const char invitation_store_purge_invitations[];
extern const char invitation_store_purge_batches[];
extern const char invitation_store_purge_link_joins[];
extern const char invitation_store_purge_link_join_requests[];

/* --- DeleteUser sagas (erasure.h) --- */

typedef struct invitation_erasure {
	char *id, *user_id;
	char *email, *name;  /* "" once done */
	char *pseudonym_id;
	char *state;         /* "erasing" or "done" */
} invitation_erasure;

/* user_id's saga, or NOT_FOUND. */
US_MUST_USE us_err invitation_store_erasure_get(PGconn *c, us_arena *a, const char *user_id,
                                                invitation_erasure *out);
/* user_id's saga, begun now (claimed by this session) unless it exists. */
US_MUST_USE us_err invitation_store_erasure_begin(PGconn *c, us_arena *a, const char *user_id,
                                                  const char *email, const char *name,
                                                  invitation_erasure *out);
/* Claims a saga nobody attends to (its session is gone, or it was claimed more than
 * stale_s ago), or NOT_FOUND. */
US_MUST_USE us_err invitation_store_erasure_take(PGconn *c, us_arena *a, int64_t stale_s,
                                                 invitation_erasure *out);
/* Gives this session's claim up, so the recovery loop takes the saga at once. */
US_MUST_USE us_err invitation_store_erasure_let_go(PGconn *c, const char *id);
/* Done: the email and name are forgotten. */
US_MUST_USE us_err invitation_store_erasure_finish(PGconn *c, const char *id);
/* invitationd's own part: invitations to the person and their outbox rows, link claims,
 * join requests and joins are deleted; batches they sent and links they made name the
 * pseudonym. Adds the rows touched to *rows. */
US_MUST_USE us_err invitation_store_erase_user(PGconn *c, const Usher__V1__EraseUserRequest *req,
                                               long *rows);
/* For /metrics: outbox rows waiting and the age of the oldest (0 when none), and accepts
 * and link joins whose steps are being taken (a claim held by a live session). */
US_MUST_USE us_err invitation_store_gauges(PGconn *c, int64_t *outbox, double *outbox_oldest_s,
                                           int64_t *claims);

#endif
