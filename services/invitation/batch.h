/* CreateInvitations: a batch of up to US_BATCH_MAX addresses, each given an outcome. */
#ifndef INVITATION_BATCH_H
#define INVITATION_BATCH_H

#include "common/arena.h"
#include "common/rpc_server.h"
#include "context.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

us_rpc_handler invitation_create_invitations;

/* One address of the batch on its way to an outcome. */
typedef struct invitation_address {
	const char *given;
	char *email; /* normalised; NULL when the given one is too long */
	Usher__V1__AddressOutcome outcome;
	const char *reason;
	const char *user_id;       /* when the address has a user */
	const char *invitation_id; /* when it was invited */
	const char *link;          /* its link, only when the caller delivers it (send_email false) */
} invitation_address;

/* The outcomes decided without asking anyone: invalid, duplicate in the batch, disposable
 * domain, domain the account does not allow; the rest stay CREATED (for now). addrs has
 * room for n; strings in a. */
US_MUST_USE us_err invitation_batch_classify(us_arena *a, char **emails, size_t n,
                                             const Usher__V1__Account *account,
                                             const invitation_disposable *disposable,
                                             invitation_address *addrs);

/* The reply: one result per address, in order, and the count of each outcome. */
US_MUST_USE us_err invitation_batch_reply(us_arena *a, const invitation_address *addrs,
                                          size_t n, const char *batch_id,
                                          Usher__V1__CreateInvitationsReply **out);

/* For the copy of a reply kept for replays: the links go (they are returned once). */
void invitation_batch_strip_links(ProtobufCMessage *reply);

/* A repeated request is answered with the kept reply, without its links. */
US_MUST_USE us_err invitation_batch_replay(us_call *call, const ProtobufCMessage *request,
                                           ProtobufCMessage *stored, ProtobufCMessage **reply);

#endif
