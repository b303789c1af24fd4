#include "console_people.h"

#include <stdbool.h>
#include <string.h>

#include "backend.h"
#include "common/validate.h"
#include "console.h"
#include "context.h"
#include "session.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define TOKEN_MAX 100

static bool is_post(const gateway_request *req)
{
	return strcmp(req->method, "POST") == 0;
}

/* The token in "<prefix><token>[/<action>]", in the arena; NULL when malformed. */
static char *path_token(gateway_request *req, const char *prefix, const char **action)
{
	const char *start = req->path + strlen(prefix);
	const char *slash = strchr(start, '/');
	size_t len = slash ? (size_t)(slash - start) : strlen(start);
	*action = slash ? slash + 1 : "";
	if (len == 0 || len > TOKEN_MAX)
		return NULL;
	return us_arena_strndup(req->arena, start, len);
}

static us_err call(console *c, int backend, const char *method, const ProtobufCMessage *in,
                   const ProtobufCMessageDescriptor *type, ProtobufCMessage **out, us_status *st)
{
	return gateway_backend_call(c->req, backend, method, c->user ? c->user->id : NULL, in, type,
	                            out, st);
}

void gateway_console_home(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	console_redirect(&c, c.user != NULL ? "/accounts" : "/signin");
}

/* --- sign in and out --- */

static void signin_page(console *c, unsigned status, const char *error, const char *email)
{
	const char *form_token = console_form_token(c);
	const char *flash = error ? error : console_flash(c);
	const char *const vars[] = {"form_token", form_token, "email", email, NULL};
	console_render(c, form_token ? status : 500, "Sign in", flash, error != NULL, "signin", vars);
}

void gateway_console_signin(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	if (!is_post(req)) {
		if (c.user != NULL)
			console_redirect(&c, "/accounts");
		else
			signin_page(&c, 200, NULL, "");
		return;
	}
	if (!console_form_token_ok(&c))
		return;
	const char *email = console_field(&c, "email");
	Usher__V1__LoginReply *login;
	us_status st;
	us_err rc = gateway_session_start(req, res, email, console_field(&c, "password"), &login,
	                                  &st);
	if (rc == US_OK)
		console_redirect(&c, "/accounts");
	else
		signin_page(&c, gateway_http_status(rc),
		            rc == US_EUNAUTHENTICATED ? "That email and password do not match."
		                                      : st.message,
		            email);
	us_status_clear(&st);
}

void gateway_console_signout(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	if (!console_post_ok(&c))
		return;
	Usher__V1__LogoutRequest in = USHER__V1__LOGOUT_REQUEST__INIT;
	in.session_token = (char *)c.session;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/Logout", &in.base,
	                 &usher__v1__logout_reply__descriptor, &out, &st);
	if (rc == US_OK) {
		res->cookies[res->n_cookies++] = gateway_session_cookie(req->ctx, req->arena, "", 0);
		c.user = NULL;
		console_redirect(&c, "/signin?m=signed-out");
	} else {
		console_failure(&c, rc, st.message);
	}
	us_status_clear(&st);
}

/* --- My accounts --- */

static const char *membership_status(Usher__V1__MembershipStatus s)
{
	return s == USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_DEACTIVATED ? "Deactivated" : "Active";
}

