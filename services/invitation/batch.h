/* CreateInvitations: a batch of up to 50,000 addresses, each given an outcome. */
#ifndef INVITATION_BATCH_H
#define INVITATION_BATCH_H

#include "common/rpc_server.h"
#include "usher/v1/invitation.pb-c.h"

us_rpc_handler inv_create_invitations;

#endif
