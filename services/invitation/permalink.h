/* Permanent invitation links: enable, show, delete, preview, join through, and the record
 * of who joined. A link only ever grants the member role. */
#ifndef INVITATION_PERMALINK_H
#define INVITATION_PERMALINK_H

#include "rpc_server.h"
#include "usher/v1/invitation.pb-c.h"

us_rpc_handler inv_enable_link;
/* EnableLink's stored reply is kept without the link's URL (see rpc_server.h). */
extern const us_rpc_reply_secret inv_reply_secrets[];
extern const size_t inv_n_reply_secrets;
us_rpc_handler inv_get_link;
us_rpc_handler inv_delete_link;
us_rpc_handler inv_preview_link;
us_rpc_handler inv_accept_link;
us_rpc_handler inv_list_link_joins;

#endif
