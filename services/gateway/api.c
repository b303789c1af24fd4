#include "api.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "common/pbjson.h"
#include "session.h"
#include "context.h"
#include "usher/v1/events.pb-c.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

/* Who may call a public method: a signed-in user (the actor), anyone holding the secret
 * the request carries (a link's token), or only a service principal's API key. An API key
 * ("Authorization: Bearer usk_...") may call any of them: the daemons hold it to its
 * scope. */
typedef enum { SIGNED_IN, TOKEN_HOLDER, SERVICE_KEY } caller_kind;

typedef struct public_method {
	const char *name; /* "usher.v1.TenancyService/ListMembers" */
	caller_kind who;
} public_method;

/* The allow-list. Everything else, internal methods included, is 404. */
static const public_method public_methods[] = {
	{"usher.v1.IdentityService/UpdateProfile", SIGNED_IN},
	{"usher.v1.IdentityService/ChangePassword", SIGNED_IN},
	{"usher.v1.IdentityService/RequestEmailChange", SIGNED_IN},
	{"usher.v1.IdentityService/ConfirmEmailChange", TOKEN_HOLDER},
	{"usher.v1.IdentityService/RequestEmailVerification", SIGNED_IN},
	{"usher.v1.IdentityService/VerifyEmail", TOKEN_HOLDER},
	{"usher.v1.TenancyService/CreateAccount", SIGNED_IN},
	{"usher.v1.TenancyService/GetAccount", SIGNED_IN},
	{"usher.v1.TenancyService/UpdateAccountSettings", SIGNED_IN},
	{"usher.v1.TenancyService/CreateSubaccount", SIGNED_IN},
	{"usher.v1.TenancyService/ListSubaccounts", SIGNED_IN},
	{"usher.v1.TenancyService/ChangeRole", SIGNED_IN},
	{"usher.v1.TenancyService/SetScope", SIGNED_IN},
	{"usher.v1.TenancyService/SetFlags", SIGNED_IN},
	{"usher.v1.TenancyService/Deactivate", SIGNED_IN},
	{"usher.v1.TenancyService/Reactivate", SIGNED_IN},
	{"usher.v1.TenancyService/Remove", SIGNED_IN},
	{"usher.v1.TenancyService/ListMembers", SIGNED_IN},
	{"usher.v1.TenancyService/ListMyMemberships", SIGNED_IN},
	{"usher.v1.TenancyService/TransferPrimaryOwnership", SIGNED_IN},
	{"usher.v1.InvitationService/CreateInvitations", SIGNED_IN},
	{"usher.v1.InvitationService/ListInvitations", SIGNED_IN},
	{"usher.v1.InvitationService/GetInvitation", SIGNED_IN},
	{"usher.v1.InvitationService/Reinvite", SIGNED_IN},
	{"usher.v1.InvitationService/Revoke", SIGNED_IN},
	{"usher.v1.InvitationService/ListMyInvitations", SIGNED_IN},
	{"usher.v1.InvitationService/Preview", TOKEN_HOLDER},
	{"usher.v1.InvitationService/Accept", TOKEN_HOLDER},
	{"usher.v1.InvitationService/Decline", TOKEN_HOLDER},
	{"usher.v1.InvitationService/EnableLink", SIGNED_IN},
	{"usher.v1.InvitationService/GetLink", SIGNED_IN},
	{"usher.v1.InvitationService/DeleteLink", SIGNED_IN},
	{"usher.v1.InvitationService/ListLinkJoins", SIGNED_IN},
	{"usher.v1.InvitationService/PreviewLink", TOKEN_HOLDER},
	{"usher.v1.InvitationService/AcceptLink", TOKEN_HOLDER},
	{"usher.v1.InvitationService/PreviewLinkJoin", TOKEN_HOLDER},
	{"usher.v1.InvitationService/ConfirmLinkJoin", TOKEN_HOLDER},
	{"usher.v1.InvitationService/GetInvitationSettings", SIGNED_IN},
	{"usher.v1.InvitationService/SetInvitationSettings", SIGNED_IN},
	{"usher.v1.TenancyService/Check", SERVICE_KEY},
	{"usher.v1.TenancyService/CheckGrant", SERVICE_KEY},
	/* Events and webhooks: for services that own endpoints and for people holding
	 * webhooks.manage on the account (notificationd asks tenancyd; docs/events.md). */
	{"usher.v1.EventService/ListEvents", SIGNED_IN},
	{"usher.v1.EventService/CreateWebhookEndpoint", SIGNED_IN},
	{"usher.v1.EventService/ListWebhookEndpoints", SIGNED_IN},
	{"usher.v1.EventService/DeleteWebhookEndpoint", SIGNED_IN},
	{"usher.v1.EventService/SetWebhookEndpointEnabled", SIGNED_IN},
	{"usher.v1.EventService/RotateWebhookSecret", SIGNED_IN},
	{"usher.v1.EventService/ListWebhookDeliveries", SIGNED_IN},
	{"usher.v1.EventService/RedeliverWebhook", SIGNED_IN},
};

