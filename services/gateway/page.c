#include "page.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "log.h"
#include "session.h"
#include "state.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"


bool gw_page_wanted(gw_request *req)
{
	const char *accept = gw_header(req, MHD_HTTP_HEADER_ACCEPT);
	return accept != NULL && strstr(accept, "text/html") != NULL;
}

/* --- building a page: every value from outside goes through text() --- */

typedef struct page {
	char *buf;
	size_t len, cap;
	bool failed;
} page;

static void raw(page *p, const char *s, size_t n)
{
	if (p->failed)
		return;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4096;
		while (cap < p->len + n + 1)
			cap *= 2;
		char *grown = realloc(p->buf, cap);
		if (grown == NULL) {
			p->failed = true;
			return;
		}
		p->buf = grown;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void put(page *p, const char *s)
{
	raw(p, s, strlen(s));
}

/* Text, escaped for HTML content and attribute values. */
static void text(page *p, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': put(p, "&amp;"); break;
		case '<': put(p, "&lt;"); break;
		case '>': put(p, "&gt;"); break;
		case '"': put(p, "&quot;"); break;
		case '\'': put(p, "&#39;"); break;
		default: raw(p, s, 1);
		}
	}
}

static void begin(page *p, const char *title)
{
	put(p, "<!doctype html><html lang=en><head><meta charset=utf-8>"
	       "<meta name=viewport content=\"width=device-width, initial-scale=1\"><title>");
	text(p, title);
	put(p, "</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f4ef}"
	       "main{max-width:32rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px}"
	       "label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.5rem;"
	       "box-sizing:border-box}button{margin-top:1rem;padding:.6rem 1.2rem}"
	       ".note{color:#666;font-size:.9rem}</style></head><body><main>");
}

/* Replies with the page, freeing its buffer. */
static void finish(gw_request *req, gw_response *res, page *p, unsigned status)
{
	put(p, "</main></body></html>\n");
	json_decref(res->json);
	res->json = NULL;
	res->content_type = "text/html; charset=utf-8";
	res->raw = p->failed ? NULL : us_arena_strndup(req->arena, p->buf, p->len);
	res->status = res->raw != NULL ? status : 500;
	if (res->raw == NULL)
		res->raw = "internal error";
	res->raw_len = strlen(res->raw);
	free(p->buf);
}

/* s, or fallback when building s ran out of memory. */
static const char *or_else(const char *s, const char *fallback)
{
	return s != NULL ? s : fallback;
}

/* A page with a heading and a message, for outcomes and errors. */
static void message_page(gw_request *req, gw_response *res, unsigned status, const char *title,
                         const char *message, const char *back)
{
	page p = {0};
	begin(&p, title);
	put(&p, "<h1>");
	text(&p, title);
	put(&p, "</h1><p>");
	text(&p, message);
	put(&p, "</p>");
	if (back != NULL) {
		put(&p, "<p><a href=\"");
		text(&p, back);
		put(&p, "\">Back to the invitation</a></p>");
	}
	finish(req, res, &p, status);
}

static void error_page(gw_request *req, gw_response *res, us_err code, const char *message,
                       const char *token)
{
	char *back = us_arena_printf(req->arena, "/i/%s", token); /* NULL: no link back */
	message_page(req, res, gw_http_status(code), "That did not work",
	             code == US_EINTERNAL ? "Something went wrong on our side; try again." : message,
	             back);
}

/* --- the invitation --- */

static const char *role_label(Usher__V1__Role role)
{
	switch (role) {
	case USHER__V1__ROLE__ROLE_OWNER: return "an owner";
	case USHER__V1__ROLE__ROLE_ADMIN: return "an admin";
	case USHER__V1__ROLE__ROLE_MODERATOR: return "a moderator";
	default: return "a member";
	}
}

static us_err preview(gw_request *req, char *token, Usher__V1__PreviewReply **out, us_status *st)
{
	Usher__V1__PreviewRequest in = USHER__V1__PREVIEW_REQUEST__INIT;
	in.token = token;
	return gw_call(req, GW_INVITATION, "usher.v1.InvitationService/Preview", NULL, &in.base,
	               &usher__v1__preview_reply__descriptor, (ProtobufCMessage **)out, st);
}

