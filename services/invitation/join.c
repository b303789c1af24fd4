#include "join.h"

#include <string.h>

#include <sodium.h>

/* "link:<link id>:<short hash of what>": bounded in length whatever the address. */
static char *join_key(us_arena *a, const char *link_id, const char *what)
{
	uint8_t h[12];
	char hex[25];
	crypto_generichash(h, sizeof(h), (const uint8_t *)what, strlen(what), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return us_arena_printf(a, "link:%s:%s", link_id, hex);
}

us_err inv_join_create_user(peer_ctx *p, const link_row *link,
                            const Usher__V1__LinkNewUser *profile, const char *email,
                            Usher__V1__User **out)
{
	Usher__V1__CreateUserRequest create = USHER__V1__CREATE_USER_REQUEST__INIT;
	create.email = (char *)email;
	create.name = profile->name;
	create.phone = profile->phone;
	create.password = profile->password;
	char *key = join_key(p->arena, link->id, email);
	if (key == NULL)
		return US_EEXHAUSTED;
	return peer_create_user(p, key, &create, out);
}

us_err inv_join_grant(peer_ctx *p, const link_row *link, const char *user_id, unsigned use,
                      Usher__V1__Membership **out)
{
	Usher__V1__Account *account;
	us_err rc = peer_get_account(p, link->account_id, &account);
	if (rc != US_OK)
		return rc == US_ENOTFOUND ? US_EPRECONDITION : rc;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	char *sub = link->subaccount_id;
	scope.organization = sub[0] == '\0';
	scope.subaccount_ids = sub[0] ? &sub : NULL;
	scope.n_subaccount_ids = sub[0] ? 1 : 0;
	Usher__V1__GrantMembershipRequest g = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	g.account_id = link->account_id;
	g.user_id = (char *)user_id;
	g.role = USHER__V1__ROLE__ROLE_MEMBER;
	g.scope = &scope;
	g.products = account->products;
	g.n_products = account->n_products;
	g.source = us_arena_printf(p->arena, "link:%s", link->id);
	g.granted_by = link->created_by;
	char *what = us_arena_printf(p->arena, "%s:%u", user_id, use);
	char *key = what != NULL ? join_key(p->arena, link->id, what) : NULL;
	if (g.source == NULL || key == NULL)
		return US_EEXHAUSTED;
	return peer_grant_membership(p, key, &g, out);
}

bool inv_join_refused(us_err rc)
{
	return rc == US_EEXISTS || rc == US_EDENIED || rc == US_EPRECONDITION || rc == US_EINVAL;
}