static const ProtobufCServiceDescriptor *const services[GATEWAY_N_BACKENDS] = {
	[GATEWAY_IDENTITY] = &usher__v1__identity_service__descriptor,
	[GATEWAY_TENANCY] = &usher__v1__tenancy_service__descriptor,
	[GATEWAY_INVITATION] = &usher__v1__invitation_service__descriptor,
	[GATEWAY_NOTIFICATION] = &usher__v1__event_service__descriptor,
};

/* The allow-listed method named by the path, with its backend and descriptor. */
static const public_method *find(const char *name, int *backend,
                                 const ProtobufCMethodDescriptor **md)
{
	const public_method *m = NULL;
	for (size_t i = 0; i < sizeof(public_methods) / sizeof(public_methods[0]) && !m; i++) {
		if (strcmp(public_methods[i].name, name) == 0)
			m = &public_methods[i];
	}
	const char *slash = m ? strchr(name, '/') : NULL;
	for (int b = 0; slash != NULL && b < GATEWAY_N_BACKENDS; b++) {
		if (strlen(services[b]->name) == (size_t)(slash - name) &&
		    strncmp(services[b]->name, name, (size_t)(slash - name)) == 0) {
			*backend = b;
			*md = protobuf_c_service_descriptor_get_method_by_name(services[b], slash + 1);
			return *md != NULL ? m : NULL;
		}
	}
	return NULL;
}

bool gateway_api_method(size_t i, const char **name, gateway_api_caller *who,
                        const ProtobufCMethodDescriptor **md)
{
	if (i >= sizeof(public_methods) / sizeof(public_methods[0]))
		return false;
	int backend;
	if (find(public_methods[i].name, &backend, md) == NULL)
		*md = NULL;
	*name = public_methods[i].name;
	*who = public_methods[i].who == SIGNED_IN      ? GATEWAY_API_SIGNED_IN
	       : public_methods[i].who == TOKEN_HOLDER ? GATEWAY_API_TOKEN_HOLDER
	                                               : GATEWAY_API_SERVICE_KEY;
	return true;
}

/* Does the request carry a service principal's API key rather than a session? */
static bool is_api_key(const gateway_auth *auth)
{
	return auth->token != NULL && !auth->via_cookie &&
	       strncmp(auth->token, US_CALLER_SECRET_PREFIX, strlen(US_CALLER_SECRET_PREFIX)) == 0;
}

static void call_method(gateway_request *req, gateway_response *res, const char *name, int backend,
                        const ProtobufCMethodDescriptor *md, const char *actor);

void gateway_api_call(gateway_request *req, gateway_response *res)
{
	const char *name = req->path + strlen("/rpc/");
	int backend;
	const ProtobufCMethodDescriptor *md;
	const public_method *m = find(name, &backend, &md);
	gateway_auth auth;
	gateway_session_auth_read(req, &auth);
	bool api_key = is_api_key(&auth);
	if (m == NULL || (m->who == SERVICE_KEY && !api_key)) {
		gateway_http_reply_error(res, US_ENOTFOUND, "no such method", NULL);
		return;
	}
	if (api_key) {
		/* The secret lives only for this request; the daemons check the key itself. */
		us_caller_key key;
		if (us_caller_key_parse(auth.token, &key) != 0) {
			gateway_http_reply_error(res, US_EUNAUTHENTICATED, "malformed API key", NULL);
			return;
		}
		req->api_key = &key;
		call_method(req, res, name, backend, md, NULL);
		req->api_key = NULL;
		us_caller_key_wipe(&key);
		return;
	}
	const char *actor = NULL;
	if (m->who == SIGNED_IN || auth.token != NULL) {
		Usher__V1__User *user = gateway_session_signed_in(req, res, &auth);
		if (user == NULL)
			return;
		actor = user->id;
	}
	if (!gateway_session_csrf_ok(req, &auth)) {
		gateway_http_reply_error(res, US_EDENIED, "missing or wrong CSRF token (X-CSRF-Token)", NULL);
		return;
	}
	call_method(req, res, name, backend, md, actor);
}

/* Decodes the body, calls the method and replies. */
static void call_method(gateway_request *req, gateway_response *res, const char *name, int backend,
                        const ProtobufCMethodDescriptor *md, const char *actor)
{
	json_t *body = gateway_http_body_json(req, res);
	if (body == NULL)
		return;
	ProtobufCMessage *in;
	char path[256], reason[256];
	us_err rc = us_pbjson_decode(md->input, body, req->arena, &in, path, sizeof(path), reason,
	                             sizeof(reason));
	json_decref(body);
	if (rc != US_OK) {
		us_status st;
		us_status_init(&st);
		us_status_add_violation(&st, path[0] ? path : "(body)", "%s", reason);
		char message[600];
		snprintf(message, sizeof(message), "invalid %s: %s", path[0] ? path : "body", reason);
		gateway_http_reply_error(res, rc, message, &st);
		us_status_clear(&st);
		return;
	}
	ProtobufCMessage *out;
	us_status st;
	rc = gateway_backend_call(req, backend, name, actor, in, md->output, &out, &st);
	if (rc == US_OK)
		gateway_http_reply_json(res, 200, us_pbjson_encode(out));
	else
		gateway_http_reply_error(res, rc, st.message, &st);
	us_status_clear(&st);
}
