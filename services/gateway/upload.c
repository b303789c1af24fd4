#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "console_admin.h"
#include "common/limits.h"
#include "common/validate.h"
#include "context.h"
#include "form.h"
#include "report.h"
#include "session.h"
#include "upload_body.h"
#include "usher/v1/invitation.pb-c.h"

typedef struct upload {
	gateway_upload_body *body;
	const char *user_id; /* the signed-in user, in the request's arena */
	char account[64];
	/* An HTML form cannot send the X-CSRF-Token header: the token is then its csrf_token
	 * field, checked once the body is read and before anything is done with it. */
	const char *form_csrf; /* the token the field must hold, or NULL (checked already) */
} upload;

static void upload_free(void *p)
{
	upload *u = p;
	if (u == NULL)
		return;
	gateway_upload_body_free(u->body);
	free(u);
}

/* Did a page of this very host send the request? A browser sets Origin on a form's post
 * and no page can change it. Only such a form may bring its CSRF token as a field, read
 * after the body: from anywhere else, an upload without the X-CSRF-Token header is refused
 * before a byte of its body is read. */
static bool same_origin(gateway_request *req)
{
	const char *origin = gateway_http_header(req, "Origin");
	const char *host = gateway_http_header(req, MHD_HTTP_HEADER_HOST);
	const char *sep = origin != NULL ? strstr(origin, "://") : NULL;
	return sep != NULL && host != NULL && strcmp(sep + 3, host) == 0;
}

/* The headers are in: who asks, whether they may, and whether the body can be read are
 * settled before a byte of it is. */
static bool begin(gateway_request *req, gateway_response *res)
{
	char account[64];
	if (sscanf(req->path, "/accounts/%63[^/]/", account) != 1) {
		gateway_http_reply_error(res, US_ENOTFOUND, "not found", NULL);
		return false;
	}
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	Usher__V1__User *user = gateway_session_signed_in(req, res, &auth);
	if (user == NULL)
		return false;
	bool form_csrf = auth.via_cookie && gateway_http_header(req, GATEWAY_CSRF_HEADER) == NULL &&
	                 same_origin(req);
	if (!form_csrf && !gateway_session_csrf_ok(req, &auth)) {
		gateway_http_reply_error(res, US_EDENIED, "missing or wrong CSRF token (X-CSRF-Token)",
		                         NULL);
		return false;
	}
	upload *u = calloc(1, sizeof(*u));
	if (u == NULL) {
		gateway_http_reply_error(res, US_EEXHAUSTED, "out of memory", NULL);
		return false;
	}
	char err[200];
	us_err rc = gateway_upload_body_new(gateway_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE),
	                                    US_BATCH_MAX, &u->body, err, sizeof(err));
	if (rc != US_OK) {
		free(u);
		gateway_http_reply_error(res, rc, err, NULL);
		return false;
	}
	u->user_id = user->id;
	if (form_csrf)
		u->form_csrf = gateway_session_csrf_token(req->ctx, req->arena, auth.token);
	snprintf(u->account, sizeof(u->account), "%s", account);
	req->upload = u;
	req->upload_free = upload_free;
	return true;
}

bool gateway_upload_chunk(gateway_request *req, gateway_response *res, const char *data,
                          size_t len)
{
	if (data == NULL)
		return begin(req, res);
	upload *u = req->upload;
	return u != NULL && gateway_upload_body_feed(u->body, data, len) == US_OK;
}

/* An option: the form field, else the query parameter, else "". */
static const char *option(gateway_request *req, const upload *u, int which)
{
	const char *field = gateway_upload_body_option(u->body, which);
	if (field != NULL && field[0] != '\0')
		return field;
	const char *q = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	                                            gateway_upload_body_option_names[which]);
	return q != NULL ? q : "";
}

static void bad_option(gateway_response *res, const char *name, const char *why)
{
	us_status st;
	us_status_init(&st);
	us_status_add_violation(&st, name, "%s", why);
	char message[200];
	snprintf(message, sizeof(message), "invalid %s: %s", name, why);
	gateway_http_reply_error(res, US_EINVAL, message, &st);
	us_status_clear(&st);
}

static void out_of_memory(gateway_response *res)
{
	gateway_http_reply_error(res, US_EEXHAUSTED, "out of memory", NULL);
}

typedef enum { REPORT_JSON, REPORT_CSV, REPORT_HTML } report_kind;

