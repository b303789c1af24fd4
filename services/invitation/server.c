/* The dispatch table of usher.v1.InvitationService: one line per method. */
#include "server.h"

#include "accept.h"
#include "batch.h"
#include "joins.h"
#include "manage.h"
#include "permalink.h"
#include "usher/v1/invitation.pb-c.h"

static const us_rpc_method invitation_methods[] = {
	{"CreateInvitations", inv_create_invitations, US_RPC_IDEMPOTENT},
	{"ListInvitations", inv_list_invitations, 0},
	{"GetInvitation", inv_get_invitation, 0},
	{"Reinvite", inv_reinvite, US_RPC_IDEMPOTENT},
	{"Revoke", inv_revoke, US_RPC_IDEMPOTENT},
	{"Preview", inv_preview, 0},
	/* Accept and Decline run their own steps, each idempotent (see saga.h). */
	{"Accept", inv_accept, 0},
	{"Decline", inv_decline, 0},
	{"ListMyInvitations", inv_list_my_invitations, 0},
	{"EnableLink", inv_enable_link, US_RPC_IDEMPOTENT},
	{"GetLink", inv_get_link, 0},
	{"DeleteLink", inv_delete_link, US_RPC_IDEMPOTENT},
	{"PreviewLink", inv_preview_link, 0},
	/* Joining takes a use, then creates the user and grants or asks for the address to be
	 * confirmed, each step keyed (see joins.c). */
	{"AcceptLink", inv_accept_link, 0},
	{"ListLinkJoins", inv_list_link_joins, 0},
	{"PreviewLinkJoin", inv_preview_link_join, 0},
	/* Its steps run in its own transaction, the external ones keyed (see joins.c). */
	{"ConfirmLinkJoin", inv_confirm_link_join, 0},
};

const us_rpc_service invitation_services[] = {
	{&usher__v1__invitation_service__descriptor, invitation_methods,
	 sizeof(invitation_methods) / sizeof(invitation_methods[0]), NULL},
};
const size_t invitation_n_services = sizeof(invitation_services) / sizeof(invitation_services[0]);
