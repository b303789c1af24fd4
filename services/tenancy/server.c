/* The dispatch table of usher.v1.TenancyService: one line per method. */
#include "server.h"

#include "accounts.h"
#include "audit.h"
#include "checks.h"
#include "context.h"
#include "grants.h"
#include "members.h"
#include "queries.h"
#include "usher/v1/audit.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

static const us_rpc_method tenancy_methods[] = {
	{"CreateAccount", tenancy_create_account, US_RPC_IDEMPOTENT},
	{"GetAccount", tenancy_get_account, US_RPC_READ_ONLY},
	{"UpdateAccountSettings", tenancy_update_account_settings, US_RPC_IDEMPOTENT},
	{"CreateSubaccount", tenancy_create_subaccount, US_RPC_IDEMPOTENT},
	{"ListSubaccounts", tenancy_list_subaccounts, US_RPC_READ_ONLY},
	/* Granting on someone's behalf is for Usher itself (invitationd's accept saga). Its
	 * key's claim goes with its statements: before its stored reply is found, a repeat
	 * only reads (a service principal's scope, from identityd) and logs. */
	{"GrantMembership", tenancy_grant_membership,
	 US_RPC_IDEMPOTENT | US_RPC_INTERNAL | US_RPC_CLAIM_AHEAD},
	{"ChangeRole", tenancy_change_role, US_RPC_IDEMPOTENT},
	{"SetScope", tenancy_set_scope, US_RPC_IDEMPOTENT},
	{"SetFlags", tenancy_set_flags, US_RPC_IDEMPOTENT},
	{"Deactivate", tenancy_deactivate, US_RPC_IDEMPOTENT},
	{"Reactivate", tenancy_reactivate, US_RPC_IDEMPOTENT},
	{"Remove", tenancy_remove, US_RPC_IDEMPOTENT},
	{"ListMembers", tenancy_list_members, US_RPC_READ_ONLY},
	{"ListMyMemberships", tenancy_list_my_memberships, US_RPC_READ_ONLY},
	{"Check", tenancy_check, US_RPC_READ_ONLY},
	{"CheckGrant", tenancy_check_grant, US_RPC_READ_ONLY},
	{"MembersAmong", tenancy_members_among, US_RPC_READ_ONLY},
	/* Who is in the account is answered to Usher itself (invitationd) only. */
	{"CheckInvite", tenancy_check_invite, US_RPC_INTERNAL | US_RPC_READ_ONLY},
	{"ListAccounts", tenancy_list_accounts, US_RPC_INTERNAL | US_RPC_READ_ONLY},
	{"TransferPrimaryOwnership", tenancy_transfer_primary_ownership, US_RPC_IDEMPOTENT},
};

us_rpc_service tenancy_server_service(tenancy_ctx *ctx)
{
	return (us_rpc_service){&usher__v1__tenancy_service__descriptor, tenancy_methods,
	                        sizeof(tenancy_methods) / sizeof(tenancy_methods[0]), ctx};
}

static const us_rpc_method tenancy_audit_methods[] = {
	{"ListAudit", tenancy_list_audit, US_RPC_READ_ONLY},
};

us_rpc_service tenancy_server_audit_service(tenancy_ctx *ctx)
{
	return (us_rpc_service){&usher__v1__audit_service__descriptor, tenancy_audit_methods,
	                        sizeof(tenancy_audit_methods) / sizeof(tenancy_audit_methods[0]), ctx};
}
