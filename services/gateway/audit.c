#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/audit_merge.h"
#include "common/limits.h"
#include "common/pbjson.h"
#include "session.h"

/* The daemons that keep an account's audit rows and let its members read them. */
static const int audit_backends[] = {GATEWAY_TENANCY, GATEWAY_INVITATION};
#define N_AUDIT_BACKENDS (sizeof(audit_backends) / sizeof(audit_backends[0]))

static const char *query(gateway_request *req, const char *name)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
	return v != NULL ? v : "";
}

static void bad(gateway_response *res, const char *field, const char *why)
{
	us_status st;
	us_status_init(&st);
	us_status_add_violation(&st, field, "%s", why);
	char message[300];
	snprintf(message, sizeof(message), "invalid %s: %s", field, why);
	gateway_http_reply_error(res, US_EINVAL, message, &st);
	us_status_clear(&st);
}

/* The filters; the daemons check each of them, the gateway only their sizes. */
static bool read_filters(gateway_request *req, gateway_response *res,
                         Usher__V1__ListAuditRequest *lr, bool *csv)
{
	static const char *const names[] = {"actor", "subject", "action", "since", "until",
	                                    "page_token", "format", "page_size"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(query(req, names[i])) > 100) {
			bad(res, names[i], "is too long");
			return false;
		}
	}
	lr->actor_id = (char *)query(req, "actor");
	lr->subject_id = (char *)query(req, "subject");
	lr->action = (char *)query(req, "action");
	lr->since = (char *)query(req, "since");
	lr->until = (char *)query(req, "until");
	lr->page_token = (char *)query(req, "page_token");
	const char *format = query(req, "format");
	if (format[0] != '\0' && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
		bad(res, "format", "must be json or csv");
		return false;
	}
	*csv = strcmp(format, "csv") == 0;
	const char *size = query(req, "page_size");
	if (size[0] != '\0') {
		char *end;
		long n = strtol(size, &end, 10);
		if (*end != '\0' || n < 1 || n > US_PAGE_SIZE_MAX) {
			bad(res, "page_size", "must be a number from 1 to " US_LIMIT_TEXT(US_PAGE_SIZE_MAX));
			return false;
		}
		lr->page_size = (uint32_t)n;
	}
	return true;
}

/* Every page, as CSV. */
static void export_csv(gateway_request *req, gateway_response *res, us_rpc_client *const *clients,
                       const us_rpc_call_opts *opts, Usher__V1__ListAuditRequest *lr)
{
	us_buf csv = US_BUF_INIT;
	us_audit_csv_header(&csv);
	lr->page_size = US_PAGE_SIZE_MAX;
	size_t total = 0;
	us_status st;
	us_status_init(&st);
	us_err rc = US_OK;
	for (;;) {
		Usher__V1__ListAuditReply *page;
		rc = us_audit_merge_page(clients, N_AUDIT_BACKENDS, opts, lr, req->arena, &page, &st);
		if (rc != US_OK)
			break;
		total += page->n_entries;
		if (total > GATEWAY_AUDIT_EXPORT_MAX) {
			rc = us_status_set(&st, US_EPRECONDITION,
			                   "more than %d entries match: narrow the time range (since, until)",
			                   GATEWAY_AUDIT_EXPORT_MAX);
			break;
		}
		us_audit_csv_rows(&csv, page->entries, page->n_entries);
		if (page->next_page_token[0] == '\0')
			break;
		lr->page_token = page->next_page_token;
	}
	char *text = rc == US_OK && !us_buf_failed(&csv)
	                     ? us_arena_strndup(req->arena, csv.data, csv.len)
	                     : NULL;
	size_t len = csv.len;
	us_buf_free(&csv);
	if (rc != US_OK)
		gateway_http_reply_error(res, rc, st.message, &st);
	else if (text == NULL)
		gateway_http_reply_error(res, US_EEXHAUSTED, "the export is too large", NULL);
	us_status_clear(&st);
	if (rc != US_OK || text == NULL)
		return;
	res->status = 200;
	res->raw = text;
	res->raw_len = len;
	res->content_type = "text/csv; charset=utf-8";
	res->disposition = "attachment; filename=\"audit-log.csv\"";
}

void gateway_audit_list(gateway_request *req, gateway_response *res)
{
	char account[64];
	if (sscanf(req->path, "/accounts/%63[^/]/audit", account) != 1) {
		gateway_http_reply_error(res, US_ENOTFOUND, "not found", NULL);
		return;
	}
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	Usher__V1__User *user = gateway_session_signed_in(req, res, &auth);
	if (user == NULL)
		return;
	Usher__V1__ListAuditRequest lr = USHER__V1__LIST_AUDIT_REQUEST__INIT;
	lr.account_id = account;
	bool csv = false;
	if (!read_filters(req, res, &lr, &csv))
		return;
	us_rpc_client *clients[N_AUDIT_BACKENDS];
	for (size_t i = 0; i < N_AUDIT_BACKENDS; i++)
		clients[i] = req->ctx->backends[audit_backends[i]];
	/* Reads: the backend path's options without an idempotency key. */
	us_rpc_call_opts opts = gateway_backend_opts(req, user->id);
	if (csv) {
		export_csv(req, res, clients, &opts, &lr);
		return;
	}
	Usher__V1__ListAuditReply *page;
	us_status st;
	us_status_init(&st);
	us_err rc = us_audit_merge_page(clients, N_AUDIT_BACKENDS, &opts, &lr, req->arena, &page, &st);
	if (rc == US_OK)
		gateway_http_reply_json(res, 200, us_pbjson_encode(&page->base));
	else
		gateway_http_reply_error(res, rc, st.message, &st);
	us_status_clear(&st);
}
