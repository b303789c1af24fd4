#include "common/principal_lookup.h"

#include <string.h>

#include "usher/v1/principal.pb-c.h"

#define RESOLVE "usher.v1.PrincipalService/ResolvePrincipal"

static us_err resolve(us_rpc_client *identity, const Usher__V1__ResolvePrincipalRequest *req,
                      uint32_t timeout_ms, us_arena *arena, us_principal **out)
{
	if (identity == NULL)
		return US_EUNAVAILABLE;
	us_rpc_call_opts opts = {.timeout_ms = timeout_ms};
	ProtobufCMessage *reply;
	us_status st;
	us_err rc = us_rpc_call(identity, RESOLVE, &opts, &req->base,
	                        &usher__v1__resolve_principal_reply__descriptor, arena, &reply, &st);
	us_status_clear(&st);
	if (rc != US_OK)
		return rc;
	const Usher__V1__ResolvePrincipalReply *r = (const Usher__V1__ResolvePrincipalReply *)reply;
	const Usher__V1__Principal *p = r->principal;
	us_principal *got = US_ARENA_NEW(arena, us_principal);
	if (p == NULL || got == NULL)
		return p == NULL ? US_EINTERNAL : US_EEXHAUSTED;
	*got = (us_principal){
		.id = p->id,
		.name = p->name,
		.all_accounts = p->all_accounts,
		.account_ids = p->account_ids,
		.n_account_ids = p->n_account_ids,
		.methods = p->methods,
		.n_methods = p->n_methods,
		.max_role = (int)p->max_role,
		.key_expires_at_ms = r->key_expires_at_ms,
	};
	*out = got;
	return US_OK;
}

us_err us_principal_lookup_remote(void *ctx, PGconn *db,
                                  const uint8_t public_key[US_PUBLIC_KEY_BYTES], us_arena *arena,
                                  us_principal **out)
{
	(void)db;
	Usher__V1__ResolvePrincipalRequest req = USHER__V1__RESOLVE_PRINCIPAL_REQUEST__INIT;
	req.public_key.data = (uint8_t *)public_key;
	req.public_key.len = US_PUBLIC_KEY_BYTES;
	return resolve(*(us_rpc_client **)ctx, &req, US_PRINCIPAL_LOOKUP_TIMEOUT_MS, arena, out);
}

us_err us_principal_by_id(us_rpc_client *identity, const char *id, uint32_t timeout_ms,
                          us_arena *arena, us_principal **out)
{
	Usher__V1__ResolvePrincipalRequest req = USHER__V1__RESOLVE_PRINCIPAL_REQUEST__INIT;
	req.principal_id = (char *)id;
	return resolve(identity, &req, timeout_ms, arena, out);
}
