#include "console_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/limits.h"
#include "common/validate.h"
#include "console.h"
#include "console_webhooks.h"
#include "context.h"
#include "form.h"
#include "report.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define SEGMENT_MAX 64

/* "/a/<account>/<section>[/<a>[/<b>]]", each segment a copy. */
typedef struct admin_path {
	char account[SEGMENT_MAX];
	char section[SEGMENT_MAX];
	char a[SEGMENT_MAX];
	char b[SEGMENT_MAX];
} admin_path;

static bool parse_path(const char *path, admin_path *p)
{
	*p = (admin_path){0};
	const char *s = path + strlen("/a/");
	char *fields[] = {p->account, p->section, p->a, p->b};
	for (int i = 0; i < 4 && *s; i++) {
		size_t len = strcspn(s, "/");
		if (len == 0 || len >= SEGMENT_MAX)
			return false;
		memcpy(fields[i], s, len);
		s += len;
		if (*s == '/')
			s++;
	}
	return *s == '\0' && us_uuid_check(p->account) == NULL && p->section[0] != '\0';
}

static us_err call(console *c, int backend, const char *method, const ProtobufCMessage *in,
                   const ProtobufCMessageDescriptor *type, ProtobufCMessage **out, us_status *st)
{
	return gateway_backend_call(c->req, backend, method, c->user->id, in, type, out, st);
}

/* A refusal or failure of a daemon as a page. */
static void failed(console *c, us_err rc, us_status *st)
{
	console_failure(c, rc, st->message);
	us_status_clear(st);
}

static const char *where(console *c, const char *section, const char *flash)
{
	const char *s = us_arena_printf(c->req->arena, "/a/%s/%s?m=%s", c->account->id, section, flash);
	return s != NULL ? s : "/accounts";
}

/* A number field: 0 when empty; -1 when not a whole number within max. */
static long number_field(console *c, const char *name, long max)
{
	const char *v = console_field(c, name);
	if (v[0] == '\0')
		return 0;
	char *end;
	long n = strtol(v, &end, 10);
	return *end == '\0' && n >= 1 && n <= max ? n : -1;
}

/* Splits a list typed by a person at commas, semicolons and white space, in the arena. */
static char **split_words(console *c, const char *text, size_t max, size_t *n)
{
	char *copy = us_arena_strdup(c->req->arena, text);
	char **out = US_ARENA_ARRAY(c->req->arena, char *, max ? max : 1);
	*n = 0;
	if (copy == NULL || out == NULL)
		return NULL;
	char *save = NULL;
	for (char *w = strtok_r(copy, ",; \t\r\n", &save); w != NULL; w = strtok_r(NULL, ",; \t\r\n", &save)) {
		if (*n == max)
			return NULL;
		out[(*n)++] = w;
	}
	return out;
}

/* The "domains" field: at most 100 domains; NULL when more, or unreadable. */
static char **domains_field(console *c, size_t *n)
{
	const char *text = console_list_field(c, "domains");
	return text != NULL ? split_words(c, text, 100, n) : NULL;
}

/* The "flags" field: names separated by commas or spaces, at most 32 (tenancyd checks
 * each); NULL, with the page replied, when more. */
static char **flags_field(console *c, size_t *n)
{
	char **flags = split_words(c, console_field(c, "flags"), 32, n);
	if (flags == NULL)
		console_failure(c, US_EINVAL, "Give at most 32 flags.");
	return flags;
}

/* --- Users --- */

static void scope_post(console *c, const char *user_id);

