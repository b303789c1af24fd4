/* The dispatch table of usher.v1.InvitationService: one line per method. */
#include "server.h"

#include "usher/v1/invitation.pb-c.h"

const us_rpc_service invitation_services[] = {
	{&usher__v1__invitation_service__descriptor, NULL, 0, NULL},
};
const size_t invitation_n_services = sizeof(invitation_services) / sizeof(invitation_services[0]);
