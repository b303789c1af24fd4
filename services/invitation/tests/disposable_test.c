/* The disposable-domain set: listed domains and their subdomains, nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "disposable.h"

static const char list[] = "# a comment line\n"
                           "mailinator.com\n"
                           "\n"
                           "trash.example\n";

static void listed_domains_and_subdomains(void **state)
{
	(void)state;
	invitation_disposable *d;
	assert_int_equal(invitation_disposable_load(list, strlen(list), &d), US_OK);
	assert_true(invitation_disposable_has(d, "mailinator.com"));
	assert_true(invitation_disposable_has(d, "eu.mailinator.com"));
	assert_true(invitation_disposable_has(d, "a.b.trash.example"));
	invitation_disposable_free(d);
}

static void others_and_lookalikes_are_not(void **state)
{
	(void)state;
	invitation_disposable *d;
	assert_int_equal(invitation_disposable_load(list, strlen(list), &d), US_OK);
	assert_false(invitation_disposable_has(d, "example.com"));
	assert_false(invitation_disposable_has(d, "notmailinator.com")); /* a suffix, not a subdomain */
	assert_false(invitation_disposable_has(d, "mailinator.co"));
	assert_false(invitation_disposable_has(d, "com"));
	assert_false(invitation_disposable_has(d, "# a comment line"));
	assert_false(invitation_disposable_has(d, ""));
	invitation_disposable_free(d);
}

static void list_without_a_final_newline(void **state)
{
	(void)state;
	invitation_disposable *d;
	const char *last = "one.example\ntwo.example";
	assert_int_equal(invitation_disposable_load(last, strlen(last), &d), US_OK);
	assert_true(invitation_disposable_has(d, "two.example"));
	invitation_disposable_free(d);
	invitation_disposable_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listed_domains_and_subdomains),
		cmocka_unit_test(others_and_lookalikes_are_not),
		cmocka_unit_test(list_without_a_final_newline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
