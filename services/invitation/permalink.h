/* Permanent invitation links: enable, show, delete, preview, join through, and the record
 * of who joined. A link only ever grants the member role. */
#ifndef INVITATION_PERMALINK_H
#define INVITATION_PERMALINK_H

#include "common/rpc_server.h"
#include "store.h"
#include "usher/v1/invitation.pb-c.h"

us_rpc_handler invitation_enable_link;
/* EnableLink's stored reply is kept without the link's URL (see rpc_server.h). */
extern const us_rpc_reply_secret invitation_reply_secrets[];
extern const size_t invitation_n_reply_secrets;
us_rpc_handler invitation_get_link;
us_rpc_handler invitation_delete_link;
us_rpc_handler invitation_preview_link;
us_rpc_handler invitation_list_link_joins;

/* The link a token opens; malformed and unknown tokens alike are NOT_FOUND. */
US_MUST_USE us_err invitation_permalink_load(us_call *call, const char *token, invitation_link_row *row);

/* FAILED_PRECONDITION, saying why, unless the link is active, unexpired and not used up. */
US_MUST_USE us_err invitation_permalink_usable(us_call *call, const invitation_link_row *l);

Usher__V1__LinkState invitation_permalink_state(const invitation_link_row *l);

/* The scope a link grants: the organization ("") or its one subaccount; in a. */
Usher__V1__Scope *invitation_permalink_scope(us_arena *a, const char *subaccount_id);

#endif
