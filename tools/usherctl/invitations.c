/* usherctl invitations: invite typed addresses or a CSV file, list, show, resend and
 * revoke invitations (usher.v1.InvitationService). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "ctl.h"
#include "common/email_csv.h"
#include "common/pbjson.h"
#include "usher/v1/invitation.pb-c.h"

#define INVITATION (&usher__v1__invitation_service__descriptor)
#define EXPORT_PAGE_SIZE 5000 /* usher-invitationd's largest ListInvitations page */
#define BATCH_TIMEOUT_MS 60000
#define READ_CHUNK 65536

/* What create and import share: whom to invite into what. */
typedef struct batch_opts {
	int role;
	char *subaccount;
	ctl_list products;
	bool dry_run;
} batch_opts;

#define BATCH_ARGS(type)                                                                        \
	{.name = "--role", .kind = CTL_ENUM, .offset = offsetof(type, batch.role),                  \
	 .metavar = "ROLE", .choices = &usher__v1__role__descriptor,                               \
	 .help = "the role they get (default member)"},                                            \
	{.name = "--subaccount", .kind = CTL_UUID, .offset = offsetof(type, batch.subaccount),      \
	 .help = "invite into this subaccount (default: the whole organization)"},                 \
	{.name = "--products", .kind = CTL_PRODUCTS, .offset = offsetof(type, batch.products),     \
	 .max = US_PRODUCTS_MAX, .help = "the products they get, comma-separated"},                 \
	{.name = "--dry-run", .kind = CTL_FLAG, .offset = offsetof(type, batch.dry_run),           \
	 .help = "report what would happen, writing and sending nothing"}

static void batch_request(ctl_ctx *ctx, const char *account, const batch_opts *b,
                          Usher__V1__CreateInvitationsRequest *req, Usher__V1__Scope *scope)
{
	req->account_id = (char *)account;
	req->role = b->role ? (Usher__V1__Role)b->role : USHER__V1__ROLE__ROLE_MEMBER;
	if (b->subaccount != NULL) {
		scope->subaccount_ids = US_ARENA_ARRAY(ctx->arena, char *, 1);
		scope->subaccount_ids[0] = b->subaccount;
		scope->n_subaccount_ids = 1;
	} else {
		scope->organization = true;
	}
	req->scope = scope;
	req->products = b->products.items;
	req->n_products = b->products.n;
	req->dry_run = b->dry_run;
}

/* "2 created, 1 invalid, 1 duplicate in batch": the reply's non-zero counts, with
 * extra_invalid rows the file itself rejected. */
static void print_counts(const Usher__V1__CreateInvitationsReply *r, unsigned extra_invalid,
                         bool dry_run)
{
	const ProtobufCMessageDescriptor *d = r->base.descriptor;
	const char *sep = "";
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_UINT32)
			continue;
		uint32_t n = *(const uint32_t *)((const char *)r + f->offset);
		if (strcmp(f->name, "invalid") == 0)
			n += extra_invalid;
		if (n == 0)
			continue;
		printf("%s%u ", sep, n);
		for (const char *c = f->name; *c; c++)
			putchar(*c == '_' ? ' ' : *c);
		sep = ", ";
	}
	printf("%s%s\n", sep[0] ? "" : "nothing to invite",
	       dry_run ? " (dry run: nothing was written or sent)" : "");
}

/* Exit 3 when some address was not (or on a dry run would not be) created. */
static int batch_status(const Usher__V1__CreateInvitationsReply *r, size_t addresses)
{
	return r->created < addresses ? CTL_PARTIAL : CTL_OK;
}

/* --- create --- */

typedef struct create_params {
	char *account;
	ctl_list emails;
	batch_opts batch;
	uint32_t expires_in_hours;
} create_params;

static int run_create(ctl_ctx *ctx, void *params)
{
	const create_params *p = params;
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	batch_request(ctx, p->account, &p->batch, &req, &scope);
	req.emails = p->emails.items;
	req.n_emails = p->emails.n;
	req.expires_in_hours = p->expires_in_hours;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, INVITATION, "CreateInvitations", CTL_KEYED, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__CreateInvitationsReply *r = (const Usher__V1__CreateInvitationsReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
	} else {
		static const char *const headers[] = {"EMAIL", "OUTCOME", "REASON", "INVITATION"};
		static const char *const fields[] = {"email", "outcome", "reason", "invitation_id"};
		ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
		                   (ProtobufCMessage *const *)r->results, r->n_results);
		print_counts(r, 0, req.dry_run);
	}
	return batch_status(r, p->emails.n);
}

