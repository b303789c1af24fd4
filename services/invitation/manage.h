/* Admins' side of invitations: list, look at, resend and revoke. */
#ifndef INVITATION_MANAGE_H
#define INVITATION_MANAGE_H

#include "common/rpc_server.h"
#include "usher/v1/invitation.pb-c.h"

us_rpc_handler invitation_list_invitations;
us_rpc_handler invitation_get_invitation;
us_rpc_handler invitation_reinvite;
us_rpc_handler invitation_revoke;

#endif
