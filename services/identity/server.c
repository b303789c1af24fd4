/* The dispatch table of usher.v1.IdentityService: one line per method. */
#include "server.h"

#include "context.h"
#include "email_change.h"
#include "login.h"
#include "password_reset.h"
#include "profile.h"
#include "sessions.h"
#include "users.h"
#include "usher/v1/identity.pb-c.h"

static const us_rpc_method identity_methods[] = {
	{"CreateUser", identity_create_user, US_RPC_IDEMPOTENT},
	{"GetUser", identity_get_user, 0},
	{"GetUsers", identity_get_users, 0},
	{"LookupEmails", identity_lookup_emails, 0},
	/* Not keyed: a stored reply would hold the session token. */
	{"Login", identity_login, 0},
	{"ResolveSession", identity_resolve_session, 0},
	/* Ending a session twice is harmless, so a resend needs no key. */
	{"Logout", identity_logout, 0},
	{"UpdateProfile", identity_update_profile, US_RPC_IDEMPOTENT},
	{"ChangePassword", identity_change_password, US_RPC_IDEMPOTENT},
	{"RequestEmailChange", identity_request_email_change, US_RPC_IDEMPOTENT},
	{"ConfirmEmailChange", identity_confirm_email_change, US_RPC_IDEMPOTENT},
	{"ConfirmEmailOwnership", identity_confirm_email_ownership, US_RPC_IDEMPOTENT},
	{"RequestPasswordReset", identity_request_password_reset, US_RPC_IDEMPOTENT},
	{"ResetPassword", identity_reset_password, US_RPC_IDEMPOTENT},
};

const us_rpc_service identity_services[] = {
	{&usher__v1__identity_service__descriptor, identity_methods,
	 sizeof(identity_methods) / sizeof(identity_methods[0]), &identity_context},
};
const size_t identity_n_services = sizeof(identity_services) / sizeof(identity_services[0]);
