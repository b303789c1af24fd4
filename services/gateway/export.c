#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "common/log.h"
#include "common/validate.h"
#include "report.h"
#include "session.h"
#include "usher/v1/invitation.pb-c.h"

/* One export in progress. It outlives the request's handler (libmicrohttpd reads the body
 * later, on its own schedule), so it owns copies of everything a call needs. */
typedef struct pending_export {
	us_rpc_client *invitation; /* borrowed: the gateway's, which outlives its connections */
	char account_id[64];       /* a UUID, checked */
	char actor[64];            /* "" with an API key */
	us_caller_key key;         /* the API key the calls are signed with, when has_key */
	bool has_key;
	char request_id[US_REQUEST_ID_MAX + 1];
	char traceparent[US_TRACEPARENT_SIZE];
	char page_token[128];      /* of the next page; "" for the first */
	bool last_page;            /* read: nothing follows what is in csv */
	us_buf csv;                /* the page being sent */
	size_t sent;               /* of csv */
} pending_export;

static void export_free(void *cls)
{
	pending_export *e = cls;
	if (e == NULL)
		return;
	us_caller_key_wipe(&e->key);
	us_buf_free(&e->csv);
	free(e);
}

static const char *role_name(Usher__V1__Role role)
{
	switch (role) {
	case USHER__V1__ROLE__ROLE_OWNER: return "owner";
	case USHER__V1__ROLE__ROLE_ADMIN: return "admin";
	case USHER__V1__ROLE__ROLE_MODERATOR: return "moderator";
	default: return "member";
	}
}

static void csv_row(us_buf *out, const Usher__V1__Invitation *x)
{
	gateway_report_cell(out, x->email);
	us_buf_putc(out, ',');
	gateway_report_cell(out, role_name(x->role));
	us_buf_puts(out, ",\"pending\",");
	gateway_report_cell(out, x->last_sent_at);
	us_buf_putc(out, ',');
	gateway_report_cell(out, x->expires_at);
	us_buf_printf(out, ",%u\r\n", x->send_count);
}

/* Reads the next page into e->csv (after what was sent), with its own arena: the memory
 * of one page at a time. */
static us_err next_page(pending_export *e, us_status *st)
{
	us_arena *a = us_arena_new();
	if (a == NULL)
		return us_status_set(st, US_EEXHAUSTED, "out of memory");
	Usher__V1__ListInvitationsRequest in = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	in.account_id = e->account_id;
	in.state = USHER__V1__INVITATION_STATE__INVITATION_PENDING;
	in.page_size = GATEWAY_EXPORT_PAGE_SIZE;
	in.page_token = e->page_token;
	in.summary_only = true; /* the columns of the file, read and sent several times cheaper */
	/* A read: no idempotency key. */
	us_rpc_call_opts opts = {
		.timeout_ms = GATEWAY_CALL_TIMEOUT_MS,
		.actor_user_id = e->has_key ? NULL : e->actor,
		.signer = e->has_key ? &e->key : NULL,
		.request_id = e->request_id,
		.traceparent = e->traceparent,
	};
	Usher__V1__ListInvitationsReply *page;
	us_err rc = us_rpc_call(e->invitation, "usher.v1.InvitationService/ListInvitations", &opts,
	                        &in.base, &usher__v1__list_invitations_reply__descriptor, a,
	                        (ProtobufCMessage **)&page, st);
	if (rc == US_OK && strlen(page->next_page_token) >= sizeof(e->page_token))
		rc = us_status_set(st, US_EINTERNAL, "a page token longer than expected");
	if (rc == US_OK) {
		us_buf_reset(&e->csv);
		e->sent = 0;
		for (size_t i = 0; i < page->n_invitations; i++)
			csv_row(&e->csv, page->invitations[i]);
		snprintf(e->page_token, sizeof(e->page_token), "%s", page->next_page_token);
		e->last_page = page->next_page_token[0] == '\0';
		if (us_buf_failed(&e->csv))
			rc = us_status_set(st, US_EEXHAUSTED, "out of memory");
	}
	us_arena_free(a);
	return rc;
}

