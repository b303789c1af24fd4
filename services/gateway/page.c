#include "page.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/validate.h"
#include "form.h"
#include "form_token.h"
#include "render.h"
#include "session.h"
#include "context.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"

bool gateway_page_wanted(gateway_request *req)
{
	const char *accept = gateway_http_header(req, MHD_HTTP_HEADER_ACCEPT);
	return accept != NULL && strstr(accept, "text/html") != NULL;
}

/* Replies with the page, freeing its buffer. */
static void finish(gateway_request *req, gateway_response *res, us_buf *p, unsigned status)
{
	bool failed = us_buf_failed(p);
	json_decref(res->json);
	res->json = NULL;
	res->content_type = "text/html; charset=utf-8";
	res->raw = failed ? NULL : us_arena_strndup(req->arena, p->data, p->len);
	res->status = res->raw != NULL ? status : 500;
	if (res->raw == NULL)
		res->raw = "internal error";
	res->raw_len = strlen(res->raw);
	us_buf_free(p);
}

/* s, or fallback when building s ran out of memory. */
static const char *or_else(const char *s, const char *fallback)
{
	return s != NULL ? s : fallback;
}

/* A page with a heading and a message, for outcomes and errors. */
static void message_page(gateway_request *req, gateway_response *res, unsigned status, const char *title,
                         const char *message, const char *back)
{
	us_buf p = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	gateway_render_message(&p, title, message, back);
	finish(req, res, &p, status);
}

static void error_page(gateway_request *req, gateway_response *res, us_err code, const char *message,
                       const char *token)
{
	char *back = us_arena_printf(req->arena, "/i/%s", token); /* NULL: no link back */
	message_page(req, res, gateway_http_status(code), "That did not work",
	             code == US_EINTERNAL ? "Something went wrong on our side; try again." : message,
	             back);
}

/* --- the invitation --- */

/* After an accept or decline, the invitee goes where invitationd says (next_url: the
 * invitation's redirect_url, checked against the account's allow-list when the invitation
 * was made, else after an accept the account's home_url), with the page as a fallback for
 * a client that does not follow redirects. */
static void page_or_redirect(gateway_request *req, gateway_response *res, const char *redirect_url,
                             const char *title, const char *message)
{
	if (redirect_url == NULL || redirect_url[0] == '\0') {
		message_page(req, res, 200, title, message, NULL);
		return;
	}
	message_page(req, res, 303, title, message, NULL);
	res->location = redirect_url;
}

