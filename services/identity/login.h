/* Login: a password for a session token. Unknown emails and wrong passwords look alike
 * (same reply, same work). Failures are counted per email and client network together,
 * per network and per email; past a limit each further try waits a backoff that doubles
 * (see login.c), refused meanwhile without checking anything. */
#ifndef IDENTITY_LOGIN_H
#define IDENTITY_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"
#include "common/rpc_server.h"
#include "store.h"

us_rpc_handler identity_login;

/* The throttle's subject for an email (normalised) alone. */
void identity_email_subject(const identity_ctx *ctx, const char *email,
                            uint8_t out[IDENTITY_SUBJECT_BYTES]);

/* The subject of a client address's network (an IPv4 address, an IPv6 /64); false when
 * address is not an IP address. */
bool identity_network_subject(const identity_ctx *ctx, const char *address,
                              uint8_t out[IDENTITY_SUBJECT_BYTES]);

#endif
