#include "outbox.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/fault.h"
#include "common/wake.h"
#include "links.h"
#include "common/log.h"
#include "peers.h"
#include "store.h"
#include "view.h"

#define SEND_TIMEOUT_MS 60000
#define RETRY_PAUSE_MS 1000

#define RELAYS_MAX 16

/* Each relay thread takes its own chunks (SKIP LOCKED keeps them apart), so a big batch
 * is handed over on several connections at once. */
typedef struct relay {
	const invitation_ctx *ctx;
	const invitation_outbox *outbox;
	pthread_t thread;
	bool started;
	PGconn *db;
} relay;

struct invitation_outbox {
	relay relays[RELAYS_MAX];
	int n_relays;
	us_wake *wake; /* the relays' waiting place; stopping it stops them all */
};

static Usher__V1__TemplateVariable *variable(us_arena *a, const char *name, const char *value)
{
	Usher__V1__TemplateVariable *v = US_ARENA_NEW(a, Usher__V1__TemplateVariable);
	if (v == NULL)
		return NULL;
	usher__v1__template_variable__init(v);
	v->name = (char *)name;
	v->value = (char *)value;
	return v;
}

/* The email an outbox row stands for, or NULL when it is no longer worth sending (an
 * invitation resent or closed since). */
static Usher__V1__Email *email_for(const invitation_ctx *ctx, us_arena *a,
                                   const invitation_outbox_row *r, bool *failed)
{
	const invitation_row *row = &r->inv;
	Usher__V1__Email *e = US_ARENA_NEW(a, Usher__V1__Email);
	Usher__V1__TemplateVariable **vars = US_ARENA_ARRAY(a, Usher__V1__TemplateVariable *, 5);
	if (e == NULL || vars == NULL) {
		*failed = true;
		return NULL;
	}
	usher__v1__email__init(e);
	e->reference = us_arena_printf(a, "invitation:%s", row->id);
	e->variables = vars;
	e->locale = row->locale;
	const char *role = invitation_view_role_name(row->role);
	bool reminder = strcmp(r->kind, "reminder") == 0;
	if (strcmp(r->kind, "invite") == 0 || reminder) {
		if (r->send_number != row->send_count || strcmp(row->state, "pending") != 0 ||
		    (reminder && row->expired))
			return NULL;
		char *token = invitation_link_unseal(ctx, a, r->sealed_token);
		if (token == NULL) {
			us_log_fields(US_LOG_ERROR, "outbox token does not open; was the key changed?",
			              "invitation_id", row->id, NULL);
			return NULL;
		}
		if (reminder) {
			e->idempotency_key = us_arena_printf(a, "reminder:%s:%d:%d", row->id,
			                                     r->send_number, r->reminder_number);
			e->template_ = "invitation_reminder";
		} else {
			e->idempotency_key = us_arena_printf(a, "invite:%s:%d", row->id, r->send_number);
			e->template_ = row->existing_user ? "invitation_existing_user"
			                                  : "invitation_new_user";
		}
		e->recipient = row->email;
		vars[0] = variable(a, "account_name", row->account_name);
		vars[1] = variable(a, "inviter_name", row->inviter_name);
		vars[2] = variable(a, "role", role);
		vars[3] = variable(a, "link", invitation_link_url(ctx, a, "i", token));
		vars[4] = variable(a, "expires_at", row->expires_text);
		e->n_variables = 5;
	} else if (row->inviter_email[0] == '\0') {
		return NULL; /* a service principal invited: nobody to tell */
	} else {
		/* accepted, declined or expired: the inviter is told. An expiry is per send (a
		 * reinvited invitation may expire again). */
		if (strcmp(r->kind, "expired") == 0) {
			e->idempotency_key = us_arena_printf(a, "expired:%s:%d", row->id, r->send_number);
			e->template_ = "invitation_expired";
		} else {
			bool accepted = strcmp(r->kind, "accepted") == 0;
			e->idempotency_key = us_arena_printf(a, "%s:%s", r->kind, row->id);
			e->template_ = accepted ? "invitation_accepted" : "invitation_declined";
		}
		e->recipient = row->inviter_email;
		vars[0] = variable(a, "account_name", row->account_name);
		vars[1] = variable(a, "invitee_email", row->email);
		vars[2] = variable(a, "role", role);
		e->n_variables = 3;
	}
	for (size_t i = 0; i < e->n_variables; i++) {
		if (vars[i] == NULL || vars[i]->value == NULL)
			*failed = true;
	}
	if (e->idempotency_key == NULL || e->reference == NULL)
		*failed = true;
	return e;
}

