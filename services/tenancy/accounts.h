/* Accounts and subaccounts: CreateAccount, GetAccount, UpdateAccountSettings,
 * TransferPrimaryOwnership, CreateSubaccount, ListSubaccounts. */
#ifndef TENANCY_ACCOUNTS_H
#define TENANCY_ACCOUNTS_H

#include "common/rpc_server.h"

/* Most subaccounts an account may have: ListSubaccounts answers them in one reply. */
#define TENANCY_SUBACCOUNTS_MAX 1000

us_rpc_handler tenancy_create_account;
us_rpc_handler tenancy_get_account;
us_rpc_handler tenancy_update_account_settings;
us_rpc_handler tenancy_transfer_primary_ownership;
us_rpc_handler tenancy_create_subaccount;
us_rpc_handler tenancy_list_subaccounts;

#endif
