/* Login: a password for a session token. Unknown emails and wrong passwords look alike
 * (same reply, same work). Failures are counted per email and client network together,
 * per network and per email; past a limit each further try waits a backoff that doubles
 * (see login.c), refused meanwhile without checking anything. */
#ifndef IDENTITY_LOGIN_H
#define IDENTITY_LOGIN_H

#include "common/rpc_server.h"

us_rpc_handler identity_login;

#endif
