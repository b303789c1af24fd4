/* How a daemon other than usher-identityd finds a service principal: it asks identityd
 * (usher.v1.PrincipalService/ResolvePrincipal); caller_auth.c caches the answer for
 * PRINCIPAL_CACHE_TTL_S. */
#ifndef US_PRINCIPAL_LOOKUP_H
#define US_PRINCIPAL_LOOKUP_H

#include "common/caller_auth.h"
#include "common/rpc_client.h"

#define US_PRINCIPAL_LOOKUP_TIMEOUT_MS 3000

/* A us_principal_lookup; ctx is a us_rpc_client ** to usher-identityd (set before any
 * request arrives). */
us_err us_principal_lookup_remote(void *ctx, PGconn *db,
                                  const uint8_t public_key[US_PUBLIC_KEY_BYTES], us_arena *arena,
                                  us_principal **out);

/* The principal with this id, asked of usher-identityd (uncached: for a grant, whose
 * granter must be active now). US_ENOTFOUND for an unknown or revoked one. */
US_MUST_USE us_err us_principal_by_id(us_rpc_client *identity, const char *id,
                                      uint32_t timeout_ms, us_arena *arena, us_principal **out);

#endif
