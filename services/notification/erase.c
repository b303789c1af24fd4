#include "erase.h"

#include "common/db.h"
#include "common/erasure.h"
#include "store.h"

us_err notification_erase_user(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__EraseUserRequest *req = (const Usher__V1__EraseUserRequest *)request;
	us_err rc = us_erasure_check(call, req);
	if (rc != US_OK)
		return rc;
	PGconn *db = us_call_db(call);
	long rows = 0;
	rc = us_db_begin(db);
	if (rc == US_OK)
		rc = notification_store_erase_user(db, req, &rows);
	if (rc == US_OK)
		rc = us_erasure_common(db, req, &rows);
	if (rc == US_OK)
		rc = us_db_commit(db);
	if (rc != US_OK) {
		us_db_rollback(db);
		return rc;
	}
	return us_erasure_reply(call, rows, reply);
}

static const us_rpc_method erase_methods[] = {
	{"EraseUser", notification_erase_user, US_RPC_INTERNAL},
};

us_rpc_service notification_erase_service(void *ctx)
{
	return (us_rpc_service){&usher__v1__erasure_service__descriptor, erase_methods,
	                        sizeof(erase_methods) / sizeof(erase_methods[0]), ctx};
}
