/* Who is in an account: ListMembers (filtered, in pages), ListMyMemberships, and
 * MembersAmong (which of many users are members, for invitation batches). */
#ifndef TENANCY_QUERIES_H
#define TENANCY_QUERIES_H

#include "common/limits.h"
#include "common/rpc_server.h"

#define TENANCY_MY_MEMBERSHIPS_MAX 1000

us_rpc_handler tenancy_list_members;
us_rpc_handler tenancy_list_my_memberships;
us_rpc_handler tenancy_list_accounts;
us_rpc_handler tenancy_members_among;

#endif
