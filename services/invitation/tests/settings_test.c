/* What CreateInvitations and SetInvitationSettings accept: redirect URLs and the
 * allow-list's matching, metadata, language tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "settings.h"

static void urls(void **state)
{
	(void)state;
	const char *good[] = {"https://app.example.com/", "http://localhost:3000/cb?x=1&y=%20",
	                      "https://[::1]:8443/after", "https://app.example.com"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = invitation_url_check(good[i]);
		if (why != NULL)
			fail_msg("%s: %s", good[i], why);
	}
	const char *bad[] = {"", "javascript:alert(1)", "//app.example.com/", "ftp://x.example/",
	                     "https://", "https:///path", "https://user:pw@app.example.com/",
	                     "https://app.example.com/a b", "https://app.example.com/#frag",
	                     "https://app.example.com/\"x", "https://app.exa\tmple.com/",
	                     "https://app.example.com\\@evil.net/", "HTTPS://app.example.com/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (invitation_url_check(bad[i]) == NULL)
			fail_msg("taken: %s", bad[i]);
	}
	char longer[INVITATION_URL_MAX + 2];
	memset(longer, 'a', sizeof(longer) - 1);
	memcpy(longer, "https://a.example/", 18);
	longer[sizeof(longer) - 1] = '\0';
	assert_non_null(invitation_url_check(longer));
	longer[sizeof(longer) - 2] = '\0'; /* exactly the most */
	assert_null(invitation_url_check(longer));
}

static void allow_list(void **state)
{
	(void)state;
	char *list[] = {"https://app.example.com/", "https://other.example/exact"};
	assert_true(invitation_redirect_allowed(list, 2, "https://app.example.com/"));
	assert_true(invitation_redirect_allowed(list, 2, "https://app.example.com/deep/path?q=1"));
	assert_true(invitation_redirect_allowed(list, 2, "https://other.example/exact"));
	assert_false(invitation_redirect_allowed(list, 2, "https://other.example/exact/more"));
	assert_false(invitation_redirect_allowed(list, 2, "https://app.example.com.evil.net/"));
	assert_false(invitation_redirect_allowed(list, 2, "http://app.example.com/"));
	assert_false(invitation_redirect_allowed(list, 2, "https://app.example.co/"));
	assert_false(invitation_redirect_allowed(list, 0, "https://app.example.com/"));
}

static void metadata(void **state)
{
	(void)state;
	assert_null(invitation_metadata_check("{}"));
	assert_null(invitation_metadata_check("{\"a\": {\"b\": [1, 2, null]}}"));
	assert_string_equal(invitation_metadata_check("[]"), "must be a JSON object");
	assert_string_equal(invitation_metadata_check("\"x\""), "must be a JSON object");
	assert_string_equal(invitation_metadata_check("{\"a\": 1"), "must be valid JSON");
	assert_string_equal(invitation_metadata_check("{\"a\": 1, \"a\": 2}"), "must be valid JSON");
	char big[INVITATION_METADATA_MAX + 2];
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(invitation_metadata_check(big), "must be at most 4096 bytes");
	big[sizeof(big) - 3] = '}';
	big[sizeof(big) - 2] = '\0'; /* 4,096 bytes */
	assert_null(invitation_metadata_check(big));
}

static void locales(void **state)
{
	(void)state;
	const char *good[] = {"", "fr", "de-CH", "fra", "zh-Hant-TW", "en-US-x-twain"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(invitation_locale_check(good[i]));
	const char *bad[] = {"f", "fren", "fr_FR", "fr-", "fr--CH", "-fr", "fr-ABCDEFGHI", "f1",
	                     "fr-CH!", "aa-aaaaaaaa-aaaaaaaa-aaaaaaaa-aaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (invitation_locale_check(bad[i]) == NULL)
			fail_msg("taken: %s", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urls),
		cmocka_unit_test(allow_list),
		cmocka_unit_test(metadata),
		cmocka_unit_test(locales),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