static void users_page(console *c, const char *flash, bool error, unsigned status)
{
	Usher__V1__ListMembersRequest in = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	in.account_id = c->account->id;
	in.page_size = 500;
	in.with_users = true;
	Usher__V1__ListMembersReply *m;
	us_status st;
	us_err rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/ListMembers", &in.base,
	                 &usher__v1__list_members_reply__descriptor, (ProtobufCMessage **)&m, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	us_buf rows = US_BUF_INIT;
	for (size_t i = 0; i < m->n_members; i++) {
		const Usher__V1__Membership *ms = m->members[i];
		bool active = ms->status != USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED;
		const char *const vars[] = {
		        "name", ms->user_name, "email", ms->user_email,
		        "label", ms->user_email[0] ? ms->user_email : ms->user_id,
		        "role", console_role_name(ms->role), "scope", console_scope_text(c, ms->scope),
		        "products", console_join(c, ms->products, ms->n_products, ", "),
		        "status", active ? "Active" : "Deactivated", "account_id", c->account->id,
		        "user_id", ms->user_id, "csrf", c->csrf,
		        "toggle", active ? "deactivate" : "reactivate",
		        "toggle_label", active ? "Deactivate" : "Reactivate",
		        /* The role select starts at the member's role. */
		        "sel_member", ms->role == USHER__V1__ROLE__ROLE_MEMBER ? " selected" : "",
		        "sel_moderator", ms->role == USHER__V1__ROLE__ROLE_MODERATOR ? " selected" : "",
		        "sel_admin", ms->role == USHER__V1__ROLE__ROLE_ADMIN ? " selected" : "",
		        "sel_owner", ms->role == USHER__V1__ROLE__ROLE_OWNER ? " selected" : "", NULL};
		console_append(&rows, "users_row", vars);
	}
	const char *const vars[] = {"account_id", c->account->id, "account_name", c->account->name,
	                            "rows", console_take(c, &rows), NULL};
	console_render(c, status, "Users", flash, error, "users", vars);
}

static void users_post(console *c, const admin_path *p)
{
	if (us_uuid_check(p->a) != NULL) {
		console_failure(c, US_ENOTFOUND, "There is no such member.");
		return;
	}
	Usher__V1__MemberRequest member = USHER__V1__MEMBER_REQUEST__INIT;
	member.account_id = c->account->id;
	member.user_id = (char *)p->a;
	ProtobufCMessage *out;
	us_status st;
	us_err rc;
	const char *done;
	if (strcmp(p->b, "role") == 0) {
		Usher__V1__ChangeRoleRequest in = USHER__V1__CHANGE_ROLE_REQUEST__INIT;
		in.account_id = c->account->id;
		in.user_id = (char *)p->a;
		in.role = console_role_parse(console_field(c, "role"));
		rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/ChangeRole", &in.base,
		          &usher__v1__change_role_reply__descriptor, &out, &st);
		done = "role";
	} else if (strcmp(p->b, "deactivate") == 0 || strcmp(p->b, "reactivate") == 0) {
		bool off = strcmp(p->b, "deactivate") == 0;
		rc = call(c, GATEWAY_TENANCY,
		          off ? "usher.v1.TenancyService/Deactivate" : "usher.v1.TenancyService/Reactivate",
		          &member.base, &usher__v1__member_reply__descriptor, &out, &st);
		done = off ? "deactivated" : "reactivated";
	} else if (strcmp(p->b, "scope") == 0) {
		scope_post(c, p->a);
		return;
	} else if (strcmp(p->b, "flags") == 0) {
		Usher__V1__SetFlagsRequest in = USHER__V1__SET_FLAGS_REQUEST__INIT;
		in.account_id = c->account->id;
		in.user_id = (char *)p->a;
		if ((in.flags = flags_field(c, &in.n_flags)) == NULL)
			return;
		rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/SetFlags", &in.base,
		          &usher__v1__set_flags_reply__descriptor, &out, &st);
		done = "flags";
	} else if (strcmp(p->b, "remove") == 0) {
		rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/Remove", &member.base,
		          &usher__v1__remove_reply__descriptor, &out, &st);
		done = "removed";
	} else {
		console_failure(c, US_ENOTFOUND, "There is no such action.");
		return;
	}
	if (rc == US_OK) {
		console_redirect(c, where(c, "users", done));
	} else {
		/* The refusal on the page it came from, in the daemon's words. */
		char *why = us_arena_printf(c->req->arena, "Refused: %s", st.message);
		users_page(c, why ? why : "Refused.", true, gateway_http_status(rc));
	}
	us_status_clear(&st);
}

/* --- one member: scope and products --- */

static Usher__V1__ListSubaccountsReply *subaccounts(console *c);

static bool has(char **items, size_t n, const char *item)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(items[i], item) == 0)
			return true;
	}
	return false;
}

