/* The permission matrix parser and the shipped default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "permissions.h"
#include "roles.h"

static void test_default_covers_usher_and_platform_actions(void **state)
{
	(void)state;
	tenancy_matrix *m;
	char err[256];
	if (tenancy_matrix_load(NULL, &m, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	static const struct {
		const char *action;
		int min;
	} expected[] = {
		{"member.invite", USHER__V1__ROLE__ROLE_ADMIN},
		{"member.role.change", USHER__V1__ROLE__ROLE_ADMIN},
		{"member.deactivate", USHER__V1__ROLE__ROLE_ADMIN},
		{"member.remove", USHER__V1__ROLE__ROLE_ADMIN},
		{"invitation.list", USHER__V1__ROLE__ROLE_ADMIN},
		{"invitation.revoke", USHER__V1__ROLE__ROLE_ADMIN},
		{"invitation.resend", USHER__V1__ROLE__ROLE_ADMIN},
		{"link.manage", USHER__V1__ROLE__ROLE_ADMIN},
		{"subaccount.create", USHER__V1__ROLE__ROLE_OWNER},
		{"billing.view", USHER__V1__ROLE__ROLE_OWNER},
		{"billing.manage", TENANCY_ROLE_PRIMARY_OWNER},
		{"usage.view", USHER__V1__ROLE__ROLE_ADMIN},
		{"settings.update", USHER__V1__ROLE__ROLE_ADMIN},
		{"campaign.create", USHER__V1__ROLE__ROLE_ADMIN},
		{"campaign.send", USHER__V1__ROLE__ROLE_ADMIN},
		{"optout.upload", USHER__V1__ROLE__ROLE_ADMIN},
		{"optout.reverse", USHER__V1__ROLE__ROLE_ADMIN},
		{"threads.view_all", USHER__V1__ROLE__ROLE_MODERATOR},
		{"messages.send", USHER__V1__ROLE__ROLE_MEMBER},
		{"tags.apply", USHER__V1__ROLE__ROLE_MEMBER},
		{"notes.add", USHER__V1__ROLE__ROLE_MEMBER},
	};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		int min = tenancy_matrix_min_role(m, expected[i].action);
		if (min != expected[i].min)
			fail_msg("%s: expected %s, got %s", expected[i].action,
			         tenancy_role_name(expected[i].min), tenancy_role_name(min));
	}
	assert_int_equal(tenancy_matrix_min_role(m, "campaign.launch_rockets"), 0);
	tenancy_matrix_free(m);
}

static const char enforced[] = "member.invite admin\nmember.role.change admin\n"
                               "member.deactivate admin\nmember.remove admin\n"
                               "settings.update admin\nsubaccount.create owner\n";

static void test_comments_blanks_and_spacing(void **state)
{
	(void)state;
	char text[512];
	snprintf(text, sizeof(text), "# heading\n\n%s\t tags.apply \t member # texters too\r\n"
	         "billing.manage primary_owner", enforced);
	tenancy_matrix *m;
	char err[256];
	if (tenancy_matrix_parse(text, strlen(text), "t.conf", &m, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	assert_int_equal(tenancy_matrix_size(m), 8);
	assert_int_equal(tenancy_matrix_min_role(m, "tags.apply"), USHER__V1__ROLE__ROLE_MEMBER);
	assert_int_equal(tenancy_matrix_min_role(m, "billing.manage"), TENANCY_ROLE_PRIMARY_OWNER);
	tenancy_matrix_free(m);
}

static void expect_error(const char *text, const char *message)
{
	tenancy_matrix *m = NULL;
	char err[256] = "";
	us_err rc = tenancy_matrix_parse(text, strlen(text), "t.conf", &m, err, sizeof(err));
	if (rc != US_EINVAL || strstr(err, message) == NULL)
		fail_msg("expected \"%s\", got %d \"%s\"", message, rc, err);
	assert_null(m);
}

static void test_errors_name_the_line(void **state)
{
	(void)state;
	char text[512];
	snprintf(text, sizeof(text), "%stags.apply texter\n", enforced);
	expect_error(text, "t.conf:7: unknown role \"texter\"");
	snprintf(text, sizeof(text), "%s\n\n.tags admin\n", enforced);
	expect_error(text, "t.conf:9: \".tags\" is not an action name");
	snprintf(text, sizeof(text), "%stags.apply member\ntags.apply admin\n", enforced);
	expect_error(text, "t.conf:8: action \"tags.apply\" is already listed on line 7");
	expect_error("", "t.conf: action \"member.invite\" is missing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_covers_usher_and_platform_actions),
		cmocka_unit_test(test_comments_blanks_and_spacing),
		cmocka_unit_test(test_errors_name_the_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
