#include "peers.h"

#include <string.h>


#define IDENTITY "usher.v1.IdentityService/"
#define TENANCY "usher.v1.TenancyService/"

void invitation_peer_from_call(invitation_peer *p, us_call *call)
{
	p->ctx = us_call_service_ctx(call);
	p->arena = us_call_arena(call);
	us_call_downstream(call, &p->opts);
	us_status_init(&p->status);
}

void invitation_peer_clear(invitation_peer *p)
{
	us_status_clear(&p->status);
}

static us_err call(invitation_peer *p, us_rpc_client *c, const char *method, const char *key,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_type,
                   ProtobufCMessage **out)
{
	us_rpc_call_opts opts = p->opts;
	opts.idempotency_key = key;
	us_status_clear(&p->status);
	return us_rpc_call(c, method, &opts, req, reply_type, p->arena, out, &p->status);
}

/* A question about someone asked by this service itself (may user U do X?), not on the
 * actor's behalf: tenancyd answers it without checking the actor's own access. */
static us_err ask(invitation_peer *p, us_rpc_client *c, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_type, ProtobufCMessage **out)
{
	us_rpc_call_opts opts = p->opts;
	opts.actor_user_id = NULL;
	opts.actor_account_id = NULL;
	us_status_clear(&p->status);
	return us_rpc_call(c, method, &opts, req, reply_type, p->arena, out, &p->status);
}

/* A step of an accept or a join, made by this service itself whoever asked: an
 * interrupted one is resumed by the recovery loop, which acts for nobody, and its
 * idempotency key must name the same request (keys are scoped by actor). */
static us_err step(invitation_peer *p, us_rpc_client *c, const char *method, const char *key,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_type,
                   ProtobufCMessage **out)
{
	us_rpc_call_opts opts = p->opts;
	opts.idempotency_key = key;
	opts.actor_user_id = NULL;
	opts.actor_account_id = NULL;
	us_status_clear(&p->status);
	return us_rpc_call(c, method, &opts, req, reply_type, p->arena, out, &p->status);
}

/* As call() and ask(), without waiting for the reply: the request stays in p's arena
 * until finish() ends the call. */
static us_rpc_pending *call_start(invitation_peer *p, us_rpc_client *c, const char *method,
                                  const ProtobufCMessage *req)
{
	us_rpc_call_opts opts = p->opts;
	opts.idempotency_key = NULL;
	return us_rpc_call_start(c, method, &opts, req, p->arena);
}

static us_rpc_pending *ask_start(invitation_peer *p, us_rpc_client *c, const char *method,
                                 const ProtobufCMessage *req)
{
	us_rpc_call_opts opts = p->opts;
	opts.actor_user_id = NULL;
	opts.actor_account_id = NULL;
	return us_rpc_call_start(c, method, &opts, req, p->arena);
}

static us_err finish(invitation_peer *p, us_rpc_pending *pending,
                     const ProtobufCMessageDescriptor *reply_type, ProtobufCMessage **out)
{
	us_status_clear(&p->status);
	return us_rpc_call_finish(pending, reply_type, out, &p->status);
}

us_err invitation_peer_get_account(invitation_peer *p, const char *account_id, Usher__V1__Account **out)
{
	Usher__V1__GetAccountRequest req = USHER__V1__GET_ACCOUNT_REQUEST__INIT;
	req.account_id = (char *)account_id;
	ProtobufCMessage *reply;
	us_err rc = call(p, p->ctx->tenancy, TENANCY "GetAccount", NULL, &req.base,
	                 &usher__v1__get_account_reply__descriptor, &reply);
	if (rc == US_OK)
		*out = ((Usher__V1__GetAccountReply *)reply)->account;
	return rc == US_OK && *out == NULL ? US_EINTERNAL : rc;
}

static Usher__V1__CheckGrantReply not_a_member = {
	PROTOBUF_C_MESSAGE_INIT(&usher__v1__check_grant_reply__descriptor), false, "not a member",
	0, NULL};

us_err invitation_peer_check_grant(invitation_peer *p, const char *actor, const char *principal_id,
                        const char *account_id, Usher__V1__Role role,
                        const Usher__V1__Scope *scope, char **products, size_t n_products,
                        char **flags, size_t n_flags, Usher__V1__CheckGrantReply **out)
{
	Usher__V1__CheckGrantRequest req = USHER__V1__CHECK_GRANT_REQUEST__INIT;
	req.actor_user_id = (char *)actor;
	req.principal_id = (char *)principal_id;
	req.account_id = (char *)account_id;
	req.role = role;
	req.scope = (Usher__V1__Scope *)scope;
	req.products = products;
	req.n_products = n_products;
	req.flags = flags;
	req.n_flags = n_flags;
	ProtobufCMessage *reply;
	us_err rc = ask(p, p->ctx->tenancy, TENANCY "CheckGrant", &req.base,
	                &usher__v1__check_grant_reply__descriptor, &reply);
	if (rc == US_ENOTFOUND) {
		*out = &not_a_member;
		return US_OK;
	}
	if (rc == US_OK)
		*out = (Usher__V1__CheckGrantReply *)reply;
	return rc;
}

