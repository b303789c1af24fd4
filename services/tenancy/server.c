/* The dispatch table of usher.v1.TenancyService: one line per method. */
#include "server.h"

#include "usher/v1/tenancy.pb-c.h"

const us_rpc_service tenancy_services[] = {
	{&usher__v1__tenancy_service__descriptor, NULL, 0, NULL},
};
const size_t tenancy_n_services = sizeof(tenancy_services) / sizeof(tenancy_services[0]);
