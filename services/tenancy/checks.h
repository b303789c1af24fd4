/* Check: may this user do this action in this account (and subaccount)? The question
 * the platform's other services ask of every request. */
#ifndef TENANCY_CHECKS_H
#define TENANCY_CHECKS_H

#include "common/rpc_server.h"

us_rpc_handler tenancy_check;

#endif