/* Sends the chunk. An email notificationd refuses as invalid would block the outbox for
 * ever, so it is dropped (and logged) and the rest is sent. */
static us_err send_chunk(const invitation_ctx *ctx, us_arena *a, Usher__V1__Email **emails,
                         size_t n, const char *request_id)
{
	invitation_peer p = {.ctx = ctx, .arena = a};
	us_status_init(&p.status);
	p.opts.timeout_ms = SEND_TIMEOUT_MS;
	/* Under the id of the request that wrote the rows (a fresh one when none). */
	p.opts.request_id = request_id[0] != '\0' ? request_id : NULL;
	Usher__V1__SendEmailsRequest req = USHER__V1__SEND_EMAILS_REQUEST__INIT;
	us_err rc = US_OK;
	while (n > 0) {
		req.emails = emails;
		req.n_emails = n;
		rc = invitation_peer_send_emails(&p, &req);
		if (rc != US_EINVAL || p.status.n_violations == 0)
			break;
		size_t kept = 0;
		for (size_t i = 0; i < n; i++) {
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "emails[%zu]", i);
			bool refused = false;
			for (size_t v = 0; v < p.status.n_violations && !refused; v++)
				refused = strncmp(p.status.violations[v].field, prefix, strlen(prefix)) == 0;
			if (refused)
				us_log_fields(US_LOG_ERROR, "usher-notificationd refused an email; dropped",
				              "reference", emails[i]->reference, "reason",
				              p.status.violations[0].description, NULL);
			else
				emails[kept++] = emails[i];
		}
		if (kept == n)
			break; /* nothing named: retry later rather than guess */
		n = kept;
	}
	if (rc != US_OK)
		us_log_fields(US_LOG_WARN, "could not hand emails to usher-notificationd; will retry",
		              "code", us_err_name(rc), "message", p.status.message, NULL);
	invitation_peer_clear(&p);
	return rc;
}

/* Hands one chunk of the outbox to usher-notificationd: the rows are taken (deleted) in a
 * transaction that commits only after notificationd has them. Returns how many rows it
 * took (0: the outbox is empty), or -1 when it must wait and retry. */
static int relay_chunk(const invitation_ctx *ctx, PGconn *db)
{
	us_arena *a = us_arena_new();
	if (a == NULL)
		return -1;
	invitation_outbox_row *rows;
	size_t n = 0;
	int taken = -1;
	us_err rc = us_db_ensure(db, "invitation");
	if (rc == US_OK)
		rc = us_db_begin(db);
	if (rc == US_OK)
		rc = invitation_store_outbox_take(db, a, (size_t)ctx->settings.outbox_batch, &rows, &n);
	Usher__V1__Email **emails = rc == US_OK ? US_ARENA_ARRAY(a, Usher__V1__Email *, n ? n : 1) : NULL;
	const char **request_ids = rc == US_OK ? US_ARENA_ARRAY(a, const char *, n ? n : 1) : NULL;
	if (rc == US_OK && (emails == NULL || request_ids == NULL))
		rc = US_EEXHAUSTED;
	size_t n_emails = 0;
	bool failed = false;
	for (size_t i = 0; rc == US_OK && i < n; i++) {
		Usher__V1__Email *e = email_for(ctx, a, &rows[i], &failed);
		if (e != NULL) {
			request_ids[n_emails] = rows[i].request_id;
			emails[n_emails++] = e;
		}
	}
	if (failed)
		rc = US_EEXHAUSTED;
	if (rc == US_OK && n > 0)
		us_fault_point("outbox.after_take");
	/* One call per run of rows from the same request (a batch's rows are one run), so
	 * notificationd logs each email under the request that caused it. */
	for (size_t start = 0, end; rc == US_OK && start < n_emails; start = end) {
		for (end = start + 1;
		     end < n_emails && strcmp(request_ids[end], request_ids[start]) == 0; end++)
			;
		rc = send_chunk(ctx, a, emails + start, end - start, request_ids[start]);
	}
	if (rc == US_OK && n_emails > 0)
		us_fault_point("outbox.after_send");
	/* Nothing taken, nothing to commit (a commit would only cost a round trip). */
	if (rc == US_OK && n > 0)
		rc = us_db_commit(db);
	if (rc == US_OK)
		taken = (int)n;
	if (rc != US_OK || n == 0)
		us_db_rollback(db);
	/* Invitations sent: the outbox_taken trigger wrote their events (for the event relay
	 * only: the outbox relays waking each other after each take would take smaller runs). */
	if (taken > 0)
		us_wake_committed_topic(US_WAKE_EVENTS);
	us_arena_free(a);
	return taken;
}

