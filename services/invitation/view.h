/* Invitations as the API shows them. */
#ifndef INVITATION_VIEW_H
#define INVITATION_VIEW_H

#include "common/arena.h"
#include "store.h"
#include "usher/v1/invitation.pb-c.h"

/* The state a person sees: a pending invitation past its expiry is expired. */
Usher__V1__InvitationState invitation_view_state(const invitation_row *r);

/* The row as an Invitation message in the arena; NULL when out of memory. */
Usher__V1__Invitation *invitation_view(us_arena *a, const invitation_row *r);

/* The row's scope as a Scope message in the arena. */
Usher__V1__Scope *invitation_view_scope(us_arena *a, const invitation_row *r);

/* "member", "moderator", "admin", "owner". */
const char *invitation_view_role_name(int role);

#endif
