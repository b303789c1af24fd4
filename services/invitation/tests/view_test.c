/* What callers see of stored rows: invitation and link states, roles, scopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "permalink.h"
#include "view.h"

static void a_lapsed_pending_invitation_is_expired(void **state)
{
	(void)state;
	invitation_row r = {.state = "pending"};
	assert_int_equal(invitation_view_state(&r), USHER__V1__INVITATION_STATE__INVITATION_PENDING);
	r.expired = true;
	assert_int_equal(invitation_view_state(&r), USHER__V1__INVITATION_STATE__INVITATION_EXPIRED);
	r = (invitation_row){.state = "accepting"};
	assert_int_equal(invitation_view_state(&r), USHER__V1__INVITATION_STATE__INVITATION_ACCEPTING);
	r.state = "revoked";
	assert_int_equal(invitation_view_state(&r), USHER__V1__INVITATION_STATE__INVITATION_REVOKED);
	r.state = "something else";
	assert_int_equal(invitation_view_state(&r),
	                 USHER__V1__INVITATION_STATE__INVITATION_STATE_UNSPECIFIED);
}

static void roles_have_names(void **state)
{
	(void)state;
	assert_string_equal(invitation_view_role_name(USHER__V1__ROLE__ROLE_MEMBER), "member");
	assert_string_equal(invitation_view_role_name(USHER__V1__ROLE__ROLE_OWNER), "owner");
	assert_string_equal(invitation_view_role_name(0), "unspecified");
	assert_string_equal(invitation_view_role_name(99), "unspecified");
}

static void an_invitation_as_the_api_shows_it(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char *subs[] = {"33333333-3333-3333-3333-333333333333"};
	invitation_row r = {.id = "i", .account_id = "acc", .batch_id = "b", .email = "e@x.example",
	                    .state = "pending", .expired = true, .role = 2, .subaccount_ids = subs,
	                    .n_subaccount_ids = 1, .invited_by = "", .invited_by_principal = "p",
	                    .inviter_name = "n", .account_name = "A", .created_at = "c",
	                    .expires_at = "x", .last_sent_at = "l", .send_count = 3,
	                    .accepted_user_id = "", .decided_at = "", .revoke_reason = ""};
	Usher__V1__Invitation *v = invitation_view(a, &r);
	assert_non_null(v);
	assert_int_equal(v->state, USHER__V1__INVITATION_STATE__INVITATION_EXPIRED);
	assert_false(v->scope->organization);
	assert_int_equal(v->scope->n_subaccount_ids, 1);
	assert_string_equal(v->scope->subaccount_ids[0], subs[0]);
	assert_int_equal(v->send_count, 3);
	assert_string_equal(v->invited_by_principal, "p");
	us_arena_free(a);
}

static void a_link_state_says_why_it_does_not_work(void **state)
{
	(void)state;
	invitation_link_row l = {.active = true};
	assert_int_equal(invitation_permalink_state(&l), USHER__V1__LINK_STATE__LINK_ACTIVE);
	l.used_up = true;
	assert_int_equal(invitation_permalink_state(&l), USHER__V1__LINK_STATE__LINK_USED_UP);
	l.expired = true; /* expired says more than used up */
	assert_int_equal(invitation_permalink_state(&l), USHER__V1__LINK_STATE__LINK_EXPIRED);
	l.active = false; /* deleted says most */
	assert_int_equal(invitation_permalink_state(&l), USHER__V1__LINK_STATE__LINK_DELETED);
}

static void a_link_grants_its_organization_or_one_subaccount(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__Scope *org = invitation_permalink_scope(a, "");
	assert_true(org->organization);
	assert_int_equal(org->n_subaccount_ids, 0);
	Usher__V1__Scope *sub = invitation_permalink_scope(a, "s-1");
	assert_false(sub->organization);
	assert_int_equal(sub->n_subaccount_ids, 1);
	assert_string_equal(sub->subaccount_ids[0], "s-1");
	us_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_lapsed_pending_invitation_is_expired),
		cmocka_unit_test(roles_have_names),
		cmocka_unit_test(an_invitation_as_the_api_shows_it),
		cmocka_unit_test(a_link_state_says_why_it_does_not_work),
		cmocka_unit_test(a_link_grants_its_organization_or_one_subaccount),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