static us_err preview(gateway_request *req, char *token, Usher__V1__PreviewReply **out, us_status *st)
{
	Usher__V1__PreviewRequest in = USHER__V1__PREVIEW_REQUEST__INIT;
	in.token = token;
	return gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/Preview", NULL, &in.base,
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

/* The invitee's forms carry a form token (form_token.h) in a cookie of their own. */
#define FORM_COOKIE "usher_form"

static const char *form_token(gateway_request *req, gateway_response *res)
{
	return gateway_form_token(req, res, FORM_COOKIE, "/i/");
}

static bool form_token_ok(gateway_request *req, const char *given)
{
	return gateway_form_token_ok(req, FORM_COOKIE, given);
}

void gateway_page_invitation(gateway_request *req, gateway_response *res, char *token)
{
	res->no_referrer = true;
	Usher__V1__PreviewReply *inv;
	us_status st;
	us_err rc = preview(req, token, &inv, &st);
	if (rc != US_OK) {
		message_page(req, res, gateway_http_status(rc), "Invitation not found",
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
	us_buf p = US_BUF_WITH_LIMIT(GATEWAY_PAGE_MAX_BYTES);
	gateway_render_invitation(&p, inv, token, form_tok);
	finish(req, res, &p, 200);
}

/* --- the forms --- */

/* The refusal of a post that did not come from our own page. */
static void refuse_foreign_form(gateway_request *req, gateway_response *res, const char *token)
{
	char *back = us_arena_printf(req->arena, "/i/%s", token);
	message_page(req, res, 403, "Please use the invitation page",
	             "This form was not sent from the invitation's page, or the page is too old. "
	             "Open the invitation link again.",
	             back);
}

/* Ends a session this request opened, when what it was opened for failed. */
static void end_session(gateway_request *req, const char *session_token)
{
	Usher__V1__LogoutRequest in = USHER__V1__LOGOUT_REQUEST__INIT;
	in.session_token = (char *)session_token;
	ProtobufCMessage *out;
	us_status st;
	if (gateway_backend_call(req, GATEWAY_IDENTITY, "usher.v1.IdentityService/Logout", NULL, &in.base,
	            &usher__v1__logout_reply__descriptor, &out, &st) != US_OK)
		us_log_fields(US_LOG_WARN, "could not end the session of a failed accept", "reason",
		              st.message, NULL);
	us_status_clear(&st);
}

void gateway_page_accept(gateway_request *req, gateway_response *res, char *token)
{
	res->no_referrer = true;
	char *name = gateway_form_value(req->arena, req->body.data, "name");
	char *phone = gateway_form_value(req->arena, req->body.data, "phone");
	char *password = gateway_form_value(req->arena, req->body.data, "password");
	if (!form_token_ok(req, gateway_form_value(req->arena, req->body.data, GATEWAY_FORM_FIELD))) {
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
	/* A new user's password, checked early as identityd words it. */
	const char *weak = inv->existing_user ? NULL : us_password_check(password);
	if (weak != NULL) {
		error_page(req, res, US_EINVAL,
		           us_arena_printf(req->arena, "invalid password: %s", weak), token);
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
		rc = gateway_session_start(req, res, inv->email, password, &login, &st);
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
		rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/Accept", NULL, &in.base,
		             &usher__v1__accept_reply__descriptor, &out, &st);
	}
	/* The new user is signed in too; if that fails they have joined all the same and
	 * can sign in later, so its outcome changes nothing here. */
	if (rc == US_OK && login == NULL) {
		us_status st2;
		if (gateway_session_start(req, res, inv->email, password, &login, &st2) != US_OK)
			res->n_cookies = 0;
		us_status_clear(&st2);
	}
	if (rc != US_OK) {
		/* A failed accept leaves no session behind: not in the browser, not at identityd. */
		if (login != NULL)
			end_session(req, login->session_token);
		res->n_cookies = 0;
		error_page(req, res, rc, st.message, token);
	} else if (res->n_cookies > 0) {
		/* Signed in: on to the account's home (or the invitation's redirect), else My
		 * accounts, which shows the account just joined. */
		const char *next = ((Usher__V1__AcceptReply *)out)->next_url;
		json_decref(res->json);
		res->json = NULL;
		res->status = 303;
		res->location = next[0] != '\0' ? next : "/accounts?m=accepted";
		res->content_type = "text/plain; charset=utf-8";
		res->raw = "see other";
		res->raw_len = strlen(res->raw);
	} else {
		char *title = us_arena_printf(req->arena, "Welcome to %s", inv->account_name);
		char *body = us_arena_printf(req->arena, "You are now %s of %s.", gateway_render_role_label(inv->role),
		                             inv->account_name);
		page_or_redirect(req, res, ((Usher__V1__AcceptReply *)out)->next_url,
		                 or_else(title, "Welcome"), or_else(body, "You have joined."));
	}
	us_status_clear(&st);
}

void gateway_page_decline(gateway_request *req, gateway_response *res, char *token)
{
	res->no_referrer = true;
	if (!form_token_ok(req, gateway_form_value(req->arena, req->body.data, GATEWAY_FORM_FIELD))) {
		refuse_foreign_form(req, res, token);
		return;
	}
	Usher__V1__DeclineRequest in = USHER__V1__DECLINE_REQUEST__INIT;
	in.token = token;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/Decline", NULL, &in.base,
	                    &usher__v1__decline_reply__descriptor, &out, &st);
	if (rc != US_OK) {
		error_page(req, res, rc, st.message, token);
	} else {
		Usher__V1__Invitation *inv = ((Usher__V1__DeclineReply *)out)->invitation;
		char *body = us_arena_printf(req->arena, "You declined to join %s; %s has been told.",
		                             inv->account_name, inv->inviter_name);
		page_or_redirect(req, res, ((Usher__V1__DeclineReply *)out)->next_url,
		                 "Invitation declined",
		                 or_else(body, "You declined the invitation."));
	}
	us_status_clear(&st);
}