void gateway_console_accounts(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	if (!console_require_user(&c))
		return;
	Usher__V1__ListMyMembershipsRequest mreq = USHER__V1__LIST_MY_MEMBERSHIPS_REQUEST__INIT;
	Usher__V1__ListMyInvitationsRequest ireq = USHER__V1__LIST_MY_INVITATIONS_REQUEST__INIT;
	Usher__V1__ListMyMembershipsReply *m = NULL;
	Usher__V1__ListMyInvitationsReply *inv = NULL;
	us_status st;
	us_err rc = call(&c, GATEWAY_TENANCY, "usher.v1.TenancyService/ListMyMemberships", &mreq.base,
	                 &usher__v1__list_my_memberships_reply__descriptor, (ProtobufCMessage **)&m,
	                 &st);
	if (rc == US_OK) {
		us_status_clear(&st);
		rc = call(&c, GATEWAY_INVITATION, "usher.v1.InvitationService/ListMyInvitations",
		          &ireq.base, &usher__v1__list_my_invitations_reply__descriptor,
		          (ProtobufCMessage **)&inv, &st);
	}
	if (rc != US_OK) {
		console_failure(&c, rc, st.message);
		us_status_clear(&st);
		return;
	}
	us_status_clear(&st);
	const char *memberships;
	if (m->n_memberships == 0) {
		memberships = console_fragment(&c, "empty", (const char *const[]){
		        "message", "You do not belong to any account yet.", NULL});
	} else {
		us_buf rows = US_BUF_INIT;
		for (size_t i = 0; i < m->n_memberships; i++) {
			const Usher__V1__Membership *ms = m->memberships[i];
			const char *const vars[] = {
			        "account_id", ms->account_id, "account_name", ms->account_name,
			        "role", console_role_name(ms->role), "scope", console_scope_text(&c, ms->scope),
			        "products", console_join(&c, ms->products, ms->n_products, ", "),
			        "status", membership_status(ms->status), NULL};
			console_append(&rows, "accounts_row", vars);
		}
		memberships = console_fragment(&c, "accounts_table",
		                               (const char *const[]){"rows", console_take(&c, &rows), NULL});
	}
	const char *invitations;
	if (inv->n_invitations == 0) {
		invitations = console_fragment(&c, "empty", (const char *const[]){
		        "message", "No invitations are waiting for you.", NULL});
	} else {
		us_buf rows = US_BUF_INIT;
		for (size_t i = 0; i < inv->n_invitations; i++) {
			const Usher__V1__Invitation *x = inv->invitations[i];
			const char *const vars[] = {"account_name", x->account_name, "role",
			                            console_role_name(x->role), "inviter", x->inviter_name,
			                            "expires", x->expires_at, "id", x->id, "csrf", c.csrf,
			                            NULL};
			console_append(&rows, "invitations_row", vars);
		}
		invitations = console_fragment(&c, "invitations_table",
		                               (const char *const[]){"rows", console_take(&c, &rows), NULL});
	}
	const char *const vars[] = {"memberships", memberships, "invitations", invitations, NULL};
	console_render(&c, 200, "My accounts", console_flash(&c), false, "accounts", vars);
}

/* Where a person goes after accepting or joining: invitationd's next_url (the
 * invitation's redirect_url or the account's home_url, both checked as absolute http(s)
 * URLs where they were set), else the console's own page. */
static const char *next_or(const char *next_url, const char *fallback)
{
	return next_url != NULL && next_url[0] != '\0' ? next_url : fallback;
}

void gateway_console_accounts_answer(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	if (!console_post_ok(&c))
		return;
	const char *action;
	char *id = path_token(req, "/accounts/invitations/", &action);
	bool accept = strcmp(action, "accept") == 0;
	if (id == NULL || us_uuid_check(id) != NULL || (!accept && strcmp(action, "decline") != 0)) {
		console_failure(&c, US_ENOTFOUND, "There is no such invitation.");
		return;
	}
	ProtobufCMessage *out;
	us_status st;
	us_err rc;
	if (accept) {
		Usher__V1__AcceptRequest in = USHER__V1__ACCEPT_REQUEST__INIT;
		in.invitation_id = id;
		in.session_token = (char *)c.session;
		rc = call(&c, GATEWAY_INVITATION, "usher.v1.InvitationService/Accept", &in.base,
		          &usher__v1__accept_reply__descriptor, &out, &st);
	} else {
		Usher__V1__DeclineRequest in = USHER__V1__DECLINE_REQUEST__INIT;
		in.invitation_id = id;
		rc = call(&c, GATEWAY_INVITATION, "usher.v1.InvitationService/Decline", &in.base,
		          &usher__v1__decline_reply__descriptor, &out, &st);
	}
	if (rc == US_OK)
		console_redirect(&c, next_or(accept ? ((Usher__V1__AcceptReply *)out)->next_url
		                                    : ((Usher__V1__DeclineReply *)out)->next_url,
		                             accept ? "/accounts?m=accepted" : "/accounts?m=declined"));
	else
		console_failure(&c, rc, st.message);
	us_status_clear(&st);
}

