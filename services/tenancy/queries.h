/* Who is in an account: ListMembers (filtered, in pages), ListMyMemberships, and
 * MembersAmong (which of many users are members, for invitation batches). */
#ifndef TENANCY_QUERIES_H
#define TENANCY_QUERIES_H

#include "common/rpc_server.h"

#define TENANCY_PAGE_SIZE_DEFAULT 100
#define TENANCY_PAGE_SIZE_MAX 500
#define TENANCY_MY_MEMBERSHIPS_MAX 1000
#define TENANCY_AMONG_MAX 50000

us_rpc_handler tenancy_list_members;
us_rpc_handler tenancy_list_my_memberships;
us_rpc_handler tenancy_list_accounts;
us_rpc_handler tenancy_members_among;

#endif
