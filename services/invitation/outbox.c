#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/db.h"
#include "common/fault.h"
#include "links.h"
#include "common/log.h"
#include "peers.h"
#include "state.h"
#include "store.h"
#include "view.h"

#define SEND_TIMEOUT_MS 60000
#define RETRY_PAUSE_MS 1000

#define RELAYS_MAX 16

/* Each relay thread takes its own chunks (SKIP LOCKED keeps them apart), so a big batch
 * is handed over on several connections at once. */
typedef struct relay {
	pthread_t thread;
	bool started;
	PGconn *db;
} relay;

static relay relays[RELAYS_MAX];
static int n_relays;
static int wake_pipe[2] = {-1, -1};

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
static Usher__V1__Email *email_for(us_arena *a, const inv_outbox_row *r, bool *failed)
{
	const inv_row *inv_r = &r->inv;
	Usher__V1__Email *e = US_ARENA_NEW(a, Usher__V1__Email);
	Usher__V1__TemplateVariable **vars = US_ARENA_ARRAY(a, Usher__V1__TemplateVariable *, 5);
	if (e == NULL || vars == NULL) {
		*failed = true;
		return NULL;
	}
	usher__v1__email__init(e);
	e->reference = us_arena_printf(a, "invitation:%s", inv_r->id);
	e->variables = vars;
	const char *role = inv_role_name(inv_r->role);
	if (strcmp(r->kind, "invite") == 0) {
		if (r->send_number != inv_r->send_count || strcmp(inv_r->state, "pending") != 0)
			return NULL;
		char *token = inv_link_unseal(a, r->sealed_token);
		if (token == NULL) {
			us_log_fields(US_LOG_ERROR, "outbox token does not open; was the key changed?",
			              "invitation_id", inv_r->id, NULL);
			return NULL;
		}
		e->idempotency_key = us_arena_printf(a, "invite:%s:%d", inv_r->id, r->send_number);
		e->template_ = inv_r->existing_user ? "invitation_existing_user" : "invitation_new_user";
		e->recipient = inv_r->email;
		vars[0] = variable(a, "account_name", inv_r->account_name);
		vars[1] = variable(a, "inviter_name", inv_r->inviter_name);
		vars[2] = variable(a, "role", role);
		vars[3] = variable(a, "link", inv_link_url(a, "i", token));
		vars[4] = variable(a, "expires_at", inv_r->expires_text);
		e->n_variables = 5;
	} else if (inv_r->inviter_email[0] == '\0') {
		return NULL; /* a service principal invited: nobody to tell */
	} else {
		bool accepted = strcmp(r->kind, "accepted") == 0;
		e->idempotency_key = us_arena_printf(a, "%s:%s", r->kind, inv_r->id);
		e->template_ = accepted ? "invitation_accepted" : "invitation_declined";
		e->recipient = inv_r->inviter_email;
		vars[0] = variable(a, "account_name", inv_r->account_name);
		vars[1] = variable(a, "invitee_email", inv_r->email);
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
static us_err send_chunk(us_arena *a, Usher__V1__Email **emails, size_t n)
{
	peer_ctx p = {.arena = a};
	us_status_init(&p.status);
	p.opts.timeout_ms = SEND_TIMEOUT_MS;
	Usher__V1__SendEmailsRequest req = USHER__V1__SEND_EMAILS_REQUEST__INIT;
	us_err rc = US_OK;
	while (n > 0) {
		req.emails = emails;
		req.n_emails = n;
		rc = peer_send_emails(&p, &req);
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
	peer_ctx_clear(&p);
	return rc;
}

/* Hands one chunk of the outbox to usher-notificationd: the rows are taken (deleted) in a
 * transaction that commits only after notificationd has them. Returns how many rows it
 * took (0: the outbox is empty), or -1 when it must wait and retry. */
static int relay_chunk(PGconn *db)
{
	us_arena *a = us_arena_new();
	if (a == NULL)
		return -1;
	inv_outbox_row *rows;
	size_t n = 0;
	int taken = -1;
	us_err rc = us_db_ensure(db, "invitation");
	if (rc == US_OK)
		rc = us_db_begin(db);
	if (rc == US_OK)
		rc = store_outbox_take(db, a, (size_t)inv.cfg.outbox_batch, &rows, &n);
	Usher__V1__Email **emails = rc == US_OK ? US_ARENA_ARRAY(a, Usher__V1__Email *, n ? n : 1) : NULL;
	if (rc == US_OK && emails == NULL)
		rc = US_EEXHAUSTED;
	size_t n_emails = 0;
	bool failed = false;
	for (size_t i = 0; rc == US_OK && i < n; i++) {
		Usher__V1__Email *e = email_for(a, &rows[i], &failed);
		if (e != NULL)
			emails[n_emails++] = e;
	}
	if (failed)
		rc = US_EEXHAUSTED;
	if (rc == US_OK && n > 0)
		us_fault_point("outbox.after_take");
	if (rc == US_OK && n_emails > 0) {
		rc = send_chunk(a, emails, n_emails);
		if (rc == US_OK)
			us_fault_point("outbox.after_send");
	}
	if (rc == US_OK)
		rc = us_db_commit(db);
	if (rc == US_OK)
		taken = (int)n;
	else
		us_db_rollback(db);
	us_arena_free(a);
	return taken;
}

/* Waits for a NOTIFY or the poll interval; false when asked to stop. A notice is
 * followed by a short pause (OUTBOX_COALESCE_MS), so the emails of many small changes
 * (accepts, declines) go to notificationd in one call rather than one call each. */
static bool wait_for_work(PGconn *db, int timeout_ms)
{
	struct pollfd fds[2] = {
		{.fd = PQsocket(db), .events = POLLIN},
		{.fd = wake_pipe[0], .events = POLLIN},
	};
	/* poll() skips a negative fd: a broken connection just waits out the interval. */
	if (poll(fds, 2, timeout_ms) > 0 && (fds[1].revents & POLLIN))
		return false;
	if (!(fds[0].revents & POLLIN))
		return true;
	PQconsumeInput(db);
	PGnotify *note;
	while ((note = PQnotifies(db)) != NULL)
		PQfreemem(note);
	return poll(&fds[1], 1, (int)inv.cfg.outbox_coalesce_ms) <= 0;
}

static void *relay_main(void *arg)
{
	PGconn *db = ((relay *)arg)->db;
	int listening = PQbackendPID(db); /* the session that LISTENs */
	for (;;) {
		int taken;
		while ((taken = relay_chunk(db)) > 0)
			;
		int pause = taken < 0 ? RETRY_PAUSE_MS : (int)inv.cfg.outbox_poll_ms;
		if (!wait_for_work(db, pause))
			break;
		/* A reconnect (here or in relay_chunk) is a new session, without the LISTEN. */
		if (us_db_ensure(db, "invitation") == US_OK && PQbackendPID(db) != listening) {
			if (store_listen_outbox(db) == US_OK)
				listening = PQbackendPID(db);
			else
				us_warn("could not listen for outbox notices");
		}
	}
	return NULL;
}

us_err inv_outbox_start(char *err, size_t err_size)
{
	if (pipe(wake_pipe) != 0) {
		snprintf(err, err_size, "could not create a pipe: %s", strerror(errno));
		return US_EEXHAUSTED;
	}
	us_err rc = US_OK;
	for (n_relays = 0; n_relays < inv.cfg.outbox_relays && rc == US_OK; n_relays++) {
		relay *r = &relays[n_relays];
		rc = us_db_connect(inv.database_url, "invitation", &r->db, err, err_size);
		if (rc == US_OK && (rc = store_listen_outbox(r->db)) != US_OK)
			snprintf(err, err_size, "could not listen for outbox notices");
		if (rc == US_OK && pthread_create(&r->thread, NULL, relay_main, r) != 0) {
			snprintf(err, err_size, "could not start an outbox thread");
			rc = US_EEXHAUSTED;
		}
		r->started = rc == US_OK;
	}
	if (rc != US_OK)
		inv_outbox_stop();
	return rc;
}

void inv_outbox_stop(void)
{
	/* One byte on the pipe wakes every relay: none of them reads it. */
	if (wake_pipe[1] >= 0) {
		ssize_t w = write(wake_pipe[1], "x", 1);
		(void)w;
	}
	for (int i = 0; i < n_relays; i++) {
		if (relays[i].started)
			pthread_join(relays[i].thread, NULL);
		PQfinish(relays[i].db);
		relays[i] = (relay){0};
	}
	n_relays = 0;
	for (int i = 0; i < 2; i++) {
		if (wake_pipe[i] >= 0)
			close(wake_pipe[i]);
		wake_pipe[i] = -1;
	}
}