static const char *closed_reason(const Usher__V1__PreviewReply *inv, us_arena *a)
{
	switch (inv->state) {
	case USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED:
		return "This invitation has already been accepted.";
	case USHER__V1__INVITATION_STATE__INVITATION_DECLINED:
		return "This invitation was declined.";
	case USHER__V1__INVITATION_STATE__INVITATION_REVOKED:
		return "This invitation was withdrawn.";
	case USHER__V1__INVITATION_STATE__INVITATION_EXPIRED:
		return or_else(us_arena_printf(a, "This invitation has expired; ask %s to send a new "
		                                  "one.", inv->inviter_name),
		               "This invitation has expired.");
	case USHER__V1__INVITATION_STATE__INVITATION_ACCEPTING:
		return "This invitation is being accepted right now.";
	default:
		return NULL;
	}
}

/* --- the form token ---
 * The forms sign people in, so a cross-site form must not be able to post them (login
 * CSRF). The page sets a random token in a SameSite=Strict cookie and in the forms; a
 * post must bring both, equal. Another site can neither read the cookie nor make the
 * browser send it. */

#define FORM_COOKIE "usher_form"
#define FORM_FIELD "form_token"
#define FORM_TOKEN_BYTES 18

/* The browser's form token: the one its cookie holds, or a new one set in res. */
static const char *form_token(gw_request *req, gw_response *res)
{
	const char *have = gw_cookie(req, FORM_COOKIE);
	size_t text_len = sodium_base64_ENCODED_LEN(FORM_TOKEN_BYTES,
	                                            sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (have != NULL && strlen(have) == text_len - 1 &&
	    strspn(have, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	            text_len - 1)
		return have;
	uint8_t raw[FORM_TOKEN_BYTES];
	randombytes_buf(raw, sizeof(raw));
	char *token = us_arena_alloc(req->arena, text_len);
	char *cookie = NULL;
	if (token != NULL) {
		sodium_bin2base64(token, text_len, raw, sizeof(raw),
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		cookie = us_arena_printf(req->arena, "%s=%s; Path=/i/; HttpOnly; SameSite=Strict%s",
		                         FORM_COOKIE, token, gw.secure_cookies ? "; Secure" : "");
	}
	if (cookie == NULL)
		return NULL;
	res->cookies[res->n_cookies++] = cookie;
	return token;
}

/* Did this post come from our own form? */
static bool form_token_ok(gw_request *req, const char *given)
{
	const char *want = gw_cookie(req, FORM_COOKIE);
	if (want == NULL || given == NULL || want[0] == '\0' || strlen(want) != strlen(given))
		return false;
	return sodium_memcmp(want, given, strlen(want)) == 0;
}

/* Opens a form posting to /i/<token>/<action>, carrying the form token. */
static void form(page *p, const char *token, const char *action, const char *form_tok)
{
	put(p, "<form method=post action=\"/i/");
	text(p, token);
	put(p, "/");
	put(p, action);
	put(p, "\"><input type=hidden name=" FORM_FIELD " value=\"");
	text(p, form_tok);
	put(p, "\">");
}

void gw_page_invitation(gw_request *req, gw_response *res, char *token)
{
	res->no_referrer = true;
	Usher__V1__PreviewReply *inv;
	us_status st;
	us_err rc = preview(req, token, &inv, &st);
	if (rc != US_OK) {
		message_page(req, res, gw_http_status(rc), "Invitation not found",
		             rc == US_ENOTFOUND ? "This link does not open any invitation." : st.message,
		             NULL);
		us_status_clear(&st);
		return;
	}
	const char *closed = closed_reason(inv, req->arena);
	if (closed != NULL) {
		message_page(req, res, 200, "This invitation is closed", closed, NULL);
		return;
	}
	const char *form_tok = form_token(req, res);
	if (form_tok == NULL) {
		message_page(req, res, 500, "That did not work",
		             "Something went wrong on our side; try again.", NULL);
		return;
	}
	page p = {0};
	char *title = us_arena_printf(req->arena, "Join %s", inv->account_name);
	begin(&p, title ? title : "Invitation");
	put(&p, "<h1>");
	text(&p, title ? title : "Invitation");
	put(&p, "</h1><p>");
	text(&p, inv->inviter_name);
	put(&p, " invited you (");
	text(&p, inv->email);
	put(&p, ") to join ");
	text(&p, inv->account_name);
	put(&p, " as ");
	put(&p, role_label(inv->role));
	put(&p, ".</p>");
	form(&p, token, "accept-form", form_tok);
	if (inv->existing_user) {
		put(&p, "<p>You already have an account: sign in to accept.</p>"
		        "<label>Password<input name=password type=password required autocomplete="
		        "current-password></label><button>Sign in and accept</button></form>");
	} else {
		put(&p, "<label>Your name<input name=name required maxlength=200 autocomplete=name>"
		        "</label><label>Phone, optional<input name=phone type=tel autocomplete=tel "
		        "placeholder=\"+14155550123\"></label><label>Choose a password<input "
		        "name=password type=password required minlength=8 autocomplete=new-password>"
		        "</label><button>Accept and create my account</button></form>");
	}
	form(&p, token, "decline-form", form_tok);
	put(&p, "<button>Decline</button></form><p class=note>This invitation expires ");
	text(&p, inv->expires_at);
	put(&p, ". Only accept it if you know ");
	text(&p, inv->inviter_name);
	put(&p, ".</p>");
	finish(req, res, &p, 200);
}

/* --- the forms --- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *gw_form_value(us_arena *a, const char *body, const char *name)
{
	size_t name_len = strlen(name);
	for (const char *pair = body; *pair;) {
		const char *end = strchr(pair, '&');
		size_t len = end ? (size_t)(end - pair) : strlen(pair);
		if (len > name_len && strncmp(pair, name, name_len) == 0 && pair[name_len] == '=') {
			const char *v = pair + name_len + 1;
			size_t v_len = len - name_len - 1;
			if (v_len > 3 * GW_FORM_FIELD_MAX)
				return NULL;
			char *out = us_arena_alloc(a, v_len + 1);
			size_t n = 0;
			for (size_t i = 0; out != NULL && i < v_len; i++) {
				if (v[i] == '+') {
					out[n++] = ' ';
				} else if (v[i] == '%') {
					int hi = i + 2 < v_len ? hex_value(v[i + 1]) : -1;
					int lo = i + 2 < v_len ? hex_value(v[i + 2]) : -1;
					/* A cut escape, or a NUL, is no form a browser sends. */
					if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
						return NULL;
					out[n++] = (char)(hi * 16 + lo);
					i += 2;
				} else {
					out[n++] = v[i];
				}
			}
			if (out == NULL || n > GW_FORM_FIELD_MAX)
				return NULL;
			out[n] = '\0';
			return out;
		}
		pair = end ? end + 1 : pair + len;
	}
	return "";
}

