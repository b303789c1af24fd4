/* All of usher-identityd's SQL. Users come back as usher.v1.User messages allocated in
 * the caller's arena; token and throttle hashes go in as raw 32-byte hashes. Every
 * function returns the mapped us_err (NOT_FOUND and ALREADY_EXISTS as documented) and
 * sets its out-parameters only on success. */
#ifndef IDENTITY_STORE_H
#define IDENTITY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "usher/v1/erasure.pb-c.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/token.h"
#include "throttle.h"
#include "usher/v1/identity.pb-c.h"

typedef struct identity_new_user {
	const char *email; /* normalised */
	const char *name;
	const char *phone; /* "" for none */
	const char *password_hash;
	bool email_verified;
} identity_new_user;

/* ALREADY_EXISTS when another user has the email. */
US_MUST_USE us_err identity_store_create_user(PGconn *db, us_arena *a, const identity_new_user *u,
                                              Usher__V1__User **out);

/* Whether a user whose address is verified has email. An unverified claim does not count:
 * it never blocks anyone (identity_store_release_claim()). */
US_MUST_USE us_err identity_store_email_taken(PGconn *db, const char *email, bool *taken);

/* Takes email from the user who only claimed it (unverified), unless that is except_id
 * (may be NULL): their email becomes NULL and their sessions end. *released (may be NULL)
 * gets that user's id in a, or NULL when nobody held a claim. */
US_MUST_USE us_err identity_store_release_claim(PGconn *db, us_arena *a, const char *email,
                                                const char *except_id, char **released);

/* Marks user_id's address verified, if it is still email and the user active; NOT_FOUND
 * otherwise. */
US_MUST_USE us_err identity_store_verify_email(PGconn *db, us_arena *a, const char *user_id,
                                               const char *email, Usher__V1__User **out);

/* Counts one request for subject in a window of window_s seconds from its first;
 * *count gets the count with this one. */
US_MUST_USE us_err identity_store_count_request(PGconn *db, const uint8_t *subject,
                                                int64_t window_s, int64_t *count);

/* Records an email verification link of user_id sent to email, replacing the user's unused
 * ones. */
US_MUST_USE us_err identity_store_open_email_verification(
        PGconn *db, us_arena *a, const char *user_id, const char *email,
        const uint8_t token_hash[US_TOKEN_HASH_BYTES], int64_t ttl_hours, char **id,
        char **expires_at);

/* Uses up the unused, unexpired verification link token_hash and marks its address
 * verified, if it is still its user's and the user active: *user as it now is. NOT_FOUND
 * otherwise. */
US_MUST_USE us_err identity_store_use_email_verification(
        PGconn *db, us_arena *a, const uint8_t token_hash[US_TOKEN_HASH_BYTES],
        Usher__V1__User **user);

/* Records a password reset of user_id sent to email, replacing the user's unused ones. */
US_MUST_USE us_err identity_store_open_password_reset(
        PGconn *db, us_arena *a, const char *user_id, const char *email,
        const uint8_t token_hash[US_TOKEN_HASH_BYTES], int64_t ttl_minutes, char **reset_id,
        char **expires_at);

/* The unused, unexpired reset with that token hash whose address is still its user's,
 * locked for the transaction: its user (with the address). NOT_FOUND otherwise. */
US_MUST_USE us_err identity_store_find_password_reset(
        PGconn *db, us_arena *a, const uint8_t token_hash[US_TOKEN_HASH_BYTES],
        Usher__V1__User **user);

/* Uses the reset: the new password hash, the address verified, every session and other
 * reset of the user gone. */
US_MUST_USE us_err identity_store_use_password_reset(
        PGconn *db, const uint8_t token_hash[US_TOKEN_HASH_BYTES], const char *user_id,
        const char *password_hash);

/* NOT_FOUND when there is no such user. */
US_MUST_USE us_err identity_store_get_user(PGconn *db, us_arena *a, const char *id,
                                           Usher__V1__User **out);

/* The users among ids (canonical UUIDs), each once, in the order first asked for. */
US_MUST_USE us_err identity_store_get_users(PGconn *db, us_arena *a, const char *const *ids,
                                            size_t n, Usher__V1__User ***out, size_t *n_out);

typedef struct identity_email_hit {
	size_t index; /* into the emails asked for */
	char *user_id;
	char *name;
	bool email_verified;
} identity_email_hit;

/* Which of emails (valid, normalised) belong to users: one statement, capped at
 * timeout_ms when there are more than a hundred. Hits come in the order of emails. */