/* Builds the request's role, scope, products and dry run from the options. */
static bool read_options(gateway_request *req, gateway_response *res, const upload *u,
                         Usher__V1__CreateInvitationsRequest *in, Usher__V1__Scope *scope,
                         report_kind *report)
{
	static const char *const roles[] = {"member", "moderator", "admin", "owner"};
	const char *role = option(req, u, GATEWAY_UPLOAD_ROLE);
	in->role = USHER__V1__ROLE__ROLE_MEMBER;
	if (role[0] != '\0') {
		in->role = USHER__V1__ROLE__ROLE_UNSPECIFIED;
		for (int i = 0; i < 4; i++) {
			if (strcasecmp(role, roles[i]) == 0)
				in->role = (Usher__V1__Role)(i + 1);
		}
		if (in->role == USHER__V1__ROLE__ROLE_UNSPECIFIED) {
			bad_option(res, "role", "must be member, moderator, admin or owner");
			return false;
		}
	}
	const char *sub = option(req, u, GATEWAY_UPLOAD_SUBACCOUNT);
	if (sub[0] != '\0' && us_uuid_check(sub) != NULL) {
		bad_option(res, "subaccount", "must be a UUID");
		return false;
	}
	scope->organization = sub[0] == '\0';
	if (sub[0] != '\0') {
		scope->subaccount_ids = US_ARENA_ARRAY(req->arena, char *, 1);
		if (scope->subaccount_ids == NULL ||
		    (scope->subaccount_ids[0] = us_arena_strdup(req->arena, sub)) == NULL) {
			out_of_memory(res);
			return false;
		}
		scope->n_subaccount_ids = 1;
	}
	in->scope = scope;
	char *products = us_arena_strdup(req->arena, option(req, u, GATEWAY_UPLOAD_PRODUCTS));
	in->products = US_ARENA_ARRAY(req->arena, char *, US_PRODUCTS_MAX);
	if (products == NULL || in->products == NULL) {
		out_of_memory(res);
		return false;
	}
	if (!gateway_form_split_list(products, in->products, US_PRODUCTS_MAX, &in->n_products)) {
		bad_option(res, "products",
		           "must list at most " US_LIMIT_TEXT(US_PRODUCTS_MAX) " products");
		return false;
	}
	const char *dry = option(req, u, GATEWAY_UPLOAD_DRY_RUN);
	in->dry_run = strcmp(dry, "true") == 0 || strcmp(dry, "1") == 0;
	const char *format = option(req, u, GATEWAY_UPLOAD_FORMAT);
	if (format[0] != '\0' && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 &&
	    strcmp(format, "html") != 0) {
		bad_option(res, "format", "must be json, csv or html");
		return false;
	}
	*report = strcmp(format, "csv") == 0 ? REPORT_CSV
	          : strcmp(format, "html") == 0 ? REPORT_HTML : REPORT_JSON;
	return true;
}

static void reply_csv(gateway_request *req, gateway_response *res, const gateway_report_row *rows,
                      size_t n)
{
	us_buf csv = US_BUF_INIT;
	gateway_report_csv(&csv, rows, n);
	char *text = us_buf_failed(&csv) ? NULL : us_arena_strndup(req->arena, csv.data, csv.len);
	size_t len = csv.len;
	us_buf_free(&csv);
	if (text == NULL) {
		gateway_http_reply_error(res, US_EEXHAUSTED, "the report is too large", NULL);
		return;
	}
	res->status = 200;
	res->raw = text;
	res->raw_len = len;
	res->content_type = "text/csv; charset=utf-8";
	res->disposition = "attachment; filename=\"invitation-report.csv\"";
}

/* The report is written row by row: a tree of 50,000 JSON objects took ~40 MB for a
 * ~7 MB text. */
static void reply_json_report(gateway_response *res, const gateway_report_row *rows, size_t n,
                              const Usher__V1__CreateInvitationsReply *out, bool dry_run,
                              unsigned local_invalid)
{
	json_t *counts = json_pack(
	        "{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "created", out ? out->created : 0, "invalid",
	        (out ? out->invalid : 0) + local_invalid, "duplicateInBatch",
	        out ? out->duplicate_in_batch : 0, "alreadyMember", out ? out->already_member : 0,
	        "alreadyPending", out ? out->already_pending : 0, "disposableDomain",
	        out ? out->disposable_domain : 0, "domainNotAllowed", out ? out->domain_not_allowed : 0);
	json_t *head = json_pack("{s:s, s:b, s:o}", "batchId", out ? out->batch_id : "", "dryRun",
	                         dry_run, "counts", counts);
	char *text = head != NULL ? json_dumps(head, JSON_COMPACT) : NULL;
	json_decref(head);
	us_buf body = US_BUF_INIT;
	bool ok = text != NULL;
	if (ok) { /* the head without its closing brace, then the rows */
		us_buf_append(&body, text, strlen(text) - 1);
		us_buf_puts(&body, ",\"rows\":[");
	}
	free(text);
	for (size_t i = 0; ok && i < n; i++) {
		json_t *row = json_pack("{s:i, s:s, s:s, s:s, s:s}", "row", rows[i].row, "email",
		                        rows[i].email, "outcome", rows[i].outcome, "reason",
		                        rows[i].reason, "invitationId", rows[i].invitation_id);
		char *one = row != NULL ? json_dumps(row, JSON_COMPACT) : NULL;
		json_decref(row);
		ok = one != NULL;
		if (ok) {
			if (i > 0)
				us_buf_putc(&body, ',');
			us_buf_puts(&body, one);
		}
		free(one);
	}
	us_buf_puts(&body, "]}");
	if (!ok || us_buf_failed(&body)) {
		us_buf_free(&body);
		gateway_http_reply_error(res, US_EEXHAUSTED, "the report is too large", NULL);
		return;
	}
	res->status = 200;
	res->owned = body.data; /* handed over: freed with the response */
	res->raw_len = body.len;
}

