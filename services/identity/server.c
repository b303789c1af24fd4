/* The dispatch table of usher.v1.IdentityService: one line per method. */
#include "server.h"

#include "context.h"
#include "email_change.h"
#include "email_verification.h"
#include "erase.h"
#include "login.h"
#include "password_reset.h"
#include "principals.h"
#include "profile.h"
#include "sessions.h"
#include "users.h"
#include "common/audit.h"
#include "usher/v1/audit.pb-c.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/principal.pb-c.h"

static const us_rpc_method identity_methods[] = {
	/* Only the system may create a verified user (see users.c). */
	{"CreateUser", identity_create_user, US_RPC_IDEMPOTENT},
	/* Who has which address is for Usher's own daemons and operators. */
	{"GetUser", identity_get_user, US_RPC_INTERNAL},
	{"GetUsers", identity_get_users, US_RPC_INTERNAL},
	{"LookupEmails", identity_lookup_emails, US_RPC_INTERNAL},
	/* Not keyed: a stored reply would hold the session token. */
	{"Login", identity_login, 0},
	{"ResolveSession", identity_resolve_session, 0},
	/* Ending a session twice is harmless, so a resend needs no key. */
	{"Logout", identity_logout, 0},
	{"UpdateProfile", identity_update_profile, US_RPC_IDEMPOTENT},
	{"ChangePassword", identity_change_password, US_RPC_IDEMPOTENT},
	{"RequestEmailChange", identity_request_email_change, US_RPC_IDEMPOTENT},
	{"ConfirmEmailChange", identity_confirm_email_change, US_RPC_IDEMPOTENT},
	/* Marking an address proven is for the daemon that checked the proof (invitationd). */
	{"ConfirmEmailOwnership", identity_confirm_email_ownership,
	 US_RPC_IDEMPOTENT | US_RPC_INTERNAL},
	/* Anyone may ask (the same answer for every address); the reset link's token is the
	 * credential that sets a password. */
	{"RequestPasswordReset", identity_request_password_reset, US_RPC_IDEMPOTENT},
	{"ResetPassword", identity_reset_password, US_RPC_IDEMPOTENT},
	{"RequestEmailVerification", identity_request_email_verification, US_RPC_IDEMPOTENT},
	{"VerifyEmail", identity_verify_email, US_RPC_IDEMPOTENT},
};

static const us_rpc_method principal_methods[] = {
	{"CreatePrincipal", identity_create_principal, US_RPC_IDEMPOTENT | US_RPC_PRINCIPAL_ADMIN},
	{"ListPrincipals", identity_list_principals, US_RPC_PRINCIPAL_ADMIN},
	{"RotatePrincipalKey", identity_rotate_principal_key,
	 US_RPC_IDEMPOTENT | US_RPC_PRINCIPAL_ADMIN},
	{"FinishKeyRotation", identity_finish_key_rotation, US_RPC_IDEMPOTENT | US_RPC_PRINCIPAL_ADMIN},
	{"RevokePrincipal", identity_revoke_principal, US_RPC_IDEMPOTENT | US_RPC_PRINCIPAL_ADMIN},
	{"ResolvePrincipal", identity_resolve_principal, US_RPC_INTERNAL},
};

/* Service principal changes are operators' business: only they read this log. */
static us_err list_audit(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	return us_audit_list(call, request, "identity", NULL, reply);
}

static const us_rpc_method audit_methods[] = {
	{"ListAudit", list_audit, 0},
};

void identity_server_services(identity_ctx *ctx, us_rpc_service out[IDENTITY_N_SERVICES])
{
	out[0] = (us_rpc_service){&usher__v1__identity_service__descriptor, identity_methods,
	                          sizeof(identity_methods) / sizeof(identity_methods[0]), ctx};
	out[1] = (us_rpc_service){&usher__v1__principal_service__descriptor, principal_methods,
	                          sizeof(principal_methods) / sizeof(principal_methods[0]), ctx};
	out[2] = (us_rpc_service){&usher__v1__audit_service__descriptor, audit_methods,
	                          sizeof(audit_methods) / sizeof(audit_methods[0]), ctx};
	out[3] = identity_erase_service(ctx);
}
