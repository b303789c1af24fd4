/* Joining through a permanent link. A link proves nothing about an address, so nobody
 * joins with an address that is not proven (issue 11, holes 5 and 6): a signed-in user
 * with a verified address joins at once; anyone else gets a confirmation link emailed to
 * the address, and joins when they follow it (identityd then marks the address verified).
 * The link's domain limit and the account's allowed_email_domains apply to the address,
 * on joining and again on confirming. */
#ifndef INVITATION_JOINS_H
#define INVITATION_JOINS_H

#include "rpc_server.h"

us_rpc_handler inv_accept_link;
us_rpc_handler inv_preview_link_join;
us_rpc_handler inv_confirm_link_join;

#endif