static void *relay_main(void *arg)
{
	const relay *r = arg;
	us_wake *wake = r->outbox->wake;
	for (;;) {
		/* Commits announced from here on bring another look. Chunk after chunk while there
		 * is more, but a stop waits for one chunk only, not for the whole outbox (50,000
		 * rows took past the minute a stop is given). */
		unsigned long mark = us_wake_mark(wake);
		int taken;
		do
			taken = relay_chunk(r->ctx, r->db);
		while (taken > 0 && !us_wake_stopping(wake));
		int pause = taken < 0 ? RETRY_PAUSE_MS : (int)r->ctx->settings.outbox_poll_ms;
		us_wake_reason why = us_wake_wait(wake, mark, pause);
		/* After a commit, a short pause (OUTBOX_COALESCE_MS): the emails of many small
		 * changes (accepts, declines) go to notificationd in one call, not one each. */
		if (why == US_WAKE_STOP ||
		    (why == US_WAKE_COMMIT &&
		     !us_wake_pause(wake, (int)r->ctx->settings.outbox_coalesce_ms)))
			break;
	}
	return NULL;
}

us_err invitation_outbox_start(const invitation_ctx *ctx, invitation_outbox **out, char *err,
                              size_t err_size)
{
	invitation_outbox *o = calloc(1, sizeof(*o));
	*out = NULL;
	if (o == NULL) {
		snprintf(err, err_size, "out of memory starting the outbox relays");
		return US_EEXHAUSTED;
	}
	if ((o->wake = us_wake_new(US_WAKE_OUTBOX)) == NULL) {
		snprintf(err, err_size, "out of memory starting the outbox relays");
		invitation_outbox_stop(o);
		return US_EEXHAUSTED;
	}
	us_err rc = US_OK;
	for (o->n_relays = 0; o->n_relays < ctx->settings.outbox_relays && rc == US_OK; o->n_relays++) {
		relay *r = &o->relays[o->n_relays];
		r->ctx = ctx;
		r->outbox = o;
		rc = us_db_connect(ctx->database_url, "invitation", &r->db, err, err_size);
		if (rc == US_OK && pthread_create(&r->thread, NULL, relay_main, r) != 0) {
			snprintf(err, err_size, "could not start an outbox thread");
			rc = US_EEXHAUSTED;
		}
		r->started = rc == US_OK;
	}
	if (rc != US_OK) {
		invitation_outbox_stop(o);
		return rc;
	}
	*out = o;
	return US_OK;
}

void invitation_outbox_stop(invitation_outbox *o)
{
	if (o == NULL)
		return;
	if (o->wake != NULL)
		us_wake_stop(o->wake);
	for (int i = 0; i < o->n_relays; i++) {
		if (o->relays[i].started)
			pthread_join(o->relays[i].thread, NULL);
		PQfinish(o->relays[i].db);
	}
	us_wake_free(o->wake);
	free(o);
}
