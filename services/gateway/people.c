#include "people.h"

#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "console_people.h"
#include "page.h"
#include "common/pbjson.h"
#include "session.h"
#include "context.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define TOKEN_MAX 100

/* A JSON string member of body, or "" when absent; NULL (after replying 400) when it is
 * there but not a string. */
static const char *string_member(gateway_response *res, json_t *body, const char *name)
{
	json_t *v = json_object_get(body, name);
	if (v == NULL || json_is_null(v))
		return "";
	if (!json_is_string(v)) {
		us_status st;
		us_status_init(&st);
		us_status_add_violation(&st, name, "must be a string");
		gateway_http_reply_error(res, US_EINVAL, "invalid request", &st);
		us_status_clear(&st);
		return NULL;
	}
	return json_string_value(v);
}

/* Refuses members other than the allowed ones, naming the first. */
static bool only_members(gateway_response *res, json_t *body, const char *const *allowed, size_t n)
{
	const char *key;
	json_t *value;
	json_object_foreach(body, key, value) {
		bool ok = false;
		for (size_t i = 0; i < n && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok) {
			us_status st;
			us_status_init(&st);
			us_status_add_violation(&st, key, "is not a field of this request");
			gateway_http_reply_error(res, US_EINVAL, "invalid request", &st);
			us_status_clear(&st);
			return false;
		}
	}
	return true;
}

/* The invitee's own form: name its fields as the page knows them ("name", not
 * "new_user.name"). */
static void strip_prefix(us_status *st, const char *prefix)
{
	size_t len = strlen(prefix);
	for (size_t i = 0; i < st->n_violations; i++) {
		char *f = st->violations[i].field;
		if (strncmp(f, prefix, len) == 0)
			memmove(f, f + len, strlen(f + len) + 1);
	}
}

/* Signs in: a session cookie, and the CSRF token the page must send back. */
static void sign_in(gateway_request *req, gateway_response *res, const char *email, const char *password)
{
	Usher__V1__LoginReply *login;
	us_status st;
	us_err rc = gateway_session_start(req, res, email, password, &login, &st);
	if (rc != US_OK) {
		gateway_http_reply_error(res, rc, st.message, &st);
		us_status_clear(&st);
		return;
	}
	gateway_http_reply_json(res, 200,
	              json_pack("{s:o, s:s, s:s}", "user", us_pbjson_encode(&login->user->base),
	                        "csrfToken", gateway_session_csrf_token(req->ctx, req->arena, login->session_token),
	                        "expiresAt", login->expires_at));
}

void gateway_people_login(gateway_request *req, gateway_response *res)
{
	json_t *body = gateway_http_body_json(req, res);
	if (body == NULL)
		return;
	static const char *const allowed[] = {"email", "password"};
	const char *email = NULL, *password = NULL;
	if (only_members(res, body, allowed, 2) && (email = string_member(res, body, "email")) &&
	    (password = string_member(res, body, "password")))
		sign_in(req, res, email, password);
	json_decref(body);
}

void gateway_people_logout(gateway_request *req, gateway_response *res)
{
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	if (auth.token == NULL) {
		gateway_http_reply_error(res, US_EUNAUTHENTICATED, "not signed in", NULL);
		return;
	}
	if (!gateway_session_csrf_ok(req, &auth)) {
		gateway_http_reply_error(res, US_EDENIED, "missing or wrong CSRF token (X-CSRF-Token)", NULL);
		return;
	}
	Usher__V1__LogoutRequest in = USHER__V1__LOGOUT_REQUEST__INIT;
	in.session_token = (char *)auth.token;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = gateway_backend_call(req, GATEWAY_IDENTITY, "usher.v1.IdentityService/Logout", NULL, &in.base,
	                    &usher__v1__logout_reply__descriptor, &out, &st);
	if (rc == US_OK) {
		res->cookies[res->n_cookies++] = gateway_session_cookie(req->ctx, req->arena, "", 0);
		gateway_http_reply_json(res, 200, json_object());
	} else {
		gateway_http_reply_error(res, rc, st.message, &st);
	}
	us_status_clear(&st);
}

