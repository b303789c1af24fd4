#include "console.h"

#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "context.h"
#include "form.h"
#include "form_token.h"
#include "render.h"
#include "session.h"
#include "tmpl.h"

void console_init(console *c, gateway_request *req, gateway_response *res)
{
	*c = (console){.req = req, .res = res};
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	if (auth.token == NULL || !auth.via_cookie)
		return;
	Usher__V1__ResolveSessionRequest in = USHER__V1__RESOLVE_SESSION_REQUEST__INIT;
	in.session_token = (char *)auth.token;
	ProtobufCMessage *out;
	us_status st;
	if (gateway_backend_call(req, GATEWAY_IDENTITY, "usher.v1.IdentityService/ResolveSession",
	                         NULL, &in.base, &usher__v1__resolve_session_reply__descriptor, &out,
	                         &st) == US_OK) {
		c->user = ((Usher__V1__ResolveSessionReply *)out)->user;
		c->session = auth.token;
		c->csrf = gateway_session_csrf_token(req->ctx, req->arena, auth.token);
	}
	us_status_clear(&st);
}

bool console_require_user(console *c)
{
	if (c->user != NULL && c->csrf != NULL)
		return true;
	console_redirect(c, "/signin");
	return false;
}

const char *console_field(console *c, const char *name)
{
	const char *v = gateway_form_value(c->req->arena, c->req->body.data, name);
	return v != NULL ? v : "";
}

const char *console_list_field(console *c, const char *name)
{
	return gateway_form_value_up_to(c->req->arena, c->req->body.data, name, CONSOLE_LIST_MAX);
}

static void refuse_foreign(console *c)
{
	console_message(c, 403, "Please use the page's form",
	                "This form was not sent from one of our pages, or the page is too old. "
	                "Open the page again and retry.",
	                c->user != NULL ? "/accounts" : "/signin",
	                c->user != NULL ? "My accounts" : "Sign in");
}

bool console_post_ok(console *c)
{
	if (!console_require_user(c))
		return false;
	const char *given = console_field(c, CONSOLE_CSRF_FIELD);
	if (strlen(given) == strlen(c->csrf) && sodium_memcmp(given, c->csrf, strlen(given)) == 0)
		return true;
	refuse_foreign(c);
	return false;
}

const char *console_form_token(console *c)
{
	return gateway_form_token(c->req, c->res, CONSOLE_FORM_COOKIE, "/");
}

bool console_form_token_ok(console *c)
{
	if (gateway_form_token_ok(c->req, CONSOLE_FORM_COOKIE,
	                          console_field(c, GATEWAY_FORM_FIELD)))
		return true;
	refuse_foreign(c);
	return false;
}

const char *console_fragment(console *c, const char *tmpl, const char *const *vars)
{
	us_buf b = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	gateway_tmpl_render(&b, tmpl, vars);
	const char *s = console_take(c, &b);
	return s != NULL ? s : "";
}

void console_append(us_buf *buf, const char *tmpl, const char *const *vars)
{
	gateway_tmpl_render(buf, tmpl, vars);
}

const char *console_take(console *c, us_buf *buf)
{
	char *s = NULL;
	if (!us_buf_failed(buf))
		s = us_arena_strndup(c->req->arena, buf->data ? buf->data : "", buf->len);
	us_buf_free(buf);
	return s;
}

/* Replies page (or a 500 when building it failed). */
static void reply_page(console *c, unsigned status, us_buf *page)
{
	gateway_response *res = c->res;
	json_decref(res->json);
	res->json = NULL;
	res->content_type = "text/html; charset=utf-8";
	res->raw = us_buf_failed(page) ? NULL
	                               : us_arena_strndup(c->req->arena, page->data, page->len);
	res->status = res->raw != NULL ? status : 500;
	if (res->raw == NULL)
		res->raw = "internal error: the page could not be built";
	res->raw_len = strlen(res->raw);
	us_buf_free(page);
}

void console_render(console *c, unsigned status, const char *title, const char *flash,
                    bool error, const char *tmpl, const char *const *vars)
{
	us_buf body = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	bool ok = gateway_tmpl_render(&body, tmpl, vars);
	const char *body_text = console_take(c, &body);
	const char *nav = c->user != NULL
	                          ? console_fragment(c, "nav", (const char *const[]){"csrf", c->csrf, NULL})
	                          : console_fragment(c, "nav_signed_out", NULL);
	const char *account_nav = "";
	if (c->account != NULL)
		account_nav = console_fragment(
		        c, "account_nav",
		        (const char *const[]){"name", c->account->name, "id", c->account->id, "webhooks",
		                              c->webhooks ? console_fragment(c, "account_nav_webhooks",
		                                                             (const char *const[]){"id", c->account->id, NULL})
		                                          : "",
		                              NULL});
	const char *flash_html = "";
	if (flash != NULL && flash[0] != '\0')
		flash_html = console_fragment(c, error ? "flash_error" : "flash",
		                              (const char *const[]){"message", flash, NULL});
	us_buf page = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	const char *const layout[] = {"title", title, "nav", nav, "account_nav", account_nav,
	                              "flash", flash_html, "body", body_text, NULL};
	if (!ok || body_text == NULL || !gateway_tmpl_render(&page, "layout", layout))
		page.failed = true;
	reply_page(c, status, &page);
}