/* --- the profile --- */

static void profile_page(console *c, unsigned status, const char *flash, bool error)
{
	const char *verify = c->user->email_verified || c->user->email[0] == '\0'
	                             ? ""
	                             : console_fragment(c, "verify_banner",
	                                                (const char *const[]){"csrf", c->csrf, NULL});
	const char *const vars[] = {"csrf", c->csrf, "email", c->user->email, "name", c->user->name,
	                            "phone", c->user->phone, "verify", verify, NULL};
	console_render(c, status, "Profile", flash, error, "profile", vars);
}

void gateway_console_profile(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	if (!is_post(req)) {
		if (console_require_user(&c))
			profile_page(&c, 200, console_flash(&c), false);
		return;
	}
	if (!console_post_ok(&c))
		return;
	const char *what = req->path + strlen("/profile/");
	ProtobufCMessage *out;
	us_status st;
	us_err rc;
	const char *done;
	if (strcmp(what, "details") == 0) {
		Usher__V1__UpdateProfileRequest in = USHER__V1__UPDATE_PROFILE_REQUEST__INIT;
		in.name = (char *)console_field(&c, "name");
		in.phone = (char *)console_field(&c, "phone");
		rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/UpdateProfile", &in.base,
		          &usher__v1__update_profile_reply__descriptor, &out, &st);
		done = "/profile?m=profile";
	} else if (strcmp(what, "password") == 0) {
		Usher__V1__ChangePasswordRequest in = USHER__V1__CHANGE_PASSWORD_REQUEST__INIT;
		in.current_password = (char *)console_field(&c, "current_password");
		in.new_password = (char *)console_field(&c, "new_password");
		in.keep_session_token = (char *)c.session;
		rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/ChangePassword", &in.base,
		          &usher__v1__change_password_reply__descriptor, &out, &st);
		done = "/profile?m=password";
	} else if (strcmp(what, "email") == 0) {
		Usher__V1__RequestEmailChangeRequest in = USHER__V1__REQUEST_EMAIL_CHANGE_REQUEST__INIT;
		in.new_email = (char *)console_field(&c, "new_email");
		in.current_password = (char *)console_field(&c, "current_password");
		rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/RequestEmailChange", &in.base,
		          &usher__v1__request_email_change_reply__descriptor, &out, &st);
		done = "/profile?m=email-sent";
	} else if (strcmp(what, "verify-email") == 0) {
		Usher__V1__RequestEmailVerificationRequest in =
		        USHER__V1__REQUEST_EMAIL_VERIFICATION_REQUEST__INIT;
		in.client_address = req->client_address;
		rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/RequestEmailVerification",
		          &in.base, &usher__v1__request_email_verification_reply__descriptor, &out, &st);
		done = rc == US_OK && ((Usher__V1__RequestEmailVerificationReply *)out)->already_verified
		               ? "/profile?m=verified"
		               : "/profile?m=verify-sent";
	} else {
		console_message(&c, 404, "Page not found", "There is no such page.", "/profile",
		                "Profile");
		return;
	}
	if (rc == US_OK)
		console_redirect(&c, done);
	else
		profile_page(&c, gateway_http_status(rc), st.message, true);
	us_status_clear(&st);
}

/* --- a forgotten password --- */

