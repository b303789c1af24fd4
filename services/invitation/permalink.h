/* Permanent invitation links: enable, show, delete, preview, join through, and the record
 * of who joined. A link only ever grants the member role. */
#ifndef INVITATION_PERMALINK_H
#define INVITATION_PERMALINK_H

#include "common/rpc_server.h"
#include "store.h"
#include "usher/v1/invitation.pb-c.h"

us_rpc_handler inv_enable_link;
/* EnableLink's stored reply is kept without the link's URL (see rpc_server.h). */
extern const us_rpc_reply_secret inv_reply_secrets[];
extern const size_t inv_n_reply_secrets;
us_rpc_handler inv_get_link;
us_rpc_handler inv_delete_link;
us_rpc_handler inv_preview_link;
us_rpc_handler inv_list_link_joins;

/* The link a token opens; malformed and unknown tokens alike are NOT_FOUND. */
US_MUST_USE us_err inv_link_load(us_call *call, const char *token, link_row *row);

/* FAILED_PRECONDITION, saying why, unless the link is active, unexpired and not used up. */
US_MUST_USE us_err inv_link_usable(us_call *call, const link_row *l);

Usher__V1__LinkState inv_link_state(const link_row *l);

/* The scope a link grants: the organization ("") or its one subaccount; in a. */
Usher__V1__Scope *inv_link_scope(us_arena *a, const char *subaccount_id);

#endif