static Usher__V1__CheckInviteReply invite_denied = {
	.base = PROTOBUF_C_MESSAGE_INIT(&usher__v1__check_invite_reply__descriptor),
	.grant = &not_a_member};

us_rpc_pending *invitation_peer_check_invite_start(invitation_peer *p,
                                                  const Usher__V1__CheckGrantRequest *grant)
{
	Usher__V1__CheckInviteRequest *req = US_ARENA_NEW(p->arena, Usher__V1__CheckInviteRequest);
	if (req == NULL)
		return NULL;
	usher__v1__check_invite_request__init(req);
	req->grant = (Usher__V1__CheckGrantRequest *)grant;
	return ask_start(p, p->ctx->tenancy, TENANCY "CheckInvite", &req->base);
}

us_err invitation_peer_check_invite_finish(invitation_peer *p, us_rpc_pending *pending,
                                           Usher__V1__CheckInviteReply **out)
{
	ProtobufCMessage *reply;
	us_err rc = finish(p, pending, &usher__v1__check_invite_reply__descriptor, &reply);
	if (rc == US_ENOTFOUND) {
		*out = &invite_denied;
		return US_OK;
	}
	if (rc == US_OK) {
		*out = (Usher__V1__CheckInviteReply *)reply;
		if ((*out)->grant == NULL || ((*out)->grant->allowed && (*out)->account == NULL))
			return US_EINTERNAL;
	}
	return rc;
}

us_err invitation_peer_check(invitation_peer *p, const char *user_id, const char *account_id,
                  const char *subaccount_id, const char *action, bool *allowed)
{
	Usher__V1__CheckRequest req = USHER__V1__CHECK_REQUEST__INIT;
	req.user_id = (char *)user_id;
	req.account_id = (char *)account_id;
	req.subaccount_id = (char *)(subaccount_id ? subaccount_id : "");
	req.action = (char *)action;
	ProtobufCMessage *reply;
	us_err rc = ask(p, p->ctx->tenancy, TENANCY "Check", &req.base,
	                &usher__v1__check_reply__descriptor, &reply);
	if (rc == US_ENOTFOUND) {
		*allowed = false;
		return US_OK;
	}
	if (rc == US_OK)
		*allowed = ((Usher__V1__CheckReply *)reply)->allowed;
	return rc;
}

us_err invitation_peer_members_among(invitation_peer *p, const char *account_id, char **user_ids, size_t n,
                          Usher__V1__MembersAmongReply **out)
{
	Usher__V1__MembersAmongRequest req = USHER__V1__MEMBERS_AMONG_REQUEST__INIT;
	req.account_id = (char *)account_id;
	req.user_ids = user_ids;
	req.n_user_ids = n;
	return ask(p, p->ctx->tenancy, TENANCY "MembersAmong", &req.base,
	           &usher__v1__members_among_reply__descriptor, (ProtobufCMessage **)out);
}

us_err invitation_peer_grant_membership(invitation_peer *p, const char *key,
                             const Usher__V1__GrantMembershipRequest *req,
                             Usher__V1__Membership **out)
{
	ProtobufCMessage *reply;
	us_err rc = step(p, p->ctx->tenancy, TENANCY "GrantMembership", key, &req->base,
	                 &usher__v1__grant_membership_reply__descriptor, &reply);
	if (rc == US_OK)
		*out = ((Usher__V1__GrantMembershipReply *)reply)->membership;
	return rc == US_OK && *out == NULL ? US_EINTERNAL : rc;
}

us_err invitation_peer_get_user(invitation_peer *p, const char *user_id, Usher__V1__User **out)
{
	Usher__V1__GetUserRequest req = USHER__V1__GET_USER_REQUEST__INIT;
	req.user_id = (char *)user_id;
	ProtobufCMessage *reply;
	us_err rc = call(p, p->ctx->identity, IDENTITY "GetUser", NULL, &req.base,
	                 &usher__v1__get_user_reply__descriptor, &reply);
	if (rc == US_OK)
		*out = ((Usher__V1__GetUserReply *)reply)->user;
	return rc == US_OK && *out == NULL ? US_EINTERNAL : rc;
}