static const ctl_arg create_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(create_params, account),
	 .help = "the account's id"},
	{.name = "EMAIL", .kind = CTL_TEXT, .offset = offsetof(create_params, emails),
	 .flags = CTL_MANY, .max = US_BATCH_MAX,
	 .help = "the addresses to invite; each gets an outcome (invalid ones too)"},
	BATCH_ARGS(create_params),
	{.name = "--expires-in-hours", .kind = CTL_UINT,
	 .offset = offsetof(create_params, expires_in_hours), .min = 1, .max = 720,
	 .help = "how long the invitations last (default and most: the account's policy)"},
};

/* --- import --- */

typedef struct import_params {
	char *account;
	char *file;
	batch_opts batch;
	char *report;
} import_params;

/* One row of the file and what became of it. */
typedef struct row_outcome {
	unsigned row;
	const char *email;   /* the cell as written */
	const char *outcome; /* "created", "invalid", ... */
	const char *reason;
	const char *invitation_id;
} row_outcome;

/* Reads the whole file (or stdin for "-") with the upload's CSV rules. Returns an exit
 * code; *out is the reader (us_email_csv_free()) on success. */
static int read_file(const char *path, us_email_csv **out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return ctl_usage_error("could not open \"%s\": %s", path, strerror(errno));
	us_email_csv *csv = us_email_csv_new(US_BATCH_MAX);
	if (csv == NULL) {
		if (f != stdin)
			fclose(f);
		return ctl_fail("out of memory");
	}
	static char chunk[READ_CHUNK];
	size_t got;
	bool ok = true;
	while (ok && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ok = us_email_csv_feed(csv, chunk, got) == US_OK;
	int read_error = ferror(f) ? errno : 0;
	if (f != stdin)
		fclose(f);
	int rc = CTL_PROCEED;
	if (read_error != 0)
		rc = ctl_usage_error("could not read \"%s\": %s", path, strerror(read_error));
	else if (!ok || us_email_csv_finish(csv) != US_OK)
		rc = ctl_usage_error("\"%s\": %s", path, us_email_csv_error(csv));
	if (rc != CTL_PROCEED) {
		us_email_csv_free(csv);
		return rc;
	}
	*out = csv;
	return CTL_OK;
}

/* The report goes to a temporary file beside path, renamed over it once complete, so a
 * failed run leaves no half report and an unwritable place fails before any call. */
typedef struct report_file {
	FILE *f;
	char *tmp;
	const char *path;
} report_file;

static int report_open(ctl_ctx *ctx, const char *path, report_file *r)
{
	r->path = path;
	r->tmp = us_arena_printf(ctx->arena, "%s.XXXXXX", path);
	int fd = r->tmp ? mkstemp(r->tmp) : -1;
	if (fd < 0)
		return ctl_usage_error("could not create the report \"%s\": %s", path, strerror(errno));
	r->f = fdopen(fd, "w");
	if (r->f == NULL) {
		close(fd);
		unlink(r->tmp);
		return ctl_fail("could not write the report \"%s\": %s", path, strerror(errno));
	}
	return CTL_OK;
}

static void report_discard(report_file *r)
{
	if (r->f == NULL)
		return;
	fclose(r->f);
	unlink(r->tmp);
	r->f = NULL;
}

static void csv_cell(FILE *f, const char *s)
{
	/* RFC 4180: every cell quoted, quotes doubled. A cell a spreadsheet would read as a
	 * formula gets an apostrophe in front, as the gateway's CSV does. */
	fputc('"', f);
	if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Writes the same CSV the HTTP import gives with format=csv. */
static int report_write(report_file *r, const row_outcome *rows, size_t n)
{
	fputs("row,email,outcome,reason,invitation_id\r\n", r->f);
	for (size_t i = 0; i < n; i++) {
		fprintf(r->f, "%u,", rows[i].row);
		csv_cell(r->f, rows[i].email);
		fputc(',', r->f);
		csv_cell(r->f, rows[i].outcome);
		fputc(',', r->f);
		csv_cell(r->f, rows[i].reason);
		fputc(',', r->f);
		csv_cell(r->f, rows[i].invitation_id);
		fputs("\r\n", r->f);
	}
	bool ok = fflush(r->f) == 0;
	int err = errno;
	ok = fclose(r->f) == 0 && ok;
	r->f = NULL;
	if (!ok || rename(r->tmp, r->path) != 0) {
		err = ok ? errno : err;
		unlink(r->tmp);
		return ctl_fail("could not write the report \"%s\": %s", r->path, strerror(err));
	}
	return CTL_OK;
}

/* The HTTP import's JSON report: batchId, dryRun, counts, rows. */
static json_t *report_json(const Usher__V1__CreateInvitationsReply *r, bool dry_run,
                           unsigned local_invalid, const row_outcome *rows, size_t n)
{
	json_t *counts = json_object();
	const ProtobufCMessageDescriptor *d = r->base.descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_UINT32)
			continue;
		char name[64];
		us_pbjson_name(f->name, name, sizeof(name));
		uint32_t v = *(const uint32_t *)((const char *)r + f->offset);
		json_object_set_new(counts, name,
		                    json_integer(v + (strcmp(f->name, "invalid") == 0 ? local_invalid : 0)));
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s, s:s}", "row", rows[i].row,
		                                      "email", rows[i].email, "outcome", rows[i].outcome,
		                                      "reason", rows[i].reason, "invitationId",
		                                      rows[i].invitation_id));
	return json_pack("{s:s, s:b, s:o, s:o}", "batchId", r->batch_id, "dryRun", dry_run, "counts",
	                 counts, "rows", list);
}