static void member_page(console *c, const char *user_id)
{
	Usher__V1__ListMembersRequest in = USHER__V1__LIST_MEMBERS_REQUEST__INIT;
	in.account_id = c->account->id;
	in.page_size = 500;
	in.with_users = true;
	Usher__V1__ListMembersReply *m;
	us_status st;
	us_err rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/ListMembers", &in.base,
	                 &usher__v1__list_members_reply__descriptor, (ProtobufCMessage **)&m, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	const Usher__V1__Membership *ms = NULL;
	for (size_t i = 0; i < m->n_members && ms == NULL; i++) {
		if (strcmp(m->members[i]->user_id, user_id) == 0)
			ms = m->members[i];
	}
	if (ms == NULL) {
		console_failure(c, US_ENOTFOUND, "There is no such member.");
		return;
	}
	bool org = ms->scope == NULL || ms->scope->organization;
	Usher__V1__ListSubaccountsReply *subs = subaccounts(c);
	us_buf sub_html = US_BUF_INIT;
	for (size_t i = 0; subs != NULL && i < subs->n_subaccounts; i++) {
		const Usher__V1__Subaccount *sa = subs->subaccounts[i];
		bool on = !org && has(ms->scope->subaccount_ids, ms->scope->n_subaccount_ids, sa->id);
		const char *const vars[] = {"id", us_arena_printf(c->req->arena, "sub-%zu", i), "name",
		                            "subaccount", "value", sa->id, "label", sa->name,
		                            "checked", on ? " checked" : "", NULL};
		console_append(&sub_html, "check", vars);
	}
	us_buf products = US_BUF_INIT;
	for (size_t i = 0; i < c->account->n_products; i++) {
		const char *p = c->account->products[i];
		const char *const vars[] = {"id", us_arena_printf(c->req->arena, "product-%zu", i),
		                            "name", "products", "value", p, "label", p, "checked",
		                            has(ms->products, ms->n_products, p) ? " checked" : "", NULL};
		console_append(&products, "check", vars);
	}
	const char *label = ms->user_name[0] ? ms->user_name : ms->user_email;
	const char *const vars[] = {
	        "label", label[0] ? label : ms->user_id, "role", console_role_name(ms->role),
	        "status", ms->status == USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED ? "Deactivated" : "Active",
	        "account_id", c->account->id, "user_id", ms->user_id, "csrf", c->csrf,
	        "org_checked", org ? " checked" : "", "subs_checked", org ? "" : " checked",
	        "subaccounts", console_take(c, &sub_html), "products", console_take(c, &products),
	        "flags", console_join(c, ms->flags, ms->n_flags, ", "), NULL};
	console_render(c, 200, "Member", NULL, false, "member", vars);
}

/* Every value of field name in the form body (checkboxes), in the arena. */
static char **form_values(console *c, const char *name, size_t max, size_t *n);

static void scope_post(console *c, const char *user_id)
{
	Usher__V1__SetScopeRequest in = USHER__V1__SET_SCOPE_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	in.account_id = c->account->id;
	in.user_id = (char *)user_id;
	scope.organization = strcmp(console_field(c, "scope"), "subaccounts") != 0;
	if (!scope.organization)
		scope.subaccount_ids = form_values(c, "subaccount", 100, &scope.n_subaccount_ids);
	in.scope = &scope;
	in.products = form_values(c, "products", US_PRODUCTS_MAX, &in.n_products);
	ProtobufCMessage *out;
	us_status st;
	us_err rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/SetScope", &in.base,
	                 &usher__v1__set_scope_reply__descriptor, &out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	console_redirect(c, where(c, "users", "scope"));
}

/* --- Invite --- */

static Usher__V1__ListSubaccountsReply *subaccounts(console *c)
{
	Usher__V1__ListSubaccountsRequest in = USHER__V1__LIST_SUBACCOUNTS_REQUEST__INIT;
	in.account_id = c->account->id;
	Usher__V1__ListSubaccountsReply *out = NULL;
	us_status st;
	if (call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/ListSubaccounts", &in.base,
	         &usher__v1__list_subaccounts_reply__descriptor, (ProtobufCMessage **)&out,
	         &st) != US_OK)
		out = NULL;
	us_status_clear(&st);
	return out;
}

static void invite_page(console *c)
{
	Usher__V1__ListSubaccountsReply *subs = subaccounts(c);
	us_buf sub_html = US_BUF_INIT;
	for (size_t i = 0; subs != NULL && i < subs->n_subaccounts; i++) {
		const char *id = us_arena_printf(c->req->arena, "sub-%zu", i);
		const char *const vars[] = {"id", id, "name", "subaccount", "value", subs->subaccounts[i]->id,
		                            "label", subs->subaccounts[i]->name, "checked", "", NULL};
		console_append(&sub_html, "check", vars);
	}
	us_buf products = US_BUF_INIT;
	for (size_t i = 0; i < c->account->n_products; i++) {
		const char *id = us_arena_printf(c->req->arena, "product-%zu", i);
		const char *const vars[] = {"id", id, "name", "products", "value", c->account->products[i],
		                            "label", c->account->products[i], "checked", " checked", NULL};
		console_append(&products, "check", vars);
	}
	const char *expiry = us_arena_printf(c->req->arena, "%u", c->account->invitation_expiry_hours);
	const char *const vars[] = {"account_id", c->account->id, "account_name", c->account->name,
	                            "csrf", c->csrf, "subaccounts", console_take(c, &sub_html),
	                            "products", console_take(c, &products), "expiry", expiry, NULL};
	console_render(c, 200, "Invite", NULL, false, "invite", vars);
}