us_err invitation_peer_lookup_emails(invitation_peer *p, char **emails, size_t n, Usher__V1__LookupEmailsReply **out)
{
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = emails;
	req.n_emails = n;
	return call(p, p->ctx->identity, IDENTITY "LookupEmails", NULL, &req.base,
	            &usher__v1__lookup_emails_reply__descriptor, (ProtobufCMessage **)out);
}

us_rpc_pending *invitation_peer_lookup_invitees_start(invitation_peer *p, const char *inviter,
                                                     char **emails, size_t n)
{
	Usher__V1__LookupEmailsRequest *req = US_ARENA_NEW(p->arena, Usher__V1__LookupEmailsRequest);
	if (req == NULL)
		return NULL;
	usher__v1__lookup_emails_request__init(req);
	req->emails = emails;
	req->n_emails = n;
	req->user_id = (char *)(inviter != NULL ? inviter : "");
	return call_start(p, p->ctx->identity, IDENTITY "LookupEmails", &req->base);
}

us_err invitation_peer_lookup_invitees_finish(invitation_peer *p, us_rpc_pending *pending,
                                              const char *inviter,
                                              Usher__V1__LookupEmailsReply **out)
{
	us_err rc = finish(p, pending, &usher__v1__lookup_emails_reply__descriptor,
	                   (ProtobufCMessage **)out);
	return rc == US_OK && inviter != NULL && (*out)->user == NULL ? US_EINTERNAL : rc;
}

us_err invitation_peer_resolve_session(invitation_peer *p, const char *token, Usher__V1__User **out)
{
	Usher__V1__ResolveSessionRequest req = USHER__V1__RESOLVE_SESSION_REQUEST__INIT;
	req.session_token = (char *)token;
	ProtobufCMessage *reply;
	us_err rc = call(p, p->ctx->identity, IDENTITY "ResolveSession", NULL, &req.base,
	                 &usher__v1__resolve_session_reply__descriptor, &reply);
	if (rc == US_OK)
		*out = ((Usher__V1__ResolveSessionReply *)reply)->user;
	return rc == US_OK && *out == NULL ? US_EINTERNAL : rc;
}

us_err invitation_peer_create_user(invitation_peer *p, const char *key, const Usher__V1__CreateUserRequest *req,
                        Usher__V1__User **out)
{
	ProtobufCMessage *reply;
	us_err rc = step(p, p->ctx->identity, IDENTITY "CreateUser", key, &req->base,
	                 &usher__v1__create_user_reply__descriptor, &reply);
	if (rc == US_OK)
		*out = ((Usher__V1__CreateUserReply *)reply)->user;
	return rc == US_OK && *out == NULL ? US_EINTERNAL : rc;
}

us_err invitation_peer_confirm_email_ownership(invitation_peer *p, const char *key, const char *user_id,
                                    const char *email, Usher__V1__User **out)
{
	Usher__V1__ConfirmEmailOwnershipRequest req = USHER__V1__CONFIRM_EMAIL_OWNERSHIP_REQUEST__INIT;
	req.user_id = (char *)user_id;
	req.email = (char *)email;
	ProtobufCMessage *reply;
	us_err rc = step(p, p->ctx->identity, IDENTITY "ConfirmEmailOwnership", key, &req.base,
	                 &usher__v1__confirm_email_ownership_reply__descriptor, &reply);
	if (rc == US_OK)
		*out = ((Usher__V1__ConfirmEmailOwnershipReply *)reply)->user;
	return rc == US_OK && *out == NULL ? US_EINTERNAL : rc;
}

us_err invitation_peer_send_email(invitation_peer *p, const Usher__V1__Email *email)
{
	Usher__V1__SendEmailRequest req = USHER__V1__SEND_EMAIL_REQUEST__INIT;
	req.email = (Usher__V1__Email *)email;
	ProtobufCMessage *reply;
	return call(p, p->ctx->notification, "usher.v1.NotificationService/SendEmail", NULL, &req.base,
	            &usher__v1__send_email_reply__descriptor, &reply);
}

us_err invitation_peer_send_emails(invitation_peer *p, const Usher__V1__SendEmailsRequest *req)
{
	ProtobufCMessage *reply;
	return call(p, p->ctx->notification, "usher.v1.NotificationService/SendEmails", NULL, &req->base,
	            &usher__v1__send_emails_reply__descriptor, &reply);
}

us_err invitation_peer_erase_user(invitation_peer *p, us_rpc_client *c,
                                  const Usher__V1__EraseUserRequest *req)
{
	ProtobufCMessage *reply;
	return ask(p, c, "usher.v1.ErasureService/EraseUser", &req->base,
	           &usher__v1__erase_user_reply__descriptor, &reply);
}
