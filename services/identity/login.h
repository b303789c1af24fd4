/* Login: a password for a session token. Unknown emails and wrong passwords look alike
 * (same reply, same work); failures are counted per email and per client address and,
 * past their limits, refused for the rest of the window without checking anything. */
#ifndef IDENTITY_LOGIN_H
#define IDENTITY_LOGIN_H

#include "rpc_server.h"

us_rpc_handler identity_login;

#endif
