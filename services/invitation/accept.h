/* The invitee's side: preview a link, accept it (as a new or an existing user), decline
 * it, and list one's own pending invitations. */
#ifndef INVITATION_ACCEPT_H
#define INVITATION_ACCEPT_H

#include "common/rpc_server.h"
#include "usher/v1/invitation.pb-c.h"

us_rpc_handler invitation_preview;
us_rpc_handler invitation_accept;
us_rpc_handler invitation_decline;
us_rpc_handler invitation_list_my_invitations;

#endif