void gateway_console_forgot(gateway_request *req, gateway_response *res)
{
	console c;
	console_init(&c, req, res);
	if (is_post(req)) {
		if (!console_form_token_ok(&c))
			return;
		Usher__V1__RequestPasswordResetRequest in =
		        USHER__V1__REQUEST_PASSWORD_RESET_REQUEST__INIT;
		in.email = (char *)console_field(&c, "email");
		in.client_address = req->client_address;
		ProtobufCMessage *out;
		us_status st;
		us_err rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/RequestPasswordReset",
		                 &in.base, &usher__v1__request_password_reset_reply__descriptor, &out,
		                 &st);
		if (rc == US_OK)
			console_redirect(&c, "/signin?m=reset-sent");
		else
			console_failure(&c, rc, st.message);
		us_status_clear(&st);
		return;
	}
	const char *form_token = console_form_token(&c);
	console_render(&c, form_token ? 200 : 500, "Reset your password", NULL, false, "forgot",
	               (const char *const[]){"form_token", form_token, NULL});
}

void gateway_console_reset(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	console c;
	console_init(&c, req, res);
	const char *action;
	char *token = path_token(req, "/password-reset/", &action);
	if (token == NULL || (is_post(req) ? strcmp(action, "set") != 0 : action[0] != '\0')) {
		console_message(&c, 404, "Link not found", "This link does not open anything.",
		                "/forgot", "Ask for a new link");
		return;
	}
	const char *form_token = console_form_token(&c);
	const char *flash = NULL;
	unsigned status = 200;
	if (is_post(req)) {
		if (!console_form_token_ok(&c))
			return;
		Usher__V1__ResetPasswordRequest in = USHER__V1__RESET_PASSWORD_REQUEST__INIT;
		in.token = token;
		in.new_password = (char *)console_field(&c, "password");
		ProtobufCMessage *out;
		us_status st;
		us_err rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/ResetPassword",
		                 &in.base, &usher__v1__reset_password_reply__descriptor, &out, &st);
		if (rc == US_OK) {
			console_redirect(&c, "/signin?m=reset");
			us_status_clear(&st);
			return;
		}
		flash = us_arena_strdup(req->arena, rc == US_EINTERNAL ? "Something went wrong on our "
		                                                         "side; try again."
		                                                       : st.message);
		status = gateway_http_status(rc);
		us_status_clear(&st);
	}
	console_render(&c, form_token ? status : 500, "Choose a new password", flash, flash != NULL,
	               "reset", (const char *const[]){"form_token", form_token, "token", token, NULL});
}

/* GET shows a button, and only the post uses the link: a mail scanner opening the link
 * changes nothing. */
void gateway_console_email_change(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	console c;
	console_init(&c, req, res);
	const char *action;
	char *token = path_token(req, "/email-change/", &action);
	if (token == NULL || (is_post(req) ? strcmp(action, "confirm") != 0 : action[0] != '\0')) {
		console_message(&c, 404, "Link not found", "This link does not open anything.",
		                "/profile", "Profile");
		return;
	}
	if (is_post(req)) {
		if (!console_form_token_ok(&c))
			return;
		Usher__V1__ConfirmEmailChangeRequest in = USHER__V1__CONFIRM_EMAIL_CHANGE_REQUEST__INIT;
		in.token = token;
		ProtobufCMessage *out;
		us_status st;
		us_err rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/ConfirmEmailChange",
		                 &in.base, &usher__v1__confirm_email_change_reply__descriptor, &out, &st);
		if (rc == US_OK)
			console_message(&c, 200, "Email address changed",
			                us_arena_printf(req->arena, "You now sign in as %s.",
			                                ((Usher__V1__ConfirmEmailChangeReply *)out)->user->email),
			                c.user ? "/profile" : "/signin", c.user ? "Profile" : "Sign in");
		else
			console_failure(&c, rc, st.message);
		us_status_clear(&st);
		return;
	}
	const char *form_token = console_form_token(&c);
	console_render(&c, form_token ? 200 : 500, "Confirm your new email address", NULL, false,
	               "email_change", (const char *const[]){"form_token", form_token, "token", token, NULL});
}

/* The link of the verification email. As for an email change, GET shows a button and
 * only the post uses the link. */
