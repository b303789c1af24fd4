#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/email_csv.h"
#include "common/limits.h"
#include "report.h"
#include "session.h"
#include "context.h"
#include "usher/v1/invitation.pb-c.h"
#include "common/validate.h"

#define OPTION_MAX 400

/* Options may come as query parameters or as form fields of the multipart body. */
enum { OPT_ROLE, OPT_SUBACCOUNT, OPT_PRODUCTS, OPT_DRY_RUN, OPT_FORMAT, N_OPTS };
static const char *const option_names[N_OPTS] = {"role", "subaccount", "products", "dry_run",
                                                  "format"};

typedef struct upload {
	us_email_csv *csv;
	struct MHD_PostProcessor *form; /* multipart/form-data; NULL for a text/csv body */
	bool saw_file;
	bool form_broken;
	char options[N_OPTS][OPTION_MAX + 1];
} upload;

static void upload_free(void *p)
{
	upload *u = p;
	if (u == NULL)
		return;
	if (u->form != NULL)
		MHD_destroy_post_processor(u->form);
	us_email_csv_free(u->csv);
	free(u);
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	upload *u = cls;
	if (strcmp(key, "file") == 0) {
		u->saw_file = true;
		return us_email_csv_feed(u->csv, data, size) == US_OK ? MHD_YES : MHD_NO;
	}
	for (int i = 0; i < N_OPTS; i++) {
		if (strcmp(key, option_names[i]) == 0 && off + size <= OPTION_MAX) {
			memcpy(u->options[i] + off, data, size);
			u->options[i][off + size] = '\0';
		}
	}
	return MHD_YES;
}

static upload *begin(gateway_request *req)
{
	upload *u = calloc(1, sizeof(*u));
	if (u == NULL || (u->csv = us_email_csv_new(US_BATCH_MAX)) == NULL) {
		free(u);
		return NULL;
	}
	const char *type = gateway_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type != NULL && strncasecmp(type, "multipart/form-data", 19) == 0) {
		u->form = MHD_create_post_processor(req->conn, 64 * 1024, on_part, u);
		if (u->form == NULL)
			u->form_broken = true;
	} else {
		u->saw_file = true; /* the body is the file */
	}
	req->upload = u;
	req->upload_free = upload_free;
	return u;
}

bool gateway_upload_chunk(gateway_request *req, const char *data, size_t len)
{
	upload *u = req->upload != NULL ? req->upload : begin(req);
	if (u == NULL || u->form_broken)
		return false;
	if (u->form != NULL) {
		if (MHD_post_process(u->form, data, len) != MHD_YES)
			u->form_broken = true;
		return !u->form_broken;
	}
	return us_email_csv_feed(u->csv, data, len) == US_OK;
}

/* An option: the form field, else the query parameter, else "". */
static const char *option(gateway_request *req, const upload *u, int which)
{
	if (u->options[which][0] != '\0')
		return u->options[which];
	const char *q = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	                                            option_names[which]);
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