US_MUST_USE us_err identity_store_lookup_emails(PGconn *db, us_arena *a, const char *const *emails,
                                                size_t n, int64_t timeout_ms,
                                                identity_email_hit **out, size_t *n_out);

/* The user with that email (or id) and their password hash; NOT_FOUND when none. */
US_MUST_USE us_err identity_store_credentials_by_email(PGconn *db, us_arena *a, const char *email,
                                                       Usher__V1__User **user, char **hash);
US_MUST_USE us_err identity_store_credentials_by_id(PGconn *db, us_arena *a, const char *id,
                                                    Usher__V1__User **user, char **hash);

/* NOT_FOUND when there is no such user. phone "" removes it. */
US_MUST_USE us_err identity_store_update_profile(PGconn *db, us_arena *a, const char *id,
                                                 const char *name, const char *phone,
                                                 Usher__V1__User **out);

/* Sets the password hash and ends the user's sessions but keep (NULL: all of them). */
US_MUST_USE us_err identity_store_set_password(PGconn *db, const char *user_id, const char *hash,
                                               const uint8_t *keep_session_hash);

/* The counts of the pair, the email and the network, in out[0..2]. */
US_MUST_USE us_err identity_store_throttle_read(PGconn *db, const identity_throttle_subjects *s,
                                                int64_t window_s, int64_t known_days,
                                                identity_throttle_count out[3]);

/* Counts one failure for each subject, starting over where the window has passed, and
 * forgets subjects with nothing left to remember. */
US_MUST_USE us_err identity_store_throttle_fail(PGconn *db, const identity_throttle_subjects *s,
                                                int64_t window_s, int64_t known_days);

/* Forgets the failures counted against an email from every network (a password reset). */
US_MUST_USE us_err identity_store_throttle_clear(PGconn *db, const uint8_t *subject);

typedef struct identity_new_session {
	const char *user_id;
	const uint8_t *token_hash;  /* US_TOKEN_HASH_BYTES */
	int64_t ttl_hours;
	const uint8_t *pair_subject; /* its failures are cleared and its success recorded */
	const char *old_hash;       /* the hash the password was verified against */
	const char *new_hash;       /* NULL, or a stronger hash to put in its place */
} identity_new_session;

/* In one statement: the session, the upgraded hash (unless the password changed
 * meanwhile), the pair's failures cleared (and its success remembered) and the user's
 * expired sessions gone. */
US_MUST_USE us_err identity_store_open_session(PGconn *db, us_arena *a,
                                               const identity_new_session *s,
                                               char **session_id, char **expires_at);

/* The live session with that token hash and its active user; NOT_FOUND otherwise. */
US_MUST_USE us_err identity_store_resolve_session(PGconn *db, us_arena *a,
                                                  const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                                  Usher__V1__User **user, char **session_id,
                                                  char **expires_at);

/* Ends the session with that token hash; none is fine. */
US_MUST_USE us_err identity_store_end_session(PGconn *db,
                                              const uint8_t token_hash[US_TOKEN_HASH_BYTES]);

/* Records a pending change of user_id's email to new_email, replacing any pending one. */
US_MUST_USE us_err identity_store_open_email_change(PGconn *db, us_arena *a, const char *user_id,
                                                    const char *new_email,
                                                    const uint8_t token_hash[US_TOKEN_HASH_BYTES],
                                                    int64_t ttl_hours, char **change_id,
                                                    char **expires_at);

/* Uses the pending, unexpired change with that token hash and applies it (the address
 * becomes verified, taken from a user who only claimed it). NOT_FOUND when there is none;
 * ALREADY_EXISTS when a verified user has the address since. */
US_MUST_USE us_err identity_store_confirm_email_change(
        PGconn *db, us_arena *a, const uint8_t token_hash[US_TOKEN_HASH_BYTES],
        Usher__V1__User **out);

/* Retention statements (common/housekeeping.h): rows older than $1 days. Sessions,
 * email changes and password resets count from their expiry; throttle rows from their
 * last use. */
extern const char identity_store_purge_sessions[];
extern const char identity_store_purge_email_changes[];
extern const char identity_store_purge_password_resets[];
extern const char identity_store_purge_email_verifications[];
extern const char identity_store_purge_login_throttle[];
extern const char identity_store_purge_request_counters[];

/* Deletes the user (their sessions, email changes and password resets go with them) and
 * any password reset or email change naming their address. Adds the rows to *rows. */
US_MUST_USE us_err identity_store_erase_user(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows);

#endif
