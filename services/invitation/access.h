/* Who may do what with invitations, asked of usher-tenancyd. */
#ifndef INVITATION_ACCESS_H
#define INVITATION_ACCESS_H

#include <stdint.h>

#include "peers.h"
#include "store.h"
#include "usher/v1/invitation.pb-c.h"

/* May actor (or the service principal calling, when actor is "") invite with this role,
 * scope, products and flags into the account? Sets PERMISSION_DENIED with tenancyd's reason when
 * not. */
US_MUST_USE us_err invitation_authorize_grant(us_call *call, invitation_peer *p, const char *actor,
                                       const char *account_id, Usher__V1__Role role,
                                       const Usher__V1__Scope *scope, char **products,
                                       size_t n_products, char **flags, size_t n_flags);

/* CreateInvitations' question to tenancyd (CheckInvite), started without waiting for the
 * answer; invitation_authorize_invite_finish() waits and judges it, refused as by
 * invitation_authorize_grant; when allowed, *out holds the account. Every started call
 * gets its finish. */
us_rpc_pending *invitation_authorize_invite_start(us_call *call, invitation_peer *p,
                                                  const char *actor,
                                                  const Usher__V1__CreateInvitationsRequest *req);
US_MUST_USE us_err invitation_authorize_invite_finish(us_call *call, invitation_peer *p,
                                                      us_rpc_pending *pending,
                                                      Usher__V1__CheckInviteReply **out);

/* expires_in_hours checked against the account's policy (a violation when longer). */
US_MUST_USE us_err invitation_account_expiry_fits(us_call *call, const Usher__V1__Account *account,
                                                  uint32_t expires_in_hours);

/* The account, as the actor sees it, with expires_in_hours checked against its policy
 * (a violation when longer). */
US_MUST_USE us_err invitation_account_for_invite(us_call *call, invitation_peer *p, const char *account_id,
                                          uint32_t expires_in_hours, Usher__V1__Account **out);

/* May actor do action (invitation.list, .revoke, .resend) on this invitation: account-wide,
 * or in one of the subaccounts it is scoped to? A service principal may when the account
 * is in its scope. Sets NOT_FOUND when not, the same reply as for an invitation that does
 * not exist. */
US_MUST_USE us_err invitation_authorize_on(us_call *call, invitation_peer *p, const char *actor,
                                    const invitation_row *row, const char *action);

#endif