/* libmicrohttpd's reader: what is left of the page, then the next page, until the last. */
static ssize_t read_csv(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	pending_export *e = cls;
	while (e->sent == e->csv.len) {
		if (e->last_page)
			return MHD_CONTENT_READER_END_OF_STREAM;
		us_status st;
		us_status_init(&st);
		us_err rc = next_page(e, &st);
		if (rc != US_OK) {
			us_log_set_request(e->request_id, NULL);
			us_log_fields(US_LOG_WARN, "pending export cut short", "error", us_strerror(rc),
			              "reason", st.message, NULL);
			us_log_set_request(NULL, NULL);
		}
		us_status_clear(&st);
		if (rc != US_OK)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = e->csv.len - e->sent < max ? e->csv.len - e->sent : max;
	memcpy(buf, e->csv.data + e->sent, n);
	e->sent += n;
	return (ssize_t)n;
}

/* Does the request carry a service principal's API key rather than a session? */
static bool is_api_key(const gateway_auth *auth)
{
	return auth->token != NULL && !auth->via_cookie &&
	       strncmp(auth->token, US_CALLER_SECRET_PREFIX, strlen(US_CALLER_SECRET_PREFIX)) == 0;
}

void gateway_export_pending(gateway_request *req, gateway_response *res)
{
	char account[64], rest[32];
	if (sscanf(req->path, "/v1/accounts/%63[^/]/invitations/%31s", account, rest) != 2 ||
	    strcmp(rest, "pending.csv") != 0) {
		gateway_http_reply_error(res, US_ENOTFOUND, "not found", NULL);
		return;
	}
	if (us_uuid_check(account) != NULL) {
		us_status st;
		us_status_init(&st);
		us_status_add_violation(&st, "account_id", "must be a UUID");
		gateway_http_reply_error(res, US_EINVAL, "invalid account_id: must be a UUID", &st);
		us_status_clear(&st);
		return;
	}
	pending_export *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		gateway_http_reply_error(res, US_EEXHAUSTED, "out of memory", NULL);
		return;
	}
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	if (is_api_key(&auth)) {
		if (us_caller_key_parse(auth.token, &e->key) != 0) {
			export_free(e);
			gateway_http_reply_error(res, US_EUNAUTHENTICATED, "malformed API key", NULL);
			return;
		}
		e->has_key = true;
	} else {
		Usher__V1__User *user = gateway_session_signed_in(req, res, &auth);
		if (user == NULL) {
			export_free(e);
			return;
		}
		snprintf(e->actor, sizeof(e->actor), "%s", user->id);
	}
	e->invitation = req->ctx->backends[GATEWAY_INVITATION];
	snprintf(e->account_id, sizeof(e->account_id), "%s", account);
	snprintf(e->request_id, sizeof(e->request_id), "%s", req->request_id);
	snprintf(e->traceparent, sizeof(e->traceparent), "%s", req->traceparent);
	/* The first page now: a refusal (no right to list, no such account) is answered as
	 * such, before any 200. */
	us_status st;
	us_status_init(&st);
	us_err rc = next_page(e, &st);
	if (rc != US_OK) {
		export_free(e);
		gateway_http_reply_error(res, rc, st.message, &st);
		us_status_clear(&st);
		return;
	}
	us_status_clear(&st);
	/* The header goes before the first page's rows. */
	us_buf first = US_BUF_INIT;
	us_buf_puts(&first, "email,role,status,sent_at,expires_at,times_sent\r\n");
	us_buf_append(&first, e->csv.data, e->csv.len);
	if (us_buf_failed(&first)) {
		us_buf_free(&first);
		export_free(e);
		gateway_http_reply_error(res, US_EEXHAUSTED, "out of memory", NULL);
		return;
	}
	us_buf_free(&e->csv);
	e->csv = first;
	res->status = 200;
	res->stream = read_csv;
	res->stream_cls = e;
	res->stream_free = export_free;
	res->content_type = "text/csv; charset=utf-8";
	res->disposition = "attachment; filename=\"pending-invitations.csv\"";
}