static int run_import(ctl_ctx *ctx, void *params)
{
	const import_params *p = params;
	us_email_csv *csv = NULL;
	int rc = read_file(p->file, &csv);
	if (rc != CTL_OK)
		return rc;
	report_file report = {0};
	if (p->report != NULL && (rc = report_open(ctx, p->report, &report)) != CTL_OK) {
		us_email_csv_free(csv);
		return rc;
	}

	size_t n;
	const us_email_csv_row *rows = us_email_csv_rows(csv, &n);
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	batch_request(ctx, p->account, &p->batch, &req, &scope);
	req.emails = US_ARENA_ARRAY(ctx->arena, char *, n ? n : 1);
	size_t *row_of = US_ARENA_ARRAY(ctx->arena, size_t, n ? n : 1); /* email index → row */
	row_outcome *out = US_ARENA_ARRAY(ctx->arena, row_outcome, n ? n : 1);
	if (req.emails == NULL || row_of == NULL || out == NULL) {
		rc = ctl_fail("out of memory");
		goto done;
	}
	/* Rows the reader rejected (too long, not UTF-8) are invalid without asking. */
	unsigned local_invalid = 0;
	for (size_t i = 0; i < n; i++) {
		out[i] = (row_outcome){rows[i].row, rows[i].email ? rows[i].email : "", "invalid",
		                       rows[i].problem ? rows[i].problem : "", ""};
		if (rows[i].email == NULL) {
			local_invalid++;
			continue;
		}
		row_of[req.n_emails] = i;
		req.emails[req.n_emails++] = rows[i].email;
	}
	Usher__V1__CreateInvitationsReply empty = USHER__V1__CREATE_INVITATIONS_REPLY__INIT;
	const Usher__V1__CreateInvitationsReply *r = &empty;
	if (req.n_emails > 0) {
		ProtobufCMessage *reply;
		rc = ctl_call(ctx, INVITATION, "CreateInvitations", CTL_KEYED, &req.base, &reply);
		if (rc != CTL_OK)
			goto done;
		r = (const Usher__V1__CreateInvitationsReply *)reply;
	}
	for (size_t k = 0; k < r->n_results; k++) {
		const Usher__V1__AddressResult *a = r->results[k];
		if (a->index >= req.n_emails)
			continue; /* not one we sent; the daemon numbers from 0 */
		row_outcome *o = &out[row_of[a->index]];
		o->outcome = ctl_enum_label(ctx, &usher__v1__address_outcome__descriptor, (int)a->outcome);
		o->reason = a->reason;
		o->invitation_id = a->invitation_id;
	}
	if (report.f != NULL && (rc = report_write(&report, out, n)) != CTL_OK)
		goto done;
	if (ctx->opts.json) {
		ctl_print_json(report_json(r, req.dry_run, local_invalid, out, n));
	} else {
		static const char *const headers[] = {"ROW", "EMAIL", "OUTCOME", "REASON", "INVITATION"};
		ctl_table *t = ctl_table_new(ctx, CTL_COUNT(headers), headers);
		for (size_t i = 0; i < n; i++) {
			const char *cells[] = {us_arena_printf(ctx->arena, "%u", out[i].row), out[i].email,
			                       out[i].outcome, out[i].reason, out[i].invitation_id};
			ctl_table_add(t, cells);
		}
		ctl_table_print(t);
		print_counts(r, local_invalid, req.dry_run);
		if (p->report != NULL)
			printf("report written to %s\n", p->report);
	}
	rc = n == 0 ? CTL_OK : batch_status(r, n);
done:
	report_discard(&report);
	us_email_csv_free(csv);
	return rc;
}