/* The refusal of a post that did not come from our own page. */
static void refuse_foreign_form(gw_request *req, gw_response *res, const char *token)
{
	char *back = us_arena_printf(req->arena, "/i/%s", token);
	message_page(req, res, 403, "Please use the invitation page",
	             "This form was not sent from the invitation's page, or the page is too old. "
	             "Open the invitation link again.",
	             back);
}

/* Ends a session this request opened, when what it was opened for failed. */
static void end_session(gw_request *req, const char *session_token)
{
	Usher__V1__LogoutRequest in = USHER__V1__LOGOUT_REQUEST__INIT;
	in.session_token = (char *)session_token;
	ProtobufCMessage *out;
	us_status st;
	if (gw_call(req, GW_IDENTITY, "usher.v1.IdentityService/Logout", NULL, &in.base,
	            &usher__v1__logout_reply__descriptor, &out, &st) != US_OK)
		us_log_fields(US_LOG_WARN, "could not end the session of a failed accept", "reason",
		              st.message, NULL);
	us_status_clear(&st);
}

static char *form_value(gw_request *req, const char *name)
{
	return gw_form_value(req->arena, req->body != NULL ? req->body : "", name);
}

void gw_page_accept(gw_request *req, gw_response *res, char *token)
{
	res->no_referrer = true;
	char *name = form_value(req, "name");
	char *phone = form_value(req, "phone");
	char *password = form_value(req, "password");
	if (!form_token_ok(req, form_value(req, FORM_FIELD))) {
		refuse_foreign_form(req, res, token);
		return;
	}
	if (name == NULL || phone == NULL || password == NULL) {
		error_page(req, res, US_EINVAL, "The form could not be read.", token);
		return;
	}
	/* Everything that can be checked is checked before anyone is signed in. */
	Usher__V1__PreviewReply *inv;
	us_status st;
	us_err rc = preview(req, token, &inv, &st);
	const char *closed = rc == US_OK ? closed_reason(inv, req->arena) : NULL;
	if (rc != US_OK || closed != NULL) {
		error_page(req, res, rc != US_OK ? rc : US_EPRECONDITION, closed ? closed : st.message,
		           token);
		us_status_clear(&st);
		return;
	}
	Usher__V1__AcceptRequest in = USHER__V1__ACCEPT_REQUEST__INIT;
	Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
	in.token = token;
	Usher__V1__LoginReply *login = NULL;
	if (inv->existing_user) {
		/* Signing in with the invited address: the password proves it is theirs. */
		us_status_clear(&st);
		rc = gw_session_start(req, res, inv->email, password, &login, &st);
		if (rc == US_OK)
			in.session_token = login->session_token;
	} else {
		profile.name = name;
		profile.phone = phone;
		profile.password = password;
		in.new_user = &profile;
	}
	ProtobufCMessage *out = NULL;
	if (rc == US_OK) {
		us_status_clear(&st);
		rc = gw_call(req, GW_INVITATION, "usher.v1.InvitationService/Accept", NULL, &in.base,
		             &usher__v1__accept_reply__descriptor, &out, &st);
	}
	/* The new user is signed in too; if that fails they have joined all the same and
	 * can sign in later, so its outcome changes nothing here. */
	if (rc == US_OK && login == NULL) {
		us_status st2;
		if (gw_session_start(req, res, inv->email, password, &login, &st2) != US_OK)
			res->n_cookies = 0;
		us_status_clear(&st2);
	}
	if (rc != US_OK) {
		/* A failed accept leaves no session behind: not in the browser, not at identityd. */
		if (login != NULL)
			end_session(req, login->session_token);
		res->n_cookies = 0;
		error_page(req, res, rc, st.message, token);
	} else {
		char *title = us_arena_printf(req->arena, "Welcome to %s", inv->account_name);
		char *body = us_arena_printf(req->arena, "You are now %s of %s.", role_label(inv->role),
		                             inv->account_name);
		message_page(req, res, 200, or_else(title, "Welcome"),
		             or_else(body, "You have joined."), NULL);
	}
	us_status_clear(&st);
}

void gw_page_decline(gw_request *req, gw_response *res, char *token)
{
	res->no_referrer = true;
	if (!form_token_ok(req, form_value(req, FORM_FIELD))) {
		refuse_foreign_form(req, res, token);
		return;
	}
	Usher__V1__DeclineRequest in = USHER__V1__DECLINE_REQUEST__INIT;
	in.token = token;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = gw_call(req, GW_INVITATION, "usher.v1.InvitationService/Decline", NULL, &in.base,
	                    &usher__v1__decline_reply__descriptor, &out, &st);
	if (rc != US_OK) {
		error_page(req, res, rc, st.message, token);
	} else {
		Usher__V1__Invitation *inv = ((Usher__V1__DeclineReply *)out)->invitation;
		char *body = us_arena_printf(req->arena, "You declined to join %s; %s has been told.",
		                             inv->account_name, inv->inviter_name);
		message_page(req, res, 200, "Invitation declined",
		             or_else(body, "You declined the invitation."), NULL);
	}
	us_status_clear(&st);
}
