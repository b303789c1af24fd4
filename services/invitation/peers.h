/* Typed calls to the daemons usher-invitationd depends on. Each takes a invitation_peer: the
 * arena replies are unpacked into and the call options (deadline, request id, actor)
 * carried on from the request being handled, or set by a background loop. On failure
 * the status holds the peer's message (us_status_clear() it). */
#ifndef INVITATION_PEERS_H
#define INVITATION_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/rpc_server.h"
#include "context.h"
#include "usher/v1/erasure.pb-c.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/notification.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

typedef struct invitation_peer {
	const invitation_ctx *ctx; /* whose clients the calls go through */
	us_arena *arena;
	us_rpc_call_opts opts;
	us_status status;
} invitation_peer;

/* A context carrying the handled call's deadline, request id and actor. */
void invitation_peer_from_call(invitation_peer *p, us_call *call);
void invitation_peer_clear(invitation_peer *p);

US_MUST_USE us_err invitation_peer_get_account(invitation_peer *p, const char *account_id, Usher__V1__Account **out);
/* May actor_user_id, or the service principal principal_id (one of them is ""), grant
 * this? A missing account is answered as a denial ("not a member"), as tenancyd answers
 * for an account the user has no part in, so callers cannot tell the two apart (Check
 * too). */
US_MUST_USE us_err invitation_peer_check_grant(invitation_peer *p, const char *actor, const char *principal_id,
                                    const char *account_id, Usher__V1__Role role,
                                    const Usher__V1__Scope *scope, char **products,
                                    size_t n_products, char **flags, size_t n_flags,
                                    Usher__V1__CheckGrantReply **out);
/* CheckGrant and GetAccount in one call (CreateInvitations' CheckInvite, of no users:
 * their membership is asked apart, once identityd has named them), started without
 * waiting for the answer, so the call to identityd can be in flight with it. grant stays
 * in p's arena until invitation_peer_check_invite_finish(), which every started call gets:
 * the grant's answer (a missing account denied as by invitation_peer_check_grant) and,
 * when allowed, the account. */
us_rpc_pending *invitation_peer_check_invite_start(invitation_peer *p,
                                                  const Usher__V1__CheckGrantRequest *grant);
US_MUST_USE us_err invitation_peer_check_invite_finish(invitation_peer *p, us_rpc_pending *pending,
                                                       Usher__V1__CheckInviteReply **out);
US_MUST_USE us_err invitation_peer_check(invitation_peer *p, const char *user_id, const char *account_id,
                              const char *subaccount_id, const char *action, bool *allowed);
US_MUST_USE us_err invitation_peer_members_among(invitation_peer *p, const char *account_id, char **user_ids,
                                      size_t n, Usher__V1__MembersAmongReply **out);
US_MUST_USE us_err invitation_peer_grant_membership(invitation_peer *p, const char *key,
                                         const Usher__V1__GrantMembershipRequest *req,
                                         Usher__V1__Membership **out);

US_MUST_USE us_err invitation_peer_get_user(invitation_peer *p, const char *user_id, Usher__V1__User **out);
US_MUST_USE us_err invitation_peer_lookup_emails(invitation_peer *p, char **emails, size_t n,
                                      Usher__V1__LookupEmailsReply **out);
/* LookupEmails and, unless inviter is NULL, GetUser of inviter (reply->user) in one call,
 * started without waiting for the answer; invitation_peer_lookup_invitees_finish() (with
 * the same inviter) ends it, and every started call gets it. */
us_rpc_pending *invitation_peer_lookup_invitees_start(invitation_peer *p, const char *inviter,
                                                     char **emails, size_t n);
US_MUST_USE us_err invitation_peer_lookup_invitees_finish(invitation_peer *p, us_rpc_pending *pending,
                                                          const char *inviter,
                                                          Usher__V1__LookupEmailsReply **out);
US_MUST_USE us_err invitation_peer_resolve_session(invitation_peer *p, const char *token, Usher__V1__User **out);
US_MUST_USE us_err invitation_peer_create_user(invitation_peer *p, const char *key,
                                    const Usher__V1__CreateUserRequest *req,
                                    Usher__V1__User **out);

US_MUST_USE us_err invitation_peer_confirm_email_ownership(invitation_peer *p, const char *key, const char *user_id,
                                                const char *email, Usher__V1__User **out);

US_MUST_USE us_err invitation_peer_send_emails(invitation_peer *p, const Usher__V1__SendEmailsRequest *req);
US_MUST_USE us_err invitation_peer_send_email(invitation_peer *p, const Usher__V1__Email *email);

/* A step of DeleteUser (erasure.h) on the daemon behind c, as Usher itself. */
US_MUST_USE us_err invitation_peer_erase_user(invitation_peer *p, us_rpc_client *c,
                                              const Usher__V1__EraseUserRequest *req);

#endif