/* Every value of field name in the form body (checkboxes), in the arena. */
static char **form_values(console *c, const char *name, size_t max, size_t *n)
{
	char **out = US_ARENA_ARRAY(c->req->arena, char *, max ? max : 1);
	*n = 0;
	const char *body = c->req->body.data ? c->req->body.data : "";
	size_t name_len = strlen(name);
	for (const char *p = body; out != NULL && *p;) {
		size_t len = strcspn(p, "&");
		if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
			char *pair = us_arena_strndup(c->req->arena, p, len);
			char *v = pair ? gateway_form_value(c->req->arena, pair, name) : NULL;
			if (v != NULL && *n < max)
				out[(*n)++] = v;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return out;
}

static void result_page(console *c, const Usher__V1__CreateInvitationsReply *r)
{
	us_buf rows = US_BUF_INIT;
	for (size_t i = 0; i < r->n_results; i++) {
		const Usher__V1__AddressResult *x = r->results[i];
		const char *row = us_arena_printf(c->req->arena, "%u", x->index + 1);
		const char *const vars[] = {"row", row, "email", x->email, "outcome",
		                            gateway_report_outcome_name(x->outcome), "reason", x->reason,
		                            NULL};
		console_append(&rows, "result_row", vars);
	}
	const char *summary = us_arena_printf(c->req->arena, "%u sent, %zu not sent", r->created,
	                                      r->n_results - r->created);
	const char *const vars[] = {"summary", summary, "rows", console_take(c, &rows),
	                            "account_id", c->account->id, NULL};
	console_render(c, 200, "Invitations sent", NULL, false, "invite_result", vars);
}

static void invite_post(console *c)
{
	Usher__V1__CreateInvitationsRequest in = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	in.account_id = c->account->id;
	in.role = console_role_parse(console_field(c, "role"));
	const char *typed = console_list_field(c, "emails");
	in.emails = typed ? split_words(c, typed, US_BATCH_MAX, &in.n_emails) : NULL;
	if (in.emails == NULL) {
		console_failure(c, US_EINVAL, "Invite at most " US_LIMIT_TEXT(US_BATCH_MAX)
		                              " addresses at once, in at most 256 KiB of text; "
		                              "upload a CSV file for more.");
		return;
	}
	scope.organization = strcmp(console_field(c, "scope"), "subaccounts") != 0;
	if (!scope.organization)
		scope.subaccount_ids = form_values(c, "subaccount", 100, &scope.n_subaccount_ids);
	in.scope = &scope;
	in.products = form_values(c, "products", US_PRODUCTS_MAX, &in.n_products);
	if ((in.flags = flags_field(c, &in.n_flags)) == NULL)
		return;
	long hours = number_field(c, "expires_in_hours", 720);
	if (hours < 0) {
		console_failure(c, US_EINVAL, "The expiry must be a whole number of hours.");
		return;
	}
	in.expires_in_hours = (uint32_t)hours;
	Usher__V1__CreateInvitationsReply *out;
	us_status st;
	us_err rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/CreateInvitations",
	                 &in.base, &usher__v1__create_invitations_reply__descriptor,
	                 (ProtobufCMessage **)&out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	result_page(c, out);
}

/* --- Pending --- */

static void pending_page(console *c)
{
	Usher__V1__ListInvitationsRequest in = USHER__V1__LIST_INVITATIONS_REQUEST__INIT;
	in.account_id = c->account->id;
	in.state = USHER__V1__INVITATION_STATE__INVITATION_PENDING;
	in.page_size = 500;
	Usher__V1__ListInvitationsReply *out;
	us_status st;
	us_err rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/ListInvitations",
	                 &in.base, &usher__v1__list_invitations_reply__descriptor,
	                 (ProtobufCMessage **)&out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	us_buf rows = US_BUF_INIT;
	for (size_t i = 0; i < out->n_invitations; i++) {
		const Usher__V1__Invitation *x = out->invitations[i];
		const char *count = us_arena_printf(c->req->arena, "%u", x->send_count);
		const char *const vars[] = {"email", x->email, "role", console_role_name(x->role),
		                            "sent", x->last_sent_at, "expires", x->expires_at,
		                            "count", count, "account_id", c->account->id, "id", x->id,
		                            "csrf", c->csrf, NULL};
		console_append(&rows, "pending_row", vars);
	}
	const char *const vars[] = {"rows", console_take(c, &rows), "account_id", c->account->id, NULL};
	console_render(c, 200, "Pending invitations", console_flash(c), false, "pending", vars);
}

static void pending_post(console *c, const admin_path *p)
{
	bool resend = strcmp(p->b, "resend") == 0;
	if (us_uuid_check(p->a) != NULL || (!resend && strcmp(p->b, "remove") != 0)) {
		console_failure(c, US_ENOTFOUND, "There is no such invitation.");
		return;
	}
	Usher__V1__InvitationRef in = USHER__V1__INVITATION_REF__INIT;
	in.invitation_id = (char *)p->a;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = call(c, GATEWAY_INVITATION,
	                 resend ? "usher.v1.InvitationService/Reinvite"
	                        : "usher.v1.InvitationService/Revoke",
	                 &in.base,
	                 resend ? &usher__v1__reinvite_reply__descriptor
	                        : &usher__v1__revoke_reply__descriptor,
	                 &out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	console_redirect(c, where(c, "pending", resend ? "resent" : "revoked"));
}

/* --- Permanent link --- */

static const char *joins_html(console *c)
{
	Usher__V1__ListLinkJoinsRequest in = USHER__V1__LIST_LINK_JOINS_REQUEST__INIT;
	in.account_id = c->account->id;
	Usher__V1__ListLinkJoinsReply *out;
	us_status st;
	us_err rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/ListLinkJoins", &in.base,
	                 &usher__v1__list_link_joins_reply__descriptor, (ProtobufCMessage **)&out,
	                 &st);
	us_status_clear(&st);
	if (rc != US_OK || out->n_joins == 0)
		return console_fragment(c, "empty", (const char *const[]){
		        "message", rc != US_OK ? "Who joined could not be read." : "Nobody yet.", NULL});
	us_buf rows = US_BUF_INIT;
	for (size_t i = 0; i < out->n_joins; i++) {
		const char *const vars[] = {"email", out->joins[i]->email, "joined",
		                            out->joins[i]->joined_at, NULL};
		console_append(&rows, "joins_row", vars);
	}
	return console_fragment(c, "joins_table", (const char *const[]){"rows", console_take(c, &rows), NULL});
}

static void link_page(console *c)
{
	Usher__V1__LinkRef in = USHER__V1__LINK_REF__INIT;
	in.account_id = c->account->id;
	Usher__V1__LinkReply *out = NULL;
	us_status st;
	us_err rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/GetLink", &in.base,
	                 &usher__v1__link_reply__descriptor, (ProtobufCMessage **)&out, &st);
	if (rc != US_OK && rc != US_ENOTFOUND) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	const Usher__V1__InvitationLink *link = rc == US_OK ? out->link : NULL;
	const char *joins = joins_html(c);
	if (link != NULL && link->state == USHER__V1__LINK_STATE__LINK_ACTIVE) {
		const char *uses = us_arena_printf(c->req->arena, "%u", link->uses);
		const char *max = link->max_uses ? us_arena_printf(c->req->arena, "%u", link->max_uses)
		                                 : "unlimited";
		const char *domains = link->n_allowed_email_domains
		                              ? console_join(c, link->allowed_email_domains,
		                                             link->n_allowed_email_domains, ", ")
		                              : "Any";
		const char *const vars[] = {"account_name", c->account->name, "url", link->url,
		                            "expires", link->expires_at[0] ? link->expires_at : "Never",
		                            "uses", uses, "max_uses", max, "domains", domains,
		                            "account_id", c->account->id, "csrf", c->csrf,
		                            "joins", joins, NULL};
		console_render(c, 200, "Permanent link", console_flash(c), false, "link_active", vars);
		return;
	}
	const char *state = "The account has no permanent link. Enable one to let anyone who has it join as a member.";
	if (link != NULL && link->state == USHER__V1__LINK_STATE__LINK_EXPIRED)
		state = "The link has expired. Enable a new one.";
	else if (link != NULL && link->state == USHER__V1__LINK_STATE__LINK_USED_UP)
		state = "The link was used as many times as allowed. Enable a new one.";
	else if (link != NULL)
		state = "The link was deleted. Enabling it again makes a new link; the old one stays dead.";
	const char *const vars[] = {"state", state, "account_id", c->account->id, "csrf", c->csrf,
	                            "joins", joins, NULL};
	console_render(c, 200, "Permanent link", console_flash(c), false, "link_off", vars);
}

