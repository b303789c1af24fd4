/* Sessions from their holder's side: who a token belongs to (ResolveSession) and ending
 * one (Logout). Tokens are looked up by their keyed hash only. */
#ifndef IDENTITY_SESSIONS_H
#define IDENTITY_SESSIONS_H

#include "common/rpc_server.h"

us_rpc_handler identity_resolve_session;
us_rpc_handler identity_logout;

#endif
