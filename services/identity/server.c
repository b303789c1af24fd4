/* The dispatch table of usher.v1.IdentityService: one line per method. */
#include "server.h"

#include "usher/v1/identity.pb-c.h"

const us_rpc_service identity_services[] = {
	{&usher__v1__identity_service__descriptor, NULL, 0, NULL},
};
const size_t identity_n_services = sizeof(identity_services) / sizeof(identity_services[0]);
