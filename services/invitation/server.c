/* The dispatch table of usher.v1.InvitationService: one line per method. */
#include "server.h"

#include "accept.h"
#include "audit.h"
#include "batch.h"
#include "erasure.h"
#include "joins.h"
#include "manage.h"
#include "permalink.h"
#include "settings.h"
#include "usher/v1/invitation.pb-c.h"

const us_rpc_method invitation_methods[] = {
	/* Its calls to identityd and tenancyd only read: a repeat may run them again. */
	{"CreateInvitations", invitation_create_invitations, US_RPC_IDEMPOTENT | US_RPC_CLAIM_AHEAD},
	{"ListInvitations", invitation_list_invitations, US_RPC_READ_ONLY},
	{"GetInvitation", invitation_get_invitation, US_RPC_READ_ONLY},
	{"Reinvite", invitation_reinvite, US_RPC_IDEMPOTENT},
	{"Revoke", invitation_revoke, US_RPC_IDEMPOTENT},
	{"Preview", invitation_preview, US_RPC_READ_ONLY},
	/* Accept and Decline run their own steps, each idempotent (see saga.h). */
	{"Accept", invitation_accept, 0},
	{"Decline", invitation_decline, 0},
	{"ListMyInvitations", invitation_list_my_invitations, US_RPC_READ_ONLY},
	{"EnableLink", invitation_enable_link, US_RPC_IDEMPOTENT},
	{"GetLink", invitation_get_link, US_RPC_READ_ONLY},
	{"DeleteLink", invitation_delete_link, US_RPC_IDEMPOTENT},
	{"PreviewLink", invitation_preview_link, US_RPC_READ_ONLY},
	/* Joining takes a use, then creates the user and grants or asks for the address to be
	 * confirmed, each step keyed (see joins.c). */
	{"AcceptLink", invitation_accept_link, 0},
	{"ListLinkJoins", invitation_list_link_joins, US_RPC_READ_ONLY},
	{"PreviewLinkJoin", invitation_preview_link_join, 0},
	/* Its steps run in its own transaction, the external ones keyed (see joins.c). */
	{"ConfirmLinkJoin", invitation_confirm_link_join, 0},
	{"GetInvitationSettings", invitation_get_settings, US_RPC_READ_ONLY},
	{"SetInvitationSettings", invitation_set_settings, US_RPC_IDEMPOTENT},
};

const size_t invitation_n_methods = sizeof(invitation_methods) / sizeof(invitation_methods[0]);

const us_rpc_method invitation_audit_methods[] = {
	{"ListAudit", invitation_list_audit, US_RPC_READ_ONLY},
};

const size_t invitation_n_audit_methods =
        sizeof(invitation_audit_methods) / sizeof(invitation_audit_methods[0]);

const us_rpc_method invitation_erasure_methods[] = {
	/* The saga runs its own steps, each idempotent (erasure.h). */
	{"DeleteUser", invitation_delete_user, US_RPC_INTERNAL},
	{"EraseUser", invitation_erase_user, US_RPC_INTERNAL},
};

const size_t invitation_n_erasure_methods =
        sizeof(invitation_erasure_methods) / sizeof(invitation_erasure_methods[0]);
