/* Service principals (protos/usher/v1/principal.proto): operators create, list, rotate
 * and revoke them; Usher's daemons resolve a key to its principal, and usher-identityd
 * itself does so from its own database (identity_principal_lookup). */
#ifndef IDENTITY_PRINCIPALS_H
#define IDENTITY_PRINCIPALS_H

#include <stdbool.h>

#include "common/caller_auth.h"
#include "common/rpc_server.h"

#define IDENTITY_PRINCIPAL_NAME_MAX 63
#define IDENTITY_PRINCIPAL_REF_MAX 100 /* an id or a name, as a request names a principal */
#define IDENTITY_PRINCIPAL_ACCOUNTS_MAX 100
#define IDENTITY_PRINCIPAL_METHODS_MAX 64
#define IDENTITY_PRINCIPAL_LIVE_KEYS_MAX 4
#define IDENTITY_PRINCIPAL_OVERLAP_MAX_S (30 * 24 * 3600)

/* Whether name may name a new principal: 1 to IDENTITY_PRINCIPAL_NAME_MAX of a-z, 0-9,
 * _ . -, starting with a letter or digit, and not a UUID (a principal is named by its name
 * or its id). */
bool identity_principals_name_ok(const char *name);

us_rpc_handler identity_create_principal;
us_rpc_handler identity_list_principals;
us_rpc_handler identity_rotate_principal_key;
us_rpc_handler identity_finish_key_rotation;
us_rpc_handler identity_revoke_principal;
us_rpc_handler identity_resolve_principal;

/* A us_principal_lookup over the worker's own connection (ctx unused). */
us_err identity_principal_lookup(void *ctx, PGconn *db,
                                 const uint8_t public_key[US_PUBLIC_KEY_BYTES], us_arena *arena,
                                 us_principal **out);

#endif
