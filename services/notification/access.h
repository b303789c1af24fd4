/* Who may act on an account's events and webhook endpoints. Usher itself (operators and
 * the daemons) may act on every account and on global endpoints; a service principal on
 * the accounts its scope covers (checked before the handler runs); a signed-in person,
 * named as the actor by the gateway, only where tenancyd's Check says they hold
 * webhooks.manage. Nobody is believed without that answer. */
#ifndef NOTIFICATION_ACCESS_H
#define NOTIFICATION_ACCESS_H

#include <stdbool.h>

#include "common/rpc_server.h"

#define NOTIFICATION_WEBHOOKS_PERMISSION "webhooks.manage"

/* The account a call may act on: account_id, or NULL (every account, global endpoints)
 * for Usher itself when none is given. Returns US_OK, or the call's error: INVALID for a
 * malformed id, PERMISSION_DENIED for no account from anyone else, NOT_FOUND for a
 * person without the permission (the account is not shown to exist). */
US_MUST_USE us_err notification_access_account(us_call *call, const char *account_id,
                                               const char **out);

#endif