/* Who am I: the user, their memberships and pending invitations, and the CSRF token. */
void gateway_people_me(gateway_request *req, gateway_response *res)
{
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	Usher__V1__User *user = gateway_session_signed_in(req, res, &auth);
	if (user == NULL)
		return;
	Usher__V1__ListMyMembershipsRequest mreq = USHER__V1__LIST_MY_MEMBERSHIPS_REQUEST__INIT;
	Usher__V1__ListMyInvitationsRequest ireq = USHER__V1__LIST_MY_INVITATIONS_REQUEST__INIT;
	ProtobufCMessage *memberships, *invitations;
	us_status st;
	us_err rc = gateway_backend_call(req, GATEWAY_TENANCY, "usher.v1.TenancyService/ListMyMemberships", user->id,
	                    &mreq.base, &usher__v1__list_my_memberships_reply__descriptor,
	                    &memberships, &st);
	if (rc == US_OK) {
		us_status_clear(&st);
		rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/ListMyInvitations", user->id,
		             &ireq.base, &usher__v1__list_my_invitations_reply__descriptor, &invitations,
		             &st);
	}
	if (rc != US_OK) {
		gateway_http_reply_error(res, rc, st.message, &st);
		us_status_clear(&st);
		return;
	}
	json_t *m = us_pbjson_encode(memberships);
	json_t *i = us_pbjson_encode(invitations);
	/* An empty list is left out by the JSON mapping; the reply always has both. Each
	 * value below is a new reference the pack takes ("o"). */
	json_t *m_list = json_object_get(m, "memberships");
	json_t *i_list = json_object_get(i, "invitations");
	gateway_http_reply_json(res, 200,
	              json_pack("{s:o, s:o, s:o, s:s}", "user", us_pbjson_encode(&user->base),
	                        "memberships", m_list ? json_incref(m_list) : json_array(),
	                        "invitations", i_list ? json_incref(i_list) : json_array(),
	                        "csrfToken", auth.via_cookie ? gateway_session_csrf_token(req->ctx, req->arena, auth.token) : ""));
	json_decref(m);
	json_decref(i);
}

/* "/i/<token>[/<action>]" or "/l/<token>[/<action>]": copies the token into the arena. */
static char *token_of(gateway_request *req, const char **action)
{
	const char *start = req->path + strlen("/i/");
	const char *slash = strchr(start, '/');
	size_t len = slash ? (size_t)(slash - start) : strlen(start);
	*action = slash ? slash + 1 : "";
	if (len == 0 || len > TOKEN_MAX)
		return NULL;
	return us_arena_strndup(req->arena, start, len);
}

static bool permanent(gateway_request *req)
{
	return strncmp(req->path, "/l/", 3) == 0;
}

void gateway_people_preview(gateway_request *req, gateway_response *res)
{
	/* The URL holds the secret: keep it out of Referer headers. */
	res->no_referrer = true;
	const char *action;
	char *token = token_of(req, &action);
	if (token == NULL || action[0] != '\0') {
		gateway_http_reply_error(res, US_ENOTFOUND, "invitation not found", NULL);
		return;
	}
	/* A browser following the email's link, or a permanent link, gets the page. */
	if (!permanent(req) && gateway_page_wanted(req)) {
		gateway_page_invitation(req, res, token);
		return;
	}
	if (permanent(req) && gateway_page_wanted(req)) {
		gateway_console_link_page(req, res, token);
		return;
	}
	/* PreviewRequest and PreviewLinkRequest both hold just the token. */
	Usher__V1__PreviewRequest in = USHER__V1__PREVIEW_REQUEST__INIT;
	Usher__V1__PreviewLinkRequest lin = USHER__V1__PREVIEW_LINK_REQUEST__INIT;
	in.token = lin.token = token;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = permanent(req)
	                    ? gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/PreviewLink", NULL,
	                              &lin.base, &usher__v1__preview_link_reply__descriptor, &out, &st)
	                    : gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/Preview", NULL,
	                              &in.base, &usher__v1__preview_reply__descriptor, &out, &st);
	if (rc == US_OK)
		gateway_http_reply_json(res, 200, us_pbjson_encode(out));
	else
		gateway_http_reply_error(res, rc, st.message, &st);
	us_status_clear(&st);
}