static const ctl_arg import_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(import_params, account),
	 .help = "the account's id"},
	{.name = "FILE", .kind = CTL_TEXT, .offset = offsetof(import_params, file), .max = 4096,
	 .help = "the CSV file of addresses, or - for standard input"},
	BATCH_ARGS(import_params),
	{.name = "--report", .kind = CTL_TEXT, .offset = offsetof(import_params, report),
	 .metavar = "FILE.csv", .max = 4096, .help = "also write the per-row report there as CSV"},
};

/* --- list --- */

typedef struct list_params {
	char *account;
	int state;
	char *email;
	uint32_t limit;
} list_params;

static int run_list(ctl_ctx *ctx, void *params)
{
	const list_params *p = params;
	Usher__V1__ListInvitationsRequest req = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	req.account_id = p->account;
	req.state = (Usher__V1__InvitationState)p->state;
	req.email_contains = p->email ? p->email : "";
	uint32_t limit = p->limit ? p->limit : 100;
	ProtobufCMessage *reply;
	int rc = ctl_call_pages(ctx, INVITATION, "ListInvitations", &req.base, limit, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__ListInvitationsReply *r = (const Usher__V1__ListInvitationsReply *)reply;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	static const char *const headers[] = {"ID", "EMAIL", "ROLE", "STATE", "SCOPE", "EXPIRES", "SENT"};
	static const char *const fields[] = {"id", "email", "role", "state", "scope", "expires_at",
	                                     "send_count"};
	ctl_print_messages(ctx, CTL_COUNT(headers), headers, fields,
	                   (ProtobufCMessage *const *)r->invitations, r->n_invitations);
	ctl_note_more(reply, "invitations", limit);
	return CTL_OK;
}

static const ctl_arg list_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(list_params, account),
	 .help = "the account's id"},
	{.name = "--state", .kind = CTL_ENUM, .offset = offsetof(list_params, state),
	 .metavar = "STATE", .choices = &usher__v1__invitation_state__descriptor,
	 .help = "only invitations in this state"},
	{.name = "--email", .kind = CTL_TEXT, .offset = offsetof(list_params, email),
	 .metavar = "S", .max = 254, .help = "only addresses containing S (any case)"},
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(list_params, limit),
	 .min = 1, .max = US_BATCH_MAX, .help = "show at most N, newest first (default 100)"},
};

/* --- export --- */

typedef struct export_params {
	char *account;
} export_params;

static const char *role_name(Usher__V1__Role role)
{
	switch (role) {
	case USHER__V1__ROLE__ROLE_OWNER: return "owner";
	case USHER__V1__ROLE__ROLE_ADMIN: return "admin";
	case USHER__V1__ROLE__ROLE_MODERATOR: return "moderator";
	default: return "member";
	}
}

/* The same file as GET /v1/accounts/{id}/invitations/pending.csv, page by page. */
static int run_export(ctl_ctx *ctx, void *params)
{
	const export_params *p = params;
	Usher__V1__ListInvitationsRequest req = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	req.account_id = p->account;
	req.state = USHER__V1__INVITATION_STATE__INVITATION_PENDING;
	req.page_size = EXPORT_PAGE_SIZE;
	req.summary_only = true;
	fputs("email,role,status,sent_at,expires_at,times_sent\r\n", stdout);
	size_t total = 0;
	for (;;) {
		ProtobufCMessage *reply;
		int rc = ctl_call(ctx, INVITATION, "ListInvitations", 0, &req.base, &reply);
		if (rc != CTL_OK)
			return rc;
		const Usher__V1__ListInvitationsReply *r = (const Usher__V1__ListInvitationsReply *)reply;
		for (size_t i = 0; i < r->n_invitations; i++) {
			const Usher__V1__Invitation *x = r->invitations[i];
			csv_cell(stdout, x->email);
			fputc(',', stdout);
			csv_cell(stdout, role_name(x->role));
			fputs(",\"pending\",", stdout);
			csv_cell(stdout, x->last_sent_at);
			fputc(',', stdout);
			csv_cell(stdout, x->expires_at);
			printf(",%u\r\n", x->send_count);
		}
		total += r->n_invitations;
		if (r->next_page_token[0] == '\0')
			break;
		req.page_token = r->next_page_token;
	}
	if (fflush(stdout) != 0)
		return ctl_fail("could not write the export: %s", strerror(errno));
	fprintf(stderr, "usherctl: exported %zu pending invitations\n", total);
	return CTL_OK;
}