static void link_post(console *c, const admin_path *p)
{
	ProtobufCMessage *out;
	us_status st;
	us_err rc;
	if (strcmp(p->a, "enable") == 0) {
		Usher__V1__EnableLinkRequest in = USHER__V1__ENABLE_LINK_REQUEST__INIT;
		in.account_id = c->account->id;
		long hours = number_field(c, "expires_in_hours", 8760);
		long uses = number_field(c, "max_uses", 1000000);
		if (hours < 0 || uses < 0) {
			console_failure(c, US_EINVAL, "Expiry and most uses must be whole numbers in range.");
			return;
		}
		in.expires_in_hours = (uint32_t)hours;
		in.max_uses = (uint32_t)uses;
		in.allowed_email_domains = domains_field(c, &in.n_allowed_email_domains);
		if (in.allowed_email_domains == NULL) {
			console_failure(c, US_EINVAL, "Give at most 100 domains.");
			return;
		}
		rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/EnableLink", &in.base,
		          &usher__v1__link_reply__descriptor, &out, &st);
	} else if (strcmp(p->a, "delete") == 0) {
		Usher__V1__LinkRef in = USHER__V1__LINK_REF__INIT;
		in.account_id = c->account->id;
		rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/DeleteLink", &in.base,
		          &usher__v1__delete_link_reply__descriptor, &out, &st);
	} else {
		console_failure(c, US_ENOTFOUND, "There is no such action.");
		return;
	}
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	console_redirect(c, where(c, "link", strcmp(p->a, "enable") == 0 ? "link-enabled" : "link-deleted"));
}

