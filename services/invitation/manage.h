/* Admins' side of invitations: list, look at, resend and revoke. */
#ifndef INVITATION_MANAGE_H
#define INVITATION_MANAGE_H

#include "common/rpc_server.h"
#include "usher/v1/invitation.pb-c.h"

/* ListInvitations' largest page: the gateway's CSV export reads an account's pending
 * invitations in pages this size. */
#define INVITATION_PAGE_SIZE_MAX 5000

us_rpc_handler invitation_list_invitations;
us_rpc_handler invitation_get_invitation;
us_rpc_handler invitation_reinvite;
us_rpc_handler invitation_revoke;

/* The reply secret of Reinvite (a link returned to the caller that delivers it). */
void invitation_reinvite_strip_link(ProtobufCMessage *reply);
US_MUST_USE us_err invitation_reinvite_replay(us_call *call, const ProtobufCMessage *request,
                                              ProtobufCMessage *stored, ProtobufCMessage **reply);

#endif
