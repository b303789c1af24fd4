/* A batch's outcomes decided without asking anyone, and the reply that counts them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "common/validate.h"
#include "disposable.h"

typedef struct fixture {
	us_arena *arena;
	invitation_disposable *disposable;
	Usher__V1__Account account;
} fixture;

static int setup(void **state)
{
	static fixture f;
	f.arena = us_arena_new();
	const char *list = "mailinator.com\n";
	if (f.arena == NULL || invitation_disposable_load(list, strlen(list), &f.disposable) != US_OK)
		return -1;
	usher__v1__account__init(&f.account);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	invitation_disposable_free(f->disposable);
	us_arena_free(f->arena);
	return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void each_address_gets_its_local_outcome(void **state)
{
	fixture *f = *state;
	char too_long[400];
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	char *emails[] = {"Ann@Example.com", "  ann@example.com ", "not an address",
	                  "bob@eu.mailinator.com", "cy@example.org", too_long};
	invitation_address addrs[N(emails)];
	assert_int_equal(invitation_batch_classify(f->arena, emails, N(emails), &f->account,
	                                           f->disposable, addrs),
	                 US_OK);
	assert_int_equal(addrs[0].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	assert_string_equal(addrs[0].email, "ann@example.com");
	/* Normalised, the second is the first again. */
	assert_int_equal(addrs[1].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_DUPLICATE_IN_BATCH);
	assert_int_equal(addrs[2].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID);
	assert_non_null(addrs[2].reason);
	assert_int_equal(addrs[3].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_DISPOSABLE_DOMAIN);
	assert_int_equal(addrs[4].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	assert_int_equal(addrs[5].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID);
	assert_string_equal(addrs[5].reason, "must be at most 254 characters");
	assert_null(addrs[5].email);
}

static void an_account_may_allow_only_some_domains(void **state)
{
	fixture *f = *state;
	char *allowed[] = {"example.com"};
	Usher__V1__Account account = f->account;
	account.allowed_email_domains = allowed;
	account.n_allowed_email_domains = 1;
	char *emails[] = {"a@example.com", "b@other.example", "c@sub.example.com"};
	invitation_address addrs[N(emails)];
	assert_int_equal(invitation_batch_classify(f->arena, emails, N(emails), &account,
	                                           f->disposable, addrs),
	                 US_OK);
	assert_int_equal(addrs[0].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED);
	assert_int_equal(addrs[1].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED);
	/* The exact domain only, not its subdomains. */
	assert_int_equal(addrs[2].outcome, USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED);
}

static void the_reply_lists_every_address_and_counts_outcomes(void **state)
{
	fixture *f = *state;
	char *emails[] = {"a@example.com", "A@example.com", "nope", "x@mailinator.com",
	                  "b@example.com"};
	invitation_address addrs[N(emails)];
	assert_int_equal(invitation_batch_classify(f->arena, emails, N(emails), &f->account,
	                                           f->disposable, addrs),
	                 US_OK);
	/* What the lookups and the write decide later. */
	addrs[0].invitation_id = "11111111-1111-1111-1111-111111111111";
	addrs[4].outcome = USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_MEMBER;
	addrs[4].user_id = "22222222-2222-2222-2222-222222222222";
	Usher__V1__CreateInvitationsReply *r;
	assert_int_equal(invitation_batch_reply(f->arena, addrs, N(emails), "batch-1", &r), US_OK);
	assert_string_equal(r->batch_id, "batch-1");
	assert_int_equal(r->n_results, N(emails));
	assert_int_equal(r->created, 1);
	assert_int_equal(r->duplicate_in_batch, 1);
	assert_int_equal(r->invalid, 1);
	assert_int_equal(r->disposable_domain, 1);
	assert_int_equal(r->already_member, 1);
	assert_int_equal(r->already_pending, 0);
	assert_int_equal(r->domain_not_allowed, 0);
	for (size_t i = 0; i < N(emails); i++)
		assert_int_equal(r->results[i]->index, i);
	assert_string_equal(r->results[0]->invitation_id, "11111111-1111-1111-1111-111111111111");
	assert_string_equal(r->results[1]->email, "a@example.com"); /* normalised */
	assert_string_equal(r->results[2]->email, "nope");          /* invalid: as given */
	assert_string_equal(r->results[2]->invitation_id, "");
	assert_true(r->results[4]->existing_user);
	assert_false(r->results[0]->existing_user);
}

static void a_dry_run_reply_has_no_batch(void **state)
{
	fixture *f = *state;
	char *emails[] = {"a@example.com"};
	invitation_address addrs[1];
	assert_int_equal(invitation_batch_classify(f->arena, emails, 1, &f->account, f->disposable,
	                                           addrs),
	                 US_OK);
	Usher__V1__CreateInvitationsReply *r;
	assert_int_equal(invitation_batch_reply(f->arena, addrs, 1, NULL, &r), US_OK);
	assert_string_equal(r->batch_id, "");
	assert_int_equal(r->created, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_address_gets_its_local_outcome),
		cmocka_unit_test(an_account_may_allow_only_some_domains),
		cmocka_unit_test(the_reply_lists_every_address_and_counts_outcomes),
		cmocka_unit_test(a_dry_run_reply_has_no_batch),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