/* Builds the request's role, scope, products and dry run from the options. */
static bool read_options(gateway_request *req, gateway_response *res, const upload *u,
                         Usher__V1__CreateInvitationsRequest *in, Usher__V1__Scope *scope,
                         bool *csv_report)
{
	static const char *const roles[] = {"member", "moderator", "admin", "owner"};
	const char *role = option(req, u, OPT_ROLE);
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
	const char *sub = option(req, u, OPT_SUBACCOUNT);
	if (sub[0] != '\0' && us_uuid_check(sub) != NULL) {
		bad_option(res, "subaccount", "must be a UUID");
		return false;
	}
	scope->organization = sub[0] == '\0';
	if (sub[0] != '\0') {
		scope->subaccount_ids = US_ARENA_ARRAY(req->arena, char *, 1);
		scope->subaccount_ids[0] = us_arena_strdup(req->arena, sub);
		scope->n_subaccount_ids = 1;
	}
	in->scope = scope;
	char *products = us_arena_strdup(req->arena, option(req, u, OPT_PRODUCTS));
	in->products = US_ARENA_ARRAY(req->arena, char *, US_PRODUCTS_MAX + 1);
	for (char *tok = strtok(products, ","); tok != NULL; tok = strtok(NULL, ",")) {
		if (in->n_products == US_PRODUCTS_MAX) {
			bad_option(res, "products",
			           "must list at most " US_LIMIT_TEXT(US_PRODUCTS_MAX) " products");
			return false;
		}
		in->products[in->n_products++] = tok;
	}
	const char *dry = option(req, u, OPT_DRY_RUN);
	in->dry_run = strcmp(dry, "true") == 0 || strcmp(dry, "1") == 0;
	const char *format = option(req, u, OPT_FORMAT);
	if (format[0] != '\0' && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0) {
		bad_option(res, "format", "must be json or csv");
		return false;
	}
	*csv_report = strcmp(format, "csv") == 0;
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

static void reply_json_report(gateway_response *res, const gateway_report_row *rows, size_t n,
                              const Usher__V1__CreateInvitationsReply *out, bool dry_run,
                              unsigned local_invalid)
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s, s:s}", "row", rows[i].row,
		                                      "email", rows[i].email, "outcome", rows[i].outcome,
		                                      "reason", rows[i].reason, "invitationId",
		                                      rows[i].invitation_id));
	json_t *counts = json_pack(
	        "{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "created", out ? out->created : 0, "invalid",
	        (out ? out->invalid : 0) + local_invalid, "duplicateInBatch",
	        out ? out->duplicate_in_batch : 0, "alreadyMember", out ? out->already_member : 0,
	        "alreadyPending", out ? out->already_pending : 0, "disposableDomain",
	        out ? out->disposable_domain : 0, "domainNotAllowed", out ? out->domain_not_allowed : 0);
	gateway_http_reply_json(res, 200,
	              json_pack("{s:s, s:b, s:o, s:o}", "batchId", out ? out->batch_id : "", "dryRun",
	                        dry_run, "counts", counts, "rows", list));
}

void gateway_upload_finish(gateway_request *req, gateway_response *res)
{
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	Usher__V1__User *user = gateway_session_signed_in(req, res, &auth);
	if (user == NULL)
		return;
	if (!gateway_session_csrf_ok(req, &auth)) {
		gateway_http_reply_error(res, US_EDENIED, "missing or wrong CSRF token (X-CSRF-Token)", NULL);
		return;
	}
	upload *u = req->upload;
	if (u == NULL) {
		gateway_http_reply_error(res, US_EINVAL, "the upload is empty", NULL);
		return;
	}
	if (u->form != NULL && !u->form_broken && MHD_destroy_post_processor(u->form) != MHD_YES &&
	    us_email_csv_error(u->csv)[0] == '\0')
		u->form_broken = true;
	u->form = NULL;
	if (!u->saw_file || (u->form_broken && us_email_csv_error(u->csv)[0] == '\0')) {
		gateway_http_reply_error(res, US_EINVAL, "the form has no \"file\" part", NULL);
		return;
	}
	/* The whole file is read before anything is written: a bad one changes nothing. */
	if (us_email_csv_finish(u->csv) != US_OK) {
		gateway_http_reply_error(res, US_EINVAL, us_email_csv_error(u->csv), NULL);
		return;
	}

	Usher__V1__CreateInvitationsRequest in = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	bool csv_report;
	if (!read_options(req, res, u, &in, &scope, &csv_report))
		return;
	char account[64];
	if (sscanf(req->path, "/accounts/%63[^/]/", account) != 1) {
		gateway_http_reply_error(res, US_ENOTFOUND, "not found", NULL);
		return;
	}
	in.account_id = account;

	size_t n;
	const us_email_csv_row *rows = us_email_csv_rows(u->csv, &n);
	in.emails = US_ARENA_ARRAY(req->arena, char *, n ? n : 1);
	size_t *sent_row = US_ARENA_ARRAY(req->arena, size_t, n ? n : 1);
	gateway_report_row *report = US_ARENA_ARRAY(req->arena, gateway_report_row, n ? n : 1);
	unsigned local_invalid = 0;
	for (size_t i = 0; i < n; i++) {
		report[i] = (gateway_report_row){rows[i].row, rows[i].email ? rows[i].email : "", "invalid",
		                         rows[i].problem ? rows[i].problem : "", ""};
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
		us_err rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/CreateInvitations",
		                    user->id, &in.base, &usher__v1__create_invitations_reply__descriptor,
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
	if (csv_report)
		reply_csv(req, res, report, n);
	else
		reply_json_report(res, report, n, out, in.dry_run, local_invalid);
}
