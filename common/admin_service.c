#include "common/admin_service.h"

#include "usher/v1/admin.pb-c.h"

static us_err migration_status(us_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **reply)
{
	(void)request;
	const us_admin_ctx *ctx = us_call_service_ctx(call);
	us_arena *arena = us_call_arena(call);
	us_migration_state *states;
	size_t n;
	us_err rc = us_migrate_status(us_call_db(call), ctx->migrations, arena, &states, &n);
	if (rc != US_OK)
		return rc;
	Usher__V1__MigrationStatusReply *out = US_ARENA_NEW(arena, Usher__V1__MigrationStatusReply);
	Usher__V1__MigrationState *items = US_ARENA_ARRAY(arena, Usher__V1__MigrationState, n ? n : 1);
	Usher__V1__MigrationState **ptrs = US_ARENA_ARRAY(arena, Usher__V1__MigrationState *, n ? n : 1);
	if (out == NULL || items == NULL || ptrs == NULL)
		return US_EEXHAUSTED;
	usher__v1__migration_status_reply__init(out);
	out->schema = (char *)ctx->schema;
	for (size_t i = 0; i < n; i++) {
		usher__v1__migration_state__init(&items[i]);
		items[i].name = (char *)states[i].name;
		items[i].applied = states[i].applied;
		items[i].applied_at = (char *)states[i].applied_at;
		items[i].known = states[i].known;
		ptrs[i] = &items[i];
	}
	out->migrations = ptrs;
	out->n_migrations = n;
	*reply = &out->base;
	return US_OK;
}

static const us_rpc_method admin_methods[] = {
	{"MigrationStatus", migration_status, US_RPC_INTERNAL},
};

us_rpc_service us_admin_service(const us_admin_ctx *ctx)
{
	return (us_rpc_service){&usher__v1__admin__descriptor, admin_methods,
	                        sizeof(admin_methods) / sizeof(admin_methods[0]), (void *)ctx};
}
