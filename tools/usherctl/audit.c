/* usherctl audit: an account's audit log (docs/audit.md), merged from the three daemons
 * that keep one (identityd: service principals; tenancyd: memberships and settings;
 * invitationd: invitations and links), newest first; as a table, JSON or CSV. Read as
 * Usher itself: the operator key's system right. */
#include <stddef.h>
#include <stdio.h>

#include "common/audit_merge.h"
#include "common/limits.h"
#include "common/pbjson.h"
#include "ctl.h"

static const char *const keepers[] = {"usher-identityd", "usher-tenancyd", "usher-invitationd"};
#define N_KEEPERS (sizeof(keepers) / sizeof(keepers[0]))

typedef struct audit_params {
	char *account;
	char *actor;
	char *subject;
	char *action;
	char *since;
	char *until;
	uint32_t limit;
} audit_params;

static const ctl_arg audit_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(audit_params, account),
	 .flags = CTL_OPTIONAL,
	 .help = "the account's id; left out: platform-wide changes (service principals over "
	         "every account)"},
	{.name = "--actor", .kind = CTL_UUID, .offset = offsetof(audit_params, actor),
	 .help = "only what this user or service principal did"},
	{.name = "--subject", .kind = CTL_UUID, .offset = offsetof(audit_params, subject),
	 .help = "only what was done to this user, invitation, link or principal"},
	{.name = "--action", .kind = CTL_TEXT, .offset = offsetof(audit_params, action), .max = 100,
	 .help = "only this action (member.remove), or a prefix ending in a dot (member.)"},
	{.name = "--since", .kind = CTL_TEXT, .offset = offsetof(audit_params, since), .max = 40,
	 .metavar = "TIME", .help = "from this time on (2026-01-31T00:00:00.000Z)"},
	{.name = "--until", .kind = CTL_TEXT, .offset = offsetof(audit_params, until), .max = 40,
	 .metavar = "TIME", .help = "before this time"},
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(audit_params, limit), .min = 1,
	 .max = 1000000, .help = "at most this many entries (list: 100; export: all)"},
};

static const char *or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* Pages through the merged log, handing each page to emit, until limit entries (0: all). */
static int walk(ctl_ctx *ctx, const audit_params *p, uint32_t limit,
                void (*emit)(ctl_ctx *, Usher__V1__AuditEntry *const *, size_t, void *),
                void *arg, size_t *total)
{
	us_rpc_client *clients[N_KEEPERS];
	us_status st;
	us_status_init(&st);
	for (size_t i = 0; i < N_KEEPERS; i++) {
		us_err rc = ctl_client(ctx, ctl_target_find(keepers[i]), &clients[i], &st);
		if (rc != US_OK) {
			int code = ctl_report(ctx, rc, &st);
			us_status_clear(&st);
			return code;
		}
	}
	Usher__V1__ListAuditRequest req = USHER__V1__LIST_AUDIT_REQUEST__INIT;
	req.account_id = (char *)or_empty(p->account);
	req.actor_id = (char *)or_empty(p->actor);
	req.subject_id = (char *)or_empty(p->subject);
	req.action = (char *)or_empty(p->action);
	req.since = (char *)or_empty(p->since);
	req.until = (char *)or_empty(p->until);
	*total = 0;
	for (;;) {
		uint32_t want = US_PAGE_SIZE_MAX;
		if (limit != 0 && limit - *total < want)
			want = (uint32_t)(limit - *total);
		req.page_size = want;
		us_rpc_call_opts opts = {.timeout_ms = ctl_timeout_ms(ctx)};
		Usher__V1__ListAuditReply *page;
		us_err rc = us_audit_merge_page(clients, N_KEEPERS, &opts, &req, ctx->arena, &page, &st);
		if (rc != US_OK) {
			int code = ctl_report(ctx, rc, &st);
			us_status_clear(&st);
			return code;
		}
		emit(ctx, page->entries, page->n_entries, arg);
		*total += page->n_entries;
		if (page->next_page_token[0] == '\0')
			return CTL_OK;
		if (limit != 0 && *total >= limit) {
			fprintf(stderr, "usherctl: more entries match than the %u shown (--limit)\n", limit);
			return CTL_OK;
		}
		req.page_token = page->next_page_token;
	}
}