/* --- Settings --- */

/* The invitation delivery settings' form (invitationd's GetInvitationSettings); NULL when
 * the page has replied a failure. */
static const char *delivery_form(console *c)
{
	Usher__V1__GetInvitationSettingsRequest in = USHER__V1__GET_INVITATION_SETTINGS_REQUEST__INIT;
	in.account_id = c->account->id;
	Usher__V1__InvitationSettingsReply *out;
	us_status st;
	us_err rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/GetInvitationSettings",
	                 &in.base, &usher__v1__invitation_settings_reply__descriptor,
	                 (ProtobufCMessage **)&out, &st);
	if (rc == US_EDENIED) {
		us_status_clear(&st);
		return console_fragment(c, "empty", (const char *const[]){"message",
		        "Only people who manage the account's settings see its invitation delivery.", NULL});
	}
	if (rc != US_OK) {
		failed(c, rc, &st);
		return NULL;
	}
	us_status_clear(&st);
	const Usher__V1__InvitationSettings *s = out->settings;
	if (s == NULL) {
		console_failure(c, US_EINTERNAL, "");
		return NULL;
	}
	const char *const vars[] = {
		"account_id", c->account->id, "csrf", c->csrf, "home_url", s->home_url,
		"redirect_urls", console_join(c, s->redirect_urls, s->n_redirect_urls, "\n"),
		"reminder_delay", us_arena_printf(c->req->arena, "%u", s->reminder_delay_hours),
		"reminders_off", s->reminders_off ? " checked" : "",
		"email_locale", s->email_locale,
		"notify_expiry", s->notify_inviter_on_expiry ? " checked" : "", NULL};
	return console_fragment(c, "delivery", vars);
}

