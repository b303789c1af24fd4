#include "erase.h"

#include "common/erasure.h"
#include "store.h"

us_err notification_erase_user(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	return us_erasure_step(call, request, notification_store_erase_user, reply);
}

static const us_rpc_method erase_methods[] = {
	{"EraseUser", notification_erase_user, US_RPC_INTERNAL},
};

us_rpc_service notification_erase_service(void *ctx)
{
	return (us_rpc_service){&usher__v1__erasure_service__descriptor, erase_methods,
	                        sizeof(erase_methods) / sizeof(erase_methods[0]), ctx};
}
