#include "view.h"

#include <string.h>

Usher__V1__InvitationState invitation_view_state(const invitation_row *r)
{
	static const struct {
		const char *name;
		Usher__V1__InvitationState state;
	} states[] = {
		{"pending", USHER__V1__INVITATION_STATE__INVITATION_PENDING},
		{"accepting", USHER__V1__INVITATION_STATE__INVITATION_ACCEPTING},
		{"accepted", USHER__V1__INVITATION_STATE__INVITATION_ACCEPTED},
		{"declined", USHER__V1__INVITATION_STATE__INVITATION_DECLINED},
		{"revoked", USHER__V1__INVITATION_STATE__INVITATION_REVOKED},
		{"expired", USHER__V1__INVITATION_STATE__INVITATION_EXPIRED},
	};
	if (r->expired)
		return USHER__V1__INVITATION_STATE__INVITATION_EXPIRED;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strcmp(states[i].name, r->state) == 0)
			return states[i].state;
	}
	return USHER__V1__INVITATION_STATE__INVITATION_STATE_UNSPECIFIED;
}

const char *invitation_view_role_name(int role)
{
	static const char *const names[] = {"unspecified", "member", "moderator", "admin", "owner"};
	return role >= 1 && role <= 4 ? names[role] : names[0];
}

Usher__V1__Scope *invitation_view_scope(us_arena *a, const invitation_row *r)
{
	Usher__V1__Scope *scope = US_ARENA_NEW(a, Usher__V1__Scope);
	if (scope == NULL)
		return NULL;
	usher__v1__scope__init(scope);
	scope->organization = r->organization;
	scope->subaccount_ids = r->subaccount_ids;
	scope->n_subaccount_ids = r->n_subaccount_ids;
	return scope;
}

Usher__V1__Invitation *invitation_view(us_arena *a, const invitation_row *r)
{
	Usher__V1__Invitation *v = US_ARENA_NEW(a, Usher__V1__Invitation);
	Usher__V1__Scope *scope = invitation_view_scope(a, r);
	if (v == NULL || scope == NULL)
		return NULL;
	usher__v1__invitation__init(v);
	v->id = r->id;
	v->account_id = r->account_id;
	v->batch_id = r->batch_id;
	v->email = r->email;
	v->role = (Usher__V1__Role)r->role;
	v->scope = scope;
	v->products = r->products;
	v->n_products = r->n_products;
	v->flags = r->flags;
	v->n_flags = r->n_flags;
	v->state = invitation_view_state(r);
	v->existing_user = r->existing_user;
	v->invited_by = r->invited_by;
	v->invited_by_principal = r->invited_by_principal;
	v->inviter_name = r->inviter_name;
	v->account_name = r->account_name;
	v->created_at = r->created_at;
	v->expires_at = r->expires_at;
	v->last_sent_at = r->last_sent_at;
	v->send_count = (uint32_t)r->send_count;
	v->accepted_user_id = r->accepted_user_id;
	v->decided_at = r->decided_at;
	v->revoke_reason = r->revoke_reason;
	v->redirect_url = r->redirect_url;
	v->metadata = r->metadata;
	v->send_email = r->send_email;
	v->locale = r->locale;
	v->reminders_sent = (uint32_t)r->reminders_sent;
	return v;
}