/* Every field replaces the stored one; invitationd checks them and names what it refuses. */
static void delivery_post(console *c)
{
	Usher__V1__InvitationSettings s = USHER__V1__INVITATION_SETTINGS__INIT;
	s.account_id = c->account->id;
	s.home_url = (char *)console_field(c, "home_url");
	const char *urls = console_list_field(c, "redirect_urls");
	/* One more than invitationd takes, so a longer list gets its refusal in its words. */
	s.redirect_urls = urls != NULL ? split_words(c, urls, 21, &s.n_redirect_urls) : NULL;
	if (s.redirect_urls == NULL) {
		console_failure(c, US_EINVAL, "Give at most 20 redirect URLs.");
		return;
	}
	long hours = number_field(c, "reminder_delay_hours", 720);
	if (hours < 0) {
		console_failure(c, US_EINVAL, "Reminders go out after 1 to 720 hours.");
		return;
	}
	s.reminder_delay_hours = (uint32_t)hours;
	s.reminders_off = console_field(c, "reminders_off")[0] != '\0';
	s.email_locale = (char *)console_field(c, "email_locale");
	s.notify_inviter_on_expiry = console_field(c, "notify_inviter_on_expiry")[0] != '\0';
	Usher__V1__SetInvitationSettingsRequest in = USHER__V1__SET_INVITATION_SETTINGS_REQUEST__INIT;
	in.settings = &s;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = call(c, GATEWAY_INVITATION, "usher.v1.InvitationService/SetInvitationSettings",
	                 &in.base, &usher__v1__invitation_settings_reply__descriptor, &out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	console_redirect(c, where(c, "settings", "saved"));
}

static void settings_page(console *c)
{
	Usher__V1__ListSubaccountsReply *subs = subaccounts(c);
	us_buf items = US_BUF_INIT;
	for (size_t i = 0; subs != NULL && i < subs->n_subaccounts; i++)
		console_append(&items, "item", (const char *const[]){"text", subs->subaccounts[i]->name, NULL});
	const char *list = subs != NULL && subs->n_subaccounts > 0
	                           ? console_fragment(c, "list", (const char *const[]){"items", console_take(c, &items), NULL})
	                           : console_fragment(c, "empty", (const char *const[]){"message", "No subaccounts yet.", NULL});
	if (subs == NULL || subs->n_subaccounts == 0)
		us_buf_free(&items);
	const char *expiry = us_arena_printf(c->req->arena, "%u", c->account->invitation_expiry_hours);
	const char *delivery = delivery_form(c);
	if (delivery == NULL)
		return;
	const char *const vars[] = {"account_id", c->account->id, "csrf", c->csrf, "name",
	                            c->account->name, "expiry", expiry, "domains",
	                            console_join(c, c->account->allowed_email_domains,
	                                         c->account->n_allowed_email_domains, ", "),
	                            "subaccounts", list, "delivery", delivery, NULL};
	console_render(c, 200, "Settings", console_flash(c), false, "settings", vars);
}

static void settings_post(console *c)
{
	Usher__V1__UpdateAccountSettingsRequest in = USHER__V1__UPDATE_ACCOUNT_SETTINGS_REQUEST__INIT;
	in.account_id = c->account->id;
	in.name = (char *)console_field(c, "name");
	long hours = number_field(c, "invitation_expiry_hours", 720);
	if (hours <= 0) {
		console_failure(c, US_EINVAL, "Invitations must expire after 1 to 720 hours.");
		return;
	}
	in.invitation_expiry_hours = (uint32_t)hours;
	in.allowed_email_domains = domains_field(c, &in.n_allowed_email_domains);
	if (in.allowed_email_domains == NULL) {
		console_failure(c, US_EINVAL, "Give at most 100 domains.");
		return;
	}
	ProtobufCMessage *out;
	us_status st;
	us_err rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/UpdateAccountSettings",
	                 &in.base, &usher__v1__update_account_settings_reply__descriptor, &out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	console_redirect(c, where(c, "settings", "saved"));
}

static void subaccount_post(console *c)
{
	Usher__V1__CreateSubaccountRequest in = USHER__V1__CREATE_SUBACCOUNT_REQUEST__INIT;
	in.account_id = c->account->id;
	in.name = (char *)console_field(c, "name");
	ProtobufCMessage *out;
	us_status st;
	us_err rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/CreateSubaccount", &in.base,
	                 &usher__v1__create_subaccount_reply__descriptor, &out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	console_redirect(c, where(c, "settings", "subaccount"));
}

/* --- Upload CSV: the form posts to the upload route (upload.c), which answers a form
 * with format=html with a report page. --- */

static void upload_page(console *c)
{
	const char *const vars[] = {"account_id", c->account->id, "csrf", c->csrf, NULL};
	console_render(c, 200, "Upload CSV", NULL, false, "upload", vars);
}

/* The account a page is about, into c->account; replies and returns false on failure. */
static bool load_account(console *c, const char *account_id)
{
	Usher__V1__GetAccountRequest in = USHER__V1__GET_ACCOUNT_REQUEST__INIT;
	in.account_id = (char *)account_id;
	Usher__V1__GetAccountReply *acc;
	us_status st;
	us_err rc = call(c, GATEWAY_TENANCY, "usher.v1.TenancyService/GetAccount", &in.base,
	                 &usher__v1__get_account_reply__descriptor, (ProtobufCMessage **)&acc, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return false;
	}
	us_status_clear(&st);
	c->account = acc->account;
	c->webhooks = gateway_console_may_manage_webhooks(c);
	return true;
}

void gateway_console_upload_report(gateway_request *req, gateway_response *res,
                                   const char *account_id, const gateway_report_row *rows,
                                   size_t n, bool dry_run)
{
	console c;
	console_init(&c, req, res);
	if (!console_require_user(&c) || !load_account(&c, account_id))
		return;
	us_buf html = US_BUF_INIT;
	size_t created = 0;
	for (size_t i = 0; i < n; i++) {
		const char *row = us_arena_printf(req->arena, "%u", rows[i].row);
		const char *const vars[] = {"row", row, "email", rows[i].email, "outcome",
		                            rows[i].outcome, "reason", rows[i].reason, NULL};
		console_append(&html, "result_row", vars);
		created += strcmp(rows[i].outcome, "created") == 0;
	}
	const char *summary = us_arena_printf(req->arena, dry_run ? "dry run, %zu would be sent, %zu not"
	                                                          : "%zu sent, %zu not sent",
	                                      created, n - created);
	const char *const vars[] = {"summary", summary, "rows", console_take(&c, &html),
	                            "account_id", account_id, NULL};
	console_render(&c, 200, "Upload report", NULL, false, "invite_result", vars);
}

void gateway_console_upload_failed(gateway_request *req, gateway_response *res)
{
	json_t *message = json_object_get(res->json, "message");
	const char *why = us_arena_strdup(req->arena, json_is_string(message)
	                                                      ? json_string_value(message)
	                                                      : "the upload failed");
	unsigned status = res->status;
	console c;
	console_init(&c, req, res);
	console_message(&c, status, "The upload did not work", why ? why : "The upload failed.",
	                "/accounts", "My accounts");
}

void gateway_console_admin(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	bool post = strcmp(req->method, "POST") == 0;
	if (post ? !console_post_ok(&c) : !console_require_user(&c))
		return;
	admin_path p;
	if (!parse_path(req->path, &p)) {
		console_message(&c, 404, "Page not found", "There is no such page.", "/accounts",
		                "My accounts");
		return;
	}
	if (!load_account(&c, p.account))
		return;
	const char *s = p.section;
	bool bare = p.a[0] == '\0';
	if (!post && bare && strcmp(s, "users") == 0)
		users_page(&c, console_flash(&c), false, 200);
	else if (post && strcmp(s, "users") == 0 && p.b[0] != '\0')
		users_post(&c, &p);
	else if (!post && strcmp(s, "users") == 0 && !bare && p.b[0] == '\0' &&
	         us_uuid_check(p.a) == NULL)
		member_page(&c, p.a);
	else if (!post && bare && strcmp(s, "invite") == 0)
		invite_page(&c);
	else if (post && bare && strcmp(s, "invite") == 0)
		invite_post(&c);
	else if (!post && bare && strcmp(s, "pending") == 0)
		pending_page(&c);
	else if (post && strcmp(s, "pending") == 0 && p.b[0] != '\0')
		pending_post(&c, &p);
	else if (!post && bare && strcmp(s, "link") == 0)
		link_page(&c);
	else if (post && strcmp(s, "link") == 0 && !bare && p.b[0] == '\0')
		link_post(&c, &p);
	else if (!post && bare && strcmp(s, "settings") == 0)
		settings_page(&c);
	else if (post && bare && strcmp(s, "settings") == 0)
		settings_post(&c);
	else if (post && bare && strcmp(s, "delivery") == 0)
		delivery_post(&c);
	else if (post && bare && strcmp(s, "subaccounts") == 0)
		subaccount_post(&c);
	else if (!post && bare && strcmp(s, "upload") == 0)
		upload_page(&c);
	else if (strcmp(s, "webhooks") == 0)
		gateway_console_webhooks(&c, post, p.a, p.b);
	else
		console_message(&c, 404, "Page not found", "There is no such page.", "/accounts",
		                "My accounts");
}