void gateway_console_verify_email(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	console c;
	console_init(&c, req, res);
	const char *action;
	char *token = path_token(req, "/verify-email/", &action);
	if (token == NULL || (is_post(req) ? strcmp(action, "confirm") != 0 : action[0] != '\0')) {
		console_message(&c, 404, "Link not found", "This link does not open anything.",
		                "/profile", "Profile");
		return;
	}
	if (is_post(req)) {
		if (!console_form_token_ok(&c))
			return;
		Usher__V1__VerifyEmailRequest in = USHER__V1__VERIFY_EMAIL_REQUEST__INIT;
		in.token = token;
		ProtobufCMessage *out;
		us_status st;
		us_err rc = call(&c, GATEWAY_IDENTITY, "usher.v1.IdentityService/VerifyEmail", &in.base,
		                 &usher__v1__verify_email_reply__descriptor, &out, &st);
		if (rc == US_OK)
			console_message(&c, 200, "Email address verified",
			                us_arena_printf(req->arena, "%s is verified.",
			                                ((Usher__V1__VerifyEmailReply *)out)->user->email),
			                c.user ? "/profile" : "/signin", c.user ? "Profile" : "Sign in");
		else
			console_failure(&c, rc, st.message);
		us_status_clear(&st);
		return;
	}
	const char *form_token = console_form_token(&c);
	console_render(&c, form_token ? 200 : 500, "Verify your email address", NULL, false,
	               "verify_email", (const char *const[]){"form_token", form_token, "token", token, NULL});
}

/* --- a permanent link's page --- */

void gateway_console_link_page(gateway_request *req, gateway_response *res, char *token)
{
	res->no_referrer = true;
	console c;
	console_init(&c, req, res);
	Usher__V1__PreviewLinkRequest in = USHER__V1__PREVIEW_LINK_REQUEST__INIT;
	in.token = token;
	Usher__V1__PreviewLinkReply *link;
	us_status st;
	us_err rc = call(&c, GATEWAY_INVITATION, "usher.v1.InvitationService/PreviewLink", &in.base,
	                 &usher__v1__preview_link_reply__descriptor, (ProtobufCMessage **)&link, &st);
	if (rc != US_OK || link->state != USHER__V1__LINK_STATE__LINK_ACTIVE) {
		console_message(&c, rc == US_OK ? 410 : gateway_http_status(rc), "This link does not work",
		                rc == US_OK || rc == US_ENOTFOUND
		                        ? "This invitation link was deleted, has expired or was used up. "
		                          "Ask whoever gave it to you for a new one."
		                        : st.message,
		                "/signin", "Sign in");
		us_status_clear(&st);
		return;
	}
	us_status_clear(&st);
	const char *form_token = console_form_token(&c);
	const char *domains = "";
	if (link->n_allowed_email_domains > 0)
		domains = us_arena_printf(req->arena, " Only addresses at %s can join.",
		                          console_join(&c, link->allowed_email_domains,
		                                       link->n_allowed_email_domains, ", "));
	const char *signed_in = "";
	if (c.user != NULL)
		signed_in = console_fragment(&c, "link_join_me", (const char *const[]){
		        "token", token, "form_token", form_token, "email", c.user->email, NULL});
	const char *const vars[] = {"account_name", link->account_name, "domains", domains,
	                            "signed_in", signed_in, "token", token, "form_token", form_token,
	                            NULL};
	console_render(&c, form_token ? 200 : 500,
	               us_arena_printf(req->arena, "Join %s", link->account_name), NULL, false,
	               "link_join", vars);
}