static const ctl_arg export_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(export_params, account),
	 .help = "the account's id"},
};

/* --- show, resend, revoke --- */

typedef struct ref_params {
	char *id;
} ref_params;

static int run_ref(ctl_ctx *ctx, void *params)
{
	const ref_params *p = params;
	Usher__V1__InvitationRef req = USHER__V1__INVITATION_REF__INIT;
	req.invitation_id = p->id;
	return ctl_call_show(ctx, INVITATION, ctx->cmd->method, ctx->cmd->call_flags, &req.base,
	                     "invitation");
}

static const ctl_arg ref_args[] = {
	{.name = "ID", .kind = CTL_UUID, .offset = offsetof(ref_params, id),
	 .help = "the invitation's id"},
};

static const ctl_command commands[] = {
	{.name = "create", .summary = "invite addresses into an account",
	 .detail = "Every address gets an outcome: created, invalid, duplicate_in_batch,\n"
	           "already_member, already_pending, disposable_domain or domain_not_allowed.\n"
	           "Exit status 3 when some were not (or, with --dry-run, would not be) created.",
	 .args = create_args, .n_args = CTL_COUNT(create_args), .params_size = sizeof(create_params),
	 .flags = CTL_NEEDS_ACTOR, .timeout_ms = BATCH_TIMEOUT_MS, .run = run_create},
	{.name = "import", .summary = "invite every address of a CSV file into an account",
	 .detail = "The file follows the HTTP upload's rules: one header row; the column headed\n"
	           "\"email\" (any case), or the only column; RFC 4180 quoting; UTF-8 with or without\n"
	           "a byte-order mark; CRLF or LF; blank lines ignored; at most 50,000 rows. A\n"
	           "malformed file is refused whole (exit status 2) before anything is sent. Each\n"
	           "row's outcome is shown with its row number as a spreadsheet shows it (the\n"
	           "header is row 1). Exit status 3 when some rows were not created.",
	 .args = import_args, .n_args = CTL_COUNT(import_args), .params_size = sizeof(import_params),
	 .flags = CTL_NEEDS_ACTOR, .timeout_ms = BATCH_TIMEOUT_MS, .run = run_import},
	{.name = "list", .summary = "list an account's invitations",
	 .args = list_args, .n_args = CTL_COUNT(list_args), .params_size = sizeof(list_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_list},
	{.name = "export", .summary = "every pending invitation of an account, as CSV on standard output",
	 .detail = "The file GET /v1/accounts/ACCOUNT/invitations/pending.csv gives, newest first:\n"
	           "email,role,status,sent_at,expires_at,times_sent.",
	 .args = export_args, .n_args = CTL_COUNT(export_args), .params_size = sizeof(export_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_export},
	{.name = "show", .summary = "show an invitation",
	 .args = ref_args, .n_args = CTL_COUNT(ref_args), .params_size = sizeof(ref_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_ref, .method = "GetInvitation"},
	{.name = "resend", .summary = "send a pending or expired invitation again, with a new link",
	 .detail = "The old link stops working at once and the expiry starts again.",
	 .args = ref_args, .n_args = CTL_COUNT(ref_args), .params_size = sizeof(ref_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_ref, .method = "Reinvite", .call_flags = CTL_KEYED},
	{.name = "revoke", .summary = "revoke an invitation; its link stops working",
	 .args = ref_args, .n_args = CTL_COUNT(ref_args), .params_size = sizeof(ref_params),
	 .flags = CTL_NEEDS_ACTOR, .run = run_ref, .method = "Revoke", .call_flags = CTL_KEYED},
};

const ctl_group ctl_invitations_group = {"invitations", "invite people and manage invitations",
                                         commands, CTL_COUNT(commands)};