static void decline_link(gateway_request *req, gateway_response *res, char *token)
{
	Usher__V1__DeclineRequest in = USHER__V1__DECLINE_REQUEST__INIT;
	in.token = token;
	ProtobufCMessage *out;
	us_status st;
	us_err rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/Decline", NULL, &in.base,
	                    &usher__v1__decline_reply__descriptor, &out, &st);
	if (rc == US_OK)
		gateway_http_reply_json(res, 200, us_pbjson_encode(out));
	else
		gateway_http_reply_error(res, rc, st.message, &st);
	us_status_clear(&st);
}

/* How a person takes up a link: signing up (the body's fields, all strings) or as the
 * signed-in user (an empty body and a session). */
typedef struct taking_up {
	const char *const *fields; /* the sign-up fields, in the order of values */
	size_t n_fields;
	const char *values[4];
	bool sign_up;
	const char *session;
} taking_up;

/* Reads a taking-up from the body; replies and returns false when it is neither. */
static bool read_taking_up(gateway_request *req, gateway_response *res, json_t *body, taking_up *t,
                           const char *what)
{
	if (!only_members(res, body, t->fields, t->n_fields))
		return false;
	t->sign_up = json_object_size(body) > 0;
	for (size_t i = 0; t->sign_up && i < t->n_fields; i++) {
		if ((t->values[i] = string_member(res, body, t->fields[i])) == NULL)
			return false;
	}
	if (t->sign_up)
		return true;
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	if (auth.token == NULL) {
		char message[160];
		snprintf(message, sizeof(message), "sign in to %s, or give your details to sign up", what);
		gateway_http_reply_error(res, US_EUNAUTHENTICATED, message, NULL);
		return false;
	}
	if (!gateway_session_csrf_ok(req, &auth)) {
		gateway_http_reply_error(res, US_EDENIED, "missing or wrong CSRF token (X-CSRF-Token)", NULL);
		return false;
	}
	t->session = auth.token;
	return true;
}

/* Replies to a taking-up: a new user is signed in as well; the daemon's reply goes under
 * key. A join waiting for its address to be confirmed signs nobody in (202). */
static void reply_taking_up(gateway_request *req, gateway_response *res, const taking_up *t, us_err rc,
                            us_status *st, ProtobufCMessage *out, const Usher__V1__User *user,
                            const char *password, const char *key, bool awaiting)
{
	if (rc != US_OK) {
		strip_prefix(st, "new_user.");
		gateway_http_reply_error(res, rc, st->message, st);
	} else if (awaiting) {
		gateway_http_reply_json(res, 202,
		              json_pack("{s:o, s:s}", key, us_pbjson_encode(out), "message",
		                        "check your email: follow the link sent to your address to join"));
	} else if (t->sign_up) {
		sign_in(req, res, user->email, password);
		if (res->status == 200)
			json_object_set_new(res->json, key, us_pbjson_encode(out));
	} else {
		gateway_http_reply_json(res, 200, json_pack("{s:o}", key, us_pbjson_encode(out)));
	}
	us_status_clear(st);
}

/* Accepts an invitation as a new user (name, phone, password: created and signed in) or as
 * the signed-in user (an empty body). */