void console_message(console *c, unsigned status, const char *title, const char *message,
                     const char *back, const char *back_label)
{
	const char *const vars[] = {"title", title, "message", message, "back", back,
	                            "back_label", back_label, NULL};
	console_render(c, status, title, NULL, false, "message", vars);
}

void console_failure(console *c, us_err code, const char *message)
{
	const char *back = c->account != NULL
	                           ? us_arena_printf(c->req->arena, "/a/%s/users", c->account->id)
	                           : NULL;
	console_message(c, gateway_http_status(code), "That did not work",
	                code == US_EINTERNAL ? "Something went wrong on our side; try again."
	                                     : message,
	                back != NULL ? back : (c->user ? "/accounts" : "/signin"),
	                back != NULL ? "Back to the account" : (c->user ? "My accounts" : "Sign in"));
}

void console_redirect(console *c, const char *location)
{
	json_decref(c->res->json);
	c->res->json = NULL;
	c->res->status = 303;
	c->res->location = location;
	c->res->content_type = "text/plain; charset=utf-8";
	c->res->raw = "see other";
	c->res->raw_len = strlen(c->res->raw);
}

/* The messages a redirect may name; anything else shows nothing. */
static const struct {
	const char *code;
	const char *text;
} flashes[] = {
	{"signed-out", "You are signed out."},
	{"joined-signin", "You have joined; sign in to get started."},
	{"accepted", "Invitation accepted: welcome aboard."},
	{"declined", "Invitation declined."},
	{"joined", "You have joined."},
	{"role", "Role changed."},
	{"scope", "Scope and products changed."},
	{"flags", "Flags changed."},
	{"deactivated", "Member deactivated: they keep their place but cannot use the account."},
	{"reactivated", "Member reactivated."},
	{"removed", "Member removed."},
	{"resent", "Invitation sent again; the earlier link no longer works."},
	{"revoked", "Invitation removed; its link no longer works."},
	{"link-enabled", "The permanent link is on."},
	{"link-deleted", "The permanent link is deleted; it no longer works."},
	{"saved", "Saved."},
	{"webhook-enabled", "Webhook endpoint enabled."},
	{"webhook-disabled", "Webhook endpoint disabled: it gets no deliveries until enabled."},
	{"webhook-deleted", "Webhook endpoint deleted."},
	{"webhook-redelivered", "Sent again."},
	{"subaccount", "Subaccount created."},
	{"profile", "Profile saved."},
	{"password", "Password changed."},
	{"email-sent", "Check your new address: we sent it a link to confirm the change."},
	{"reset", "Your password is set; sign in with it."},
	{"reset-sent", "If an account has this address, a link to reset its password is on its way."},
	{"email-changed", "Your email address is changed."},
	{"verify-sent", "Check your email: we sent you a link to verify your address."},
	{"verified", "Your email address is verified."},
};

const char *console_flash(console *c)
{
	const char *code = MHD_lookup_connection_value(c->req->conn, MHD_GET_ARGUMENT_KIND, "m");
	for (size_t i = 0; code != NULL && i < sizeof(flashes) / sizeof(flashes[0]); i++) {
		if (strcmp(flashes[i].code, code) == 0)
			return flashes[i].text;
	}
	return NULL;
}

const char *console_role_name(Usher__V1__Role role)
{
	switch (role) {
	case USHER__V1__ROLE__ROLE_OWNER: return "Owner";
	case USHER__V1__ROLE__ROLE_ADMIN: return "Admin";
	case USHER__V1__ROLE__ROLE_MODERATOR: return "Moderator";
	default: return "Member";
	}
}

Usher__V1__Role console_role_parse(const char *text)
{
	static const char *const names[] = {"member", "moderator", "admin", "owner"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(text, names[i]) == 0)
			return (Usher__V1__Role)(i + 1);
	}
	return USHER__V1__ROLE__ROLE_UNSPECIFIED;
}

const char *console_join(console *c, char **items, size_t n, const char *separator)
{
	us_buf b = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			us_buf_puts(&b, separator);
		us_buf_puts(&b, items[i]);
	}
	const char *s = console_take(c, &b);
	return s != NULL ? s : "";
}

const char *console_scope_text(console *c, const Usher__V1__Scope *scope)
{
	if (scope == NULL || scope->organization)
		return "Organization";
	const char *subs = console_join(c, scope->subaccount_ids, scope->n_subaccount_ids, ", ");
	const char *s = us_arena_printf(c->req->arena, "Subaccounts: %s", subs);
	return s != NULL ? s : "Subaccounts";
}