static void emit_csv(ctl_ctx *ctx, Usher__V1__AuditEntry *const *entries, size_t n, void *arg)
{
	(void)ctx;
	(void)arg;
	us_buf out = US_BUF_INIT;
	us_audit_csv_rows(&out, entries, n);
	if (!us_buf_failed(&out))
		fwrite(out.data, 1, out.len, stdout);
	us_buf_free(&out);
}

typedef struct collected {
	json_t *json;    /* --json: the entries */
	ctl_table *table;
} collected;

static void emit_list(ctl_ctx *ctx, Usher__V1__AuditEntry *const *entries, size_t n, void *arg)
{
	collected *c = arg;
	for (size_t i = 0; i < n; i++) {
		const Usher__V1__AuditEntry *e = entries[i];
		if (c->json != NULL) {
			json_array_append_new(c->json, us_pbjson_encode(&e->base));
			continue;
		}
		const char *actor = e->actor_user_id[0] ? e->actor_user_id
		                    : e->actor_principal_id[0] ? e->actor_principal_id
		                                               : e->actor_caller;
		const char *subject = e->subject_email[0] ? e->subject_email : e->subject_id;
		const char *cells[] = {e->created_at, e->action, actor, e->subject_type,
		                       subject[0] ? subject : "-", e->detail[0] ? e->detail : "-"};
		(void)ctx;
		ctl_table_add(c->table, cells);
	}
}

static int run_list(ctl_ctx *ctx, void *params)
{
	const audit_params *p = params;
	static const char *const headers[] = {"TIME", "ACTION", "ACTOR", "SUBJECT", "WHO/WHAT",
	                                      "DETAIL"};
	collected c = {.json = ctx->opts.json ? json_array() : NULL,
	               .table = ctx->opts.json ? NULL : ctl_table_new(ctx, CTL_COUNT(headers), headers)};
	size_t total;
	int rc = walk(ctx, p, p->limit ? p->limit : US_PAGE_SIZE_DEFAULT, emit_list, &c, &total);
	if (rc != CTL_OK) {
		json_decref(c.json);
		return rc;
	}
	if (c.json != NULL)
		ctl_print_json(json_pack("{s:o}", "entries", c.json));
	else
		ctl_table_print(c.table);
	return CTL_OK;
}

static int run_export(ctl_ctx *ctx, void *params)
{
	const audit_params *p = params;
	us_buf header = US_BUF_INIT;
	us_audit_csv_header(&header);
	if (!us_buf_failed(&header))
		fwrite(header.data, 1, header.len, stdout);
	us_buf_free(&header);
	size_t total;
	int rc = walk(ctx, p, p->limit, emit_csv, NULL, &total);
	if (rc == CTL_OK)
		fprintf(stderr, "usherctl: exported %zu entries\n", total);
	return rc;
}

static const ctl_command commands[] = {
	{.name = "list", .summary = "who did what to whom and when in an account, newest first",
	 .detail = "Merged from usher-identityd, usher-tenancyd and usher-invitationd, which each\n"
	           "keep their own part (their *_RPC_URL must be set). Example:\n"
	           "  usherctl audit list ACCOUNT --action member. --since 2026-01-01T00:00:00.000Z",
	 .args = audit_args, .n_args = CTL_COUNT(audit_args), .params_size = sizeof(audit_params),
	 .flags = CTL_NO_ACTOR, .timeout_ms = 10000, .run = run_list},
	{.name = "export", .summary = "the same as CSV on standard output, every matching entry",
	 .detail = "Columns: created_at, account_id, action, actor_user_id, actor_principal_id,\n"
	           "actor_caller, subject_type, subject_id, subject_email, detail, service, id.",
	 .args = audit_args, .n_args = CTL_COUNT(audit_args), .params_size = sizeof(audit_params),
	 .flags = CTL_NO_ACTOR, .timeout_ms = 10000, .run = run_export},
};

const ctl_group ctl_audit_group = {"audit", "the audit log: who did what to whom and when",
                                   commands, CTL_COUNT(commands)};