static void accept_link(gateway_request *req, gateway_response *res, char *token)
{
	static const char *const fields[] = {"name", "phone", "password"};
	taking_up t = {fields, 3, {0}, false, NULL};
	json_t *body = gateway_http_body_json(req, res);
	if (body != NULL && read_taking_up(req, res, body, &t, "accept")) {
		Usher__V1__AcceptRequest in = USHER__V1__ACCEPT_REQUEST__INIT;
		Usher__V1__NewUserProfile profile = USHER__V1__NEW_USER_PROFILE__INIT;
		in.token = token;
		profile.name = (char *)t.values[0];
		profile.phone = (char *)t.values[1];
		profile.password = (char *)t.values[2];
		in.new_user = t.sign_up ? &profile : NULL;
		in.session_token = (char *)(t.session ? t.session : "");
		ProtobufCMessage *out = NULL;
		us_status st;
		us_err rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/Accept", NULL,
		                    &in.base, &usher__v1__accept_reply__descriptor, &out, &st);
		reply_taking_up(req, res, &t, rc, &st, out,
		                rc == US_OK ? ((Usher__V1__AcceptReply *)out)->user : NULL,
		                profile.password, "accepted", false);
	}
	json_decref(body);
}

/* Joins through a permanent link as a new user (email, name, phone, password: created and
 * signed in) or as the signed-in user (an empty body). */
static void join_link(gateway_request *req, gateway_response *res, char *token)
{
	static const char *const fields[] = {"email", "name", "phone", "password"};
	taking_up t = {fields, 4, {0}, false, NULL};
	json_t *body = gateway_http_body_json(req, res);
	if (body != NULL && read_taking_up(req, res, body, &t, "join")) {
		Usher__V1__AcceptLinkRequest in = USHER__V1__ACCEPT_LINK_REQUEST__INIT;
		Usher__V1__LinkNewUser profile = USHER__V1__LINK_NEW_USER__INIT;
		in.token = token;
		profile.email = (char *)t.values[0];
		profile.name = (char *)t.values[1];
		profile.phone = (char *)t.values[2];
		profile.password = (char *)t.values[3];
		in.new_user = t.sign_up ? &profile : NULL;
		in.session_token = (char *)(t.session ? t.session : "");
		ProtobufCMessage *out = NULL;
		us_status st;
		us_err rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/AcceptLink", NULL,
		                    &in.base, &usher__v1__accept_link_reply__descriptor, &out, &st);
		Usher__V1__AcceptLinkReply *joined = rc == US_OK ? (Usher__V1__AcceptLinkReply *)out : NULL;
		reply_taking_up(req, res, &t, rc, &st, out, joined ? joined->user : NULL,
		                profile.password, "joined", joined && joined->awaiting_confirmation);
	}
	json_decref(body);
}

/* GET /j/<token>: a join's confirmation link, previewed (never consumed); POST
 * /j/<token>/confirm: followed, proving the address, and the join done. */
void gateway_people_join(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	const char *start = req->path + strlen("/j/");
	const char *slash = strchr(start, '/');
	size_t len = slash ? (size_t)(slash - start) : strlen(start);
	const char *action = slash ? slash + 1 : "";
	bool get = strcmp(req->method, "GET") == 0;
	if (len == 0 || len > TOKEN_MAX || (get ? action[0] != '\0' : strcmp(action, "confirm") != 0)) {
		gateway_http_reply_error(res, US_ENOTFOUND, "not found", NULL);
		return;
	}
	char *token = us_arena_strndup(req->arena, start, len);
	if (get && token != NULL && gateway_page_wanted(req)) {
		gateway_console_join_page(req, res, token);
		return;
	}
	ProtobufCMessage *out;
	us_status st;
	us_err rc;
	if (get) {
		Usher__V1__PreviewLinkJoinRequest in = USHER__V1__PREVIEW_LINK_JOIN_REQUEST__INIT;
		in.token = token;
		rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/PreviewLinkJoin", NULL,
		             &in.base, &usher__v1__preview_link_join_reply__descriptor, &out, &st);
	} else {
		Usher__V1__ConfirmLinkJoinRequest in = USHER__V1__CONFIRM_LINK_JOIN_REQUEST__INIT;
		in.token = token;
		rc = gateway_backend_call(req, GATEWAY_INVITATION, "usher.v1.InvitationService/ConfirmLinkJoin", NULL,
		             &in.base, &usher__v1__accept_link_reply__descriptor, &out, &st);
	}
	if (rc == US_OK)
		gateway_http_reply_json(res, 200, get ? us_pbjson_encode(out)
		                            : json_pack("{s:o}", "joined", us_pbjson_encode(out)));
	else
		gateway_http_reply_error(res, rc, st.message, &st);
	us_status_clear(&st);
}

