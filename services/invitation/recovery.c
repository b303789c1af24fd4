#include "recovery.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "common/db.h"
#include "joins.h"
#include "common/log.h"
#include "peers.h"
#include "saga.h"
#include "state.h"
#include "store.h"

#define PER_ROUND 100
#define CALL_TIMEOUT_MS 10000

static pthread_t thread;
static bool running;
static bool stopping;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static PGconn *db;

/* Which user the interrupted accept was for: known for an existing user; for a new user,
 * whoever identityd now has at the invited address (the CreateUser step may or may not
 * have run). NULL when there is none. */
static us_err find_user(peer_ctx *p, const inv_row *row, const char **user_id)
{
	*user_id = NULL;
	if (row->accepted_user_id[0] != '\0') {
		*user_id = row->accepted_user_id;
		return US_OK;
	}
	Usher__V1__LookupEmailsReply *users;
	us_err rc = peer_lookup_emails(p, (char **)&row->email, 1, &users);
	if (rc == US_OK && users->n_matches == 1 && users->matches[0]->email_verified)
		*user_id = users->matches[0]->user_id;
	return rc;
}

/* Resumes one interrupted accept, inside the transaction that locked it. */
static us_err resume(us_arena *a, const inv_row *row)
{
	peer_ctx p = {.arena = a};
	us_status_init(&p.status);
	p.opts.timeout_ms = CALL_TIMEOUT_MS;
	p.opts.request_id = us_arena_printf(a, "recovery-%s", row->id);
	const char *user_id;
	us_err rc = find_user(&p, row, &user_id);
	if (rc == US_OK && user_id == NULL) {
		/* No user was created: the accept never really started. The link works again. */
		us_log_fields(US_LOG_INFO, "interrupted accept released", "invitation_id", row->id, NULL);
		rc = store_release(db, row->id);
	} else if (rc == US_OK) {
		inv_saga_result result;
		Usher__V1__Membership *membership;
		rc = inv_saga_finish(db, &p, row, user_id, &result, &membership, NULL);
		if (rc == US_OK && result == SAGA_RETRY)
			rc = US_EUNAVAILABLE;
		if (rc == US_OK)
			us_log_fields(US_LOG_INFO, "interrupted accept resumed", "invitation_id", row->id,
			              NULL);
	}
	peer_ctx_clear(&p);
	return rc;
}

/* Settles up to PER_ROUND joins through links (joins.c). */
static void round_of_join_recovery(void)
{
	for (int i = 0; i < PER_ROUND; i++) {
		us_arena *a = us_arena_new();
		if (a == NULL)
			return;
		bool found = false;
		us_err rc = us_db_ensure(db, "invitation");
		if (rc == US_OK)
			rc = inv_join_recover_one(db, a, &found);
		us_arena_free(a);
		if (rc != US_OK || !found)
			return;
	}
}

/* Resumes up to PER_ROUND accepts, one transaction each. */
static void round_of_recovery(void)
{
	for (int i = 0; i < PER_ROUND; i++) {
		us_arena *a = us_arena_new();
		if (a == NULL)
			return;
		inv_row *rows;
		size_t n = 0;
		us_err rc = us_db_ensure(db, "invitation");
		if (rc == US_OK)
			rc = us_db_begin(db);
		if (rc == US_OK)
			rc = store_stale_accepts(db, a, inv.cfg.accept_stale_s, 1, &rows, &n);
		if (rc == US_OK && n == 1)
			rc = resume(a, &rows[0]);
		if (rc == US_OK)
			rc = us_db_commit(db);
		else
			us_db_rollback(db);
		us_arena_free(a);
		if (rc != US_OK || n == 0)
			return;
	}
}

static void *recovery_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		pthread_mutex_unlock(&mu);
		round_of_recovery();
		round_of_join_recovery();
		pthread_mutex_lock(&mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += inv.cfg.recovery_interval_ms / 1000;
		until.tv_nsec += (inv.cfg.recovery_interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (!stopping)
			pthread_cond_timedwait(&cv, &mu, &until);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

us_err inv_recovery_start(char *err, size_t err_size)
{
	us_err rc = us_db_connect(inv.database_url, "invitation", &db, err, err_size);
	if (rc != US_OK)
		return rc;
	stopping = false;
	if (pthread_create(&thread, NULL, recovery_main, NULL) != 0) {
		PQfinish(db);
		db = NULL;
		snprintf(err, err_size, "could not start the recovery thread");
		return US_EEXHAUSTED;
	}
	running = true;
	return US_OK;
}

void inv_recovery_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = false;
	PQfinish(db);
	db = NULL;
}
