#include "common/audit_merge.h"

#include <string.h>

#include "common/limits.h"

/* Newest first: created_at (one fixed format, so text order is time order), then id. */
static int newer(const Usher__V1__AuditEntry *a, const Usher__V1__AuditEntry *b)
{
	int c = strcmp(a->created_at, b->created_at);
	return c != 0 ? c > 0 : strcmp(a->id, b->id) > 0;
}

us_err us_audit_merge_page(us_rpc_client *const *clients, size_t n, const us_rpc_call_opts *opts,
                           const Usher__V1__ListAuditRequest *req, us_arena *arena,
                           Usher__V1__ListAuditReply **out, us_status *st)
{
	size_t size = req->page_size != 0 ? req->page_size : US_PAGE_SIZE_DEFAULT;
	Usher__V1__ListAuditReply **parts = US_ARENA_ARRAY(arena, Usher__V1__ListAuditReply *, n);
	size_t *next = US_ARENA_ARRAY(arena, size_t, n);
	Usher__V1__ListAuditReply *merged = US_ARENA_NEW(arena, Usher__V1__ListAuditReply);
	Usher__V1__AuditEntry **items = US_ARENA_ARRAY(arena, Usher__V1__AuditEntry *, size);
	if (parts == NULL || next == NULL || merged == NULL || items == NULL)
		return US_EEXHAUSTED;
	for (size_t i = 0; i < n; i++) {
		ProtobufCMessage *reply;
		us_err rc = us_rpc_call(clients[i], US_AUDIT_METHOD, opts, &req->base,
		                        &usher__v1__list_audit_reply__descriptor, arena, &reply, st);
		if (rc != US_OK)
			return rc;
		parts[i] = (Usher__V1__ListAuditReply *)reply;
		next[i] = 0;
	}
	usher__v1__list_audit_reply__init(merged);
	size_t k = 0;
	bool more = false;
	for (; k < size; k++) {
		size_t best = n;
		for (size_t i = 0; i < n; i++) {
			if (next[i] < parts[i]->n_entries &&
			    (best == n || newer(parts[i]->entries[next[i]], parts[best]->entries[next[best]])))
				best = i;
		}
		if (best == n)
			break;
		items[k] = parts[best]->entries[next[best]++];
	}
	/* More follow when an entry was left over or a daemon has another page. */
	for (size_t i = 0; i < n; i++)
		more = more || next[i] < parts[i]->n_entries || parts[i]->next_page_token[0] != '\0';
	merged->entries = items;
	merged->n_entries = k;
	merged->next_page_token = more && k > 0 ? items[k - 1]->cursor : "";
	*out = merged;
	return US_OK;
}

/* As gateway/report.c: quoted, quotes doubled, formulas defused (OWASP's advice). */
static void cell(us_buf *out, const char *s, char after)
{
	us_buf_putc(out, '"');
	if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
		us_buf_putc(out, '\'');
	while (*s != '\0') {
		size_t plain = strcspn(s, "\"");
		us_buf_append(out, s, plain);
		s += plain;
		if (*s == '"') {
			us_buf_puts(out, "\"\"");
			s++;
		}
	}
	us_buf_putc(out, '"');
	if (after == '\n')
		us_buf_puts(out, "\r\n");
	else
		us_buf_putc(out, after);
}

void us_audit_csv_header(us_buf *out)
{
	us_buf_puts(out, "created_at,account_id,action,actor_user_id,actor_principal_id,"
	                 "actor_caller,subject_type,subject_id,subject_email,detail,service,id\r\n");
}

void us_audit_csv_rows(us_buf *out, Usher__V1__AuditEntry *const *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const Usher__V1__AuditEntry *e = entries[i];
		cell(out, e->created_at, ',');
		cell(out, e->account_id, ',');
		cell(out, e->action, ',');
		cell(out, e->actor_user_id, ',');
		cell(out, e->actor_principal_id, ',');
		cell(out, e->actor_caller, ',');
		cell(out, e->subject_type, ',');
		cell(out, e->subject_id, ',');
		cell(out, e->subject_email, ',');
		cell(out, e->detail, ',');
		cell(out, e->service, ',');
		cell(out, e->id, '\n');
	}
}