/* POST /password-reset {email}: the same answer whether or not the address has a user. */
void gateway_people_password_reset(gateway_request *req, gateway_response *res)
{
	json_t *body = gateway_http_body_json(req, res);
	if (body == NULL)
		return;
	static const char *const allowed[] = {"email"};
	const char *email = NULL;
	if (only_members(res, body, allowed, 1) && (email = string_member(res, body, "email"))) {
		Usher__V1__RequestPasswordResetRequest in = USHER__V1__REQUEST_PASSWORD_RESET_REQUEST__INIT;
		in.email = (char *)email;
		in.client_address = req->client_address;
		ProtobufCMessage *out;
		us_status st;
		us_err rc = gateway_backend_call(req, GATEWAY_IDENTITY, "usher.v1.IdentityService/RequestPasswordReset",
		                    NULL, &in.base, &usher__v1__request_password_reset_reply__descriptor,
		                    &out, &st);
		if (rc == US_OK)
			gateway_http_reply_json(res, 200,
			              json_pack("{s:s}", "message",
			                        "if an account has this address, a link to reset its "
			                        "password is on its way"));
		else
			gateway_http_reply_error(res, rc, st.message, &st);
		us_status_clear(&st);
	}
	json_decref(body);
}

/* POST /password-reset/<token> {password}: sets it; the person signs in afterwards. */
void gateway_people_password_reset_confirm(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	const char *token = req->path + strlen("/password-reset/");
	if (token[0] == '\0' || strlen(token) > TOKEN_MAX || strchr(token, '/') != NULL) {
		gateway_http_reply_error(res, US_ENOTFOUND, "not found", NULL);
		return;
	}
	json_t *body = gateway_http_body_json(req, res);
	if (body == NULL)
		return;
	static const char *const allowed[] = {"password"};
	const char *password = NULL;
	if (only_members(res, body, allowed, 1) && (password = string_member(res, body, "password"))) {
		Usher__V1__ResetPasswordRequest in = USHER__V1__RESET_PASSWORD_REQUEST__INIT;
		in.token = (char *)token;
		in.new_password = (char *)password;
		ProtobufCMessage *out;
		us_status st;
		us_err rc = gateway_backend_call(req, GATEWAY_IDENTITY, "usher.v1.IdentityService/ResetPassword", NULL,
		                    &in.base, &usher__v1__reset_password_reply__descriptor, &out, &st);
		if (rc == US_OK) {
			gateway_http_reply_json(res, 200, json_object());
		} else {
			/* The form's field is "password". */
			for (size_t i = 0; i < st.n_violations; i++) {
				if (strcmp(st.violations[i].field, "new_password") == 0)
					strcpy(st.violations[i].field, "password");
			}
			gateway_http_reply_error(res, rc, st.message, &st);
		}
		us_status_clear(&st);
	}
	json_decref(body);
}

void gateway_people_respond(gateway_request *req, gateway_response *res)
{
	res->no_referrer = true;
	const char *action;
	char *token = token_of(req, &action);
	if (token != NULL && permanent(req) && strcmp(action, "accept") == 0)
		join_link(req, res, token);
	else if (token != NULL && !permanent(req) && strcmp(action, "accept") == 0)
		accept_link(req, res, token);
	else if (token != NULL && !permanent(req) && strcmp(action, "accept-form") == 0)
		gateway_page_accept(req, res, token);
	else if (token != NULL && !permanent(req) && strcmp(action, "decline-form") == 0)
		gateway_page_decline(req, res, token);
	else if (token != NULL && !permanent(req) && strcmp(action, "decline") == 0)
		decline_link(req, res, token);
	else
		gateway_http_reply_error(res, US_ENOTFOUND, "not found", NULL);
}
