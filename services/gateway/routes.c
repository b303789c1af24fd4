#include "routes.h"

#include <stdbool.h>
#include <string.h>

#include "api.h"
#include "openapi.h"
#include "console_admin.h"
#include "console_people.h"
#include "export.h"
#include "audit.h"
#include "common/admin_http.h"
#include "people.h"
#include "upload.h"

static void alive(gateway_request *req, gateway_response *res)
{
	(void)req;
	gateway_http_reply_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

/* What the admin /readyz says (admin_http.h): the backends answer, not draining. */
static void ready(gateway_request *req, gateway_response *res)
{
	(void)req;
	if (us_admin_ready())
		gateway_http_reply_json(res, 200, json_pack("{s:s}", "status", "ok"));
	else
		gateway_http_reply_json(res, 503, json_pack("{s:s}", "status", "not ready"));
}

/* The first route that matches serves; the forms come before the JSON routes they share
 * a prefix with. Every state-changing route either takes only JSON (a cross-site form
 * cannot send it) or, for the invitee's forms, checks a form token (page.c). */
static const gateway_route routes[] = {
	{"GET", "/livez", "/livez", alive, NULL, false},
	/* The console (console_*.c): pages and form posts, each form carrying a token. */
	{"GET", "/", "/", gateway_console_home, NULL, false},
	{"GET", "/signin", "/signin", gateway_console_signin, NULL, false},
	{"POST", "/signin", "/signin", gateway_console_signin, NULL, false},
	{"POST", "/signout", "/signout", gateway_console_signout, NULL, false},
	{"GET", "/accounts", "/accounts", gateway_console_accounts, NULL, false},
	{"POST", "/accounts/invitations/{}/accept", "/accounts/invitations/{id}/accept",
	 gateway_console_accounts_answer, NULL, false},
	{"POST", "/accounts/invitations/{}/decline", "/accounts/invitations/{id}/decline",
	 gateway_console_accounts_answer, NULL, false},
	{"GET", "/profile", "/profile", gateway_console_profile, NULL, false},
	{"POST", "/profile/", "/profile/{what}", gateway_console_profile, NULL, false},
	{"GET", "/forgot", "/forgot", gateway_console_forgot, NULL, false},
	{"POST", "/forgot", "/forgot", gateway_console_forgot, NULL, false},
	{"GET", "/password-reset/", "/password-reset/{token}", gateway_console_reset, NULL, false},
	{"POST", "/password-reset/{}/set", "/password-reset/{token}/set", gateway_console_reset, NULL,
	 false},
	{"GET", "/email-change/", "/email-change/{token}", gateway_console_email_change, NULL, false},
	{"POST", "/email-change/{}/confirm", "/email-change/{token}/confirm",
	 gateway_console_email_change, NULL, false},
	{"GET", "/verify-email/", "/verify-email/{token}", gateway_console_verify_email, NULL, false},
	{"POST", "/verify-email/{}/confirm", "/verify-email/{token}/confirm",
	 gateway_console_verify_email, NULL, false},
	{"POST", "/l/{}/join-form", "/l/{token}/join-form", gateway_console_link_join, NULL, false},
	{"POST", "/j/{}/confirm-form", "/j/{token}/confirm-form", gateway_console_join_confirm, NULL,
	 false},
	{"GET", "/a/", "/a/{account}/{page}", gateway_console_admin, NULL, false},
	{"POST", "/a/", "/a/{account}/{page}", gateway_console_admin, NULL, false},
	{"GET", "/readyz", "/readyz", ready, NULL, false},
	{"GET", "/openapi.json", "/openapi.json", gateway_openapi_serve, NULL, false},
	{"POST", "/login", "/login", gateway_people_login, NULL, true},
	{"POST", "/logout", "/logout", gateway_people_logout, NULL, true},
	{"GET", "/me", "/me", gateway_people_me, NULL, false},
	{"GET", "/i/", "/i/{token}", gateway_people_preview, NULL, false},
	{"POST", "/i/{}/accept-form", "/i/{token}/accept-form", gateway_people_respond, NULL, false},
	{"POST", "/i/{}/decline-form", "/i/{token}/decline-form", gateway_people_respond, NULL, false},
	{"POST", "/i/", "/i/{token}/{action}", gateway_people_respond, NULL, true},
	{"GET", "/l/", "/l/{token}", gateway_people_preview, NULL, false},
	{"POST", "/l/", "/l/{token}/{action}", gateway_people_respond, NULL, true},
	{"GET", "/j/", "/j/{token}", gateway_people_join, NULL, false},
	{"POST", "/j/", "/j/{token}/confirm", gateway_people_join, NULL, true},
	{"POST", "/password-reset", "/password-reset", gateway_people_password_reset, NULL, true},
	{"POST", "/password-reset/", "/password-reset/{token}", gateway_people_password_reset_confirm,
	 NULL, true},
	{"POST", "/rpc/", "/rpc/{method}", gateway_api_call, NULL, true},
	{"GET", "/accounts/{}/audit", "/accounts/{account}/audit", gateway_audit_list, NULL, false},
	{"POST", "/accounts/{}/invitations/import", "/accounts/{account}/invitations/import",
	 gateway_upload_finish, gateway_upload_chunk, false},
	{"GET", "/v1/accounts/{}/invitations/pending.csv",
	 "/v1/accounts/{account_id}/invitations/pending.csv", gateway_export_pending, NULL, false},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* "{}" in a pattern matches one non-empty path segment. */
static bool matches(const gateway_route *r, const char *path)
{
	if (strcmp(r->path, "/") == 0)
		return strcmp(path, "/") == 0; /* the home page only, not a prefix of everything */
	const char *p = r->path;
	while (*p && *path) {
		if (p[0] == '{' && p[1] == '}') {
			size_t seg = strcspn(path, "/");
			if (seg == 0)
				return false;
			path += seg;
			p += 2;
		} else if (*p++ != *path++) {
			return false;
		}
	}
	if (*p != '\0')
		return false;
	/* A prefix pattern needs something after it. */
	return *path == '\0' ? r->path[strlen(r->path) - 1] != '/' : r->path[strlen(r->path) - 1] == '/';
}

const gateway_route *gateway_routes_find(const gateway_request *req, unsigned *status)
{
	*status = 404;
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (!matches(&routes[i], req->path))
			continue;
		if (strcmp(routes[i].method, req->method) == 0)
			return &routes[i];
		*status = 405;
	}
	return NULL;
}