void gateway_console_link_join(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	console c;
	console_init(&c, req, res);
	const char *action;
	char *token = path_token(req, "/l/", &action);
	if (token == NULL || !console_form_token_ok(&c))
		return;
	bool as_me = strcmp(console_field(&c, "as_me"), "1") == 0;
	if (as_me && c.user == NULL) {
		console_redirect(&c, "/signin");
		return;
	}
	Usher__V1__AcceptLinkRequest in = USHER__V1__ACCEPT_LINK_REQUEST__INIT;
	Usher__V1__LinkNewUser profile = USHER__V1__LINK_NEW_USER__INIT;
	in.token = token;
	if (as_me) {
		in.session_token = (char *)c.session;
	} else {
		profile.email = (char *)console_field(&c, "email");
		profile.name = (char *)console_field(&c, "name");
		profile.phone = (char *)console_field(&c, "phone");
		profile.password = (char *)console_field(&c, "password");
		in.new_user = &profile;
	}
	Usher__V1__AcceptLinkReply *joined;
	us_status st;
	us_err rc = call(&c, GATEWAY_INVITATION, "usher.v1.InvitationService/AcceptLink", &in.base,
	                 &usher__v1__accept_link_reply__descriptor, (ProtobufCMessage **)&joined, &st);
	if (rc != US_OK) {
		console_message(&c, gateway_http_status(rc), "That did not work",
		                rc == US_EINTERNAL ? "Something went wrong on our side; try again."
		                                   : st.message,
		                us_arena_printf(req->arena, "/l/%s", token), "Back to the link");
		us_status_clear(&st);
		return;
	}
	us_status_clear(&st);
	if (joined->awaiting_confirmation) {
		console_message(&c, 202, "Check your email",
		                "Follow the link we sent to your address to finish joining.", "/signin",
		                "Sign in");
		return;
	}
	/* A new user is signed in too; if that fails they have joined all the same. */
	if (!as_me) {
		Usher__V1__LoginReply *login;
		us_status st2;
		if (gateway_session_start(req, res, profile.email, profile.password, &login, &st2) !=
		    US_OK) {
			us_status_clear(&st2);
			console_redirect(&c, "/signin?m=joined-signin");
			return;
		}
		us_status_clear(&st2);
	}
	console_redirect(&c, next_or(joined->next_url, "/accounts?m=joined"));
}

/* --- a link join's confirmation --- */

void gateway_console_join_page(gateway_request *req, gateway_response *res, char *token)
{
	res->no_referrer = true;
	console c;
	console_init(&c, req, res);
	Usher__V1__PreviewLinkJoinRequest in = USHER__V1__PREVIEW_LINK_JOIN_REQUEST__INIT;
	in.token = token;
	Usher__V1__PreviewLinkJoinReply *join;
	us_status st;
	us_err rc = call(&c, GATEWAY_INVITATION, "usher.v1.InvitationService/PreviewLinkJoin",
	                 &in.base, &usher__v1__preview_link_join_reply__descriptor,
	                 (ProtobufCMessage **)&join, &st);
	if (rc != US_OK || !join->pending) {
		console_message(&c, rc == US_OK ? 410 : gateway_http_status(rc), "This link does not work",
		                rc == US_OK || rc == US_ENOTFOUND
		                        ? "This confirmation link was used already, replaced by a newer "
		                          "one, or has expired."
		                        : st.message,
		                "/signin", "Sign in");
		us_status_clear(&st);
		return;
	}
	us_status_clear(&st);
	const char *form_token = console_form_token(&c);
	const char *const vars[] = {"account_name", join->account_name, "email", join->email,
	                            "token", token, "form_token", form_token, NULL};
	console_render(&c, form_token ? 200 : 500, "Finish joining", NULL, false, "join_confirm", vars);
}

void gateway_console_join_confirm(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	console c;
	console_init(&c, req, res);
	const char *action;
	char *token = path_token(req, "/j/", &action);
	if (token == NULL || !console_form_token_ok(&c))
		return;
	Usher__V1__ConfirmLinkJoinRequest in = USHER__V1__CONFIRM_LINK_JOIN_REQUEST__INIT;
	in.token = token;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = call(&c, GATEWAY_INVITATION, "usher.v1.InvitationService/ConfirmLinkJoin",
	                 &in.base, &usher__v1__accept_link_reply__descriptor, &out, &st);
	if (rc == US_OK)
		console_redirect(&c, next_or(((Usher__V1__AcceptLinkReply *)out)->next_url,
		                             c.user != NULL ? "/accounts?m=joined"
		                                            : "/signin?m=joined-signin"));
	else
		console_failure(&c, rc, st.message);
	us_status_clear(&st);
}