static void finish(gateway_request *req, gateway_response *res);

/* A form from the console (format=html) reads a refusal as a page, not as JSON. */
void gateway_upload_finish(gateway_request *req, gateway_response *res)
{
	finish(req, res);
	upload *u = req->upload;
	const char *format = u != NULL ? gateway_upload_body_option(u->body, GATEWAY_UPLOAD_FORMAT) : NULL;
	if (format != NULL && strcmp(format, "html") == 0 && res->json != NULL && res->status >= 400)
		gateway_console_upload_failed(req, res);
}

static void finish(gateway_request *req, gateway_response *res)
{
	upload *u = req->upload;
	if (u == NULL) {
		gateway_http_reply_error(res, US_EINTERNAL, "upload without a beginning", NULL);
		return;
	}
	if (u->form_csrf != NULL) {
		const char *given = gateway_upload_body_option(u->body, GATEWAY_UPLOAD_CSRF);
		if (given == NULL || strlen(given) != strlen(u->form_csrf) ||
		    sodium_memcmp(given, u->form_csrf, strlen(given)) != 0) {
			gateway_http_reply_error(res, US_EDENIED,
			                         "missing or wrong CSRF token (X-CSRF-Token, or the form's "
			                         "csrf_token field)",
			                         NULL);
			return;
		}
	}
	/* The whole file is read before anything is written: a bad one changes nothing. */
	if (gateway_upload_body_finish(u->body) != US_OK) {
		gateway_http_reply_error(res, US_EINVAL, gateway_upload_body_error(u->body), NULL);
		return;
	}

	Usher__V1__CreateInvitationsRequest in = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	report_kind kind;
	if (!read_options(req, res, u, &in, &scope, &kind))
		return;
	in.account_id = u->account;

	size_t n;
	const us_email_csv_row *rows = gateway_upload_body_rows(u->body, &n);
	in.emails = US_ARENA_ARRAY(req->arena, char *, n ? n : 1);
	size_t *sent_row = US_ARENA_ARRAY(req->arena, size_t, n ? n : 1);
	gateway_report_row *report = US_ARENA_ARRAY(req->arena, gateway_report_row, n ? n : 1);
	if (in.emails == NULL || sent_row == NULL || report == NULL) {
		out_of_memory(res);
		return;
	}
	unsigned local_invalid = 0;
	for (size_t i = 0; i < n; i++) {
		report[i] = (gateway_report_row){rows[i].row, rows[i].email ? rows[i].email : "",
		                                 "invalid", rows[i].problem ? rows[i].problem : "", ""};
		if (rows[i].email == NULL) {
			local_invalid++;
			continue;
		}
		sent_row[in.n_emails] = i;
		in.emails[in.n_emails++] = rows[i].email;
	}
	Usher__V1__CreateInvitationsReply *out = NULL;
	if (in.n_emails > 0) {
		us_status st;
		us_err rc = gateway_backend_call(req, GATEWAY_INVITATION,
		                                 "usher.v1.InvitationService/CreateInvitations",
		                                 u->user_id, &in.base,
		                                 &usher__v1__create_invitations_reply__descriptor,
		                                 (ProtobufCMessage **)&out, &st);
		if (rc != US_OK) {
			gateway_http_reply_error(res, rc, st.message, &st);
			us_status_clear(&st);
			return;
		}
		us_status_clear(&st);
		for (size_t k = 0; k < out->n_results; k++) {
			const Usher__V1__AddressResult *r = out->results[k];
			gateway_report_row *row = &report[sent_row[r->index]];
			row->outcome = gateway_report_outcome_name(r->outcome);
			row->reason = r->reason;
			row->invitation_id = r->invitation_id;
		}
	}
	if (kind == REPORT_CSV)
		reply_csv(req, res, report, n);
	else if (kind == REPORT_HTML)
		gateway_console_upload_report(req, res, u->account, report, n, in.dry_run);
	else
		reply_json_report(res, report, n, out, in.dry_run, local_invalid);
}
