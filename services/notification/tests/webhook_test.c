/* Webhook pieces without a server: which URLs an endpoint may have, which addresses a post
 * may connect to, the Standard Webhooks signature (the specification's own example), new
 * secrets, and the backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include "common/arena.h"
#include "egress.h"
#include "webhook_sign.h"
#include "webhook_url.h"
#include "webhooks.h"

static void test_urls(void **state)
{
	(void)state;
	const char *good[] = {"http://127.0.0.1:8080/hooks", "https://hooks.example/in?x=1",
	                      "HTTPS://Hooks.Example:8443/a/b#frag"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = notification_webhook_url_problem(good[i]);
		if (why != NULL)
			fail_msg("%s refused: %s", good[i], why);
	}
	struct {
		const char *url, *why;
	} bad[] = {
		{"", "is required"},
		{"ftp://hooks.example/in", "must be an http or https URL"},
		{"hooks.example/in", "must be an http or https URL"},
		{"javascript:alert(1)", "must be an http or https URL"},
		{"http://user:pw@hooks.example/", "must not contain credentials (user:password@)"},
		{"https://user@hooks.example/", "must not contain credentials (user:password@)"},
		{"http://:pw@hooks.example/", "must not contain credentials (user:password@)"},
		{"http:///path", "must name a host"},
		{"http://hooks.example/a b", "must not contain spaces or control characters"},
		{"http://hooks.example/\x01", "must not contain spaces or control characters"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = notification_webhook_url_problem(bad[i].url);
		if (why == NULL || strcmp(why, bad[i].why) != 0)
			fail_msg("\"%s\": expected \"%s\", got \"%s\"", bad[i].url, bad[i].why,
			         why ? why : "(taken)");
	}
	char longest[WEBHOOK_URL_MAX + 2];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memcpy(longest, "https://x/", 10);
	assert_string_equal(notification_webhook_url_problem(longest), "must be at most 2048 bytes");
	longest[WEBHOOK_URL_MAX] = '\0';
	assert_null(notification_webhook_url_problem(longest));
}

static void test_signature_is_the_specifications_example(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	const char *body = "{\"test\": 2432232314}";
	char *sig = notification_webhook_sign(a, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	                                      "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
	                                      strlen(body));
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* Not a secret of ours: no signature rather than a wrong one. */
	assert_null(notification_webhook_sign(a, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "i", "1", "", 0));
	assert_null(notification_webhook_sign(a, "whsec_not base64!", "i", "1", "", 0));
	us_arena_free(a);
}

static void test_new_secrets_differ_and_sign(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char *s1 = notification_webhook_secret_new(a), *s2 = notification_webhook_secret_new(a);
	assert_int_equal(strncmp(s1, "whsec_", 6), 0);
	assert_int_equal(strlen(s1), 6 + 32); /* 24 bytes in base64 */
	assert_string_not_equal(s1, s2);
	assert_non_null(notification_webhook_sign(a, s1, "id", "1", "{}", 2));
	us_arena_free(a);
}

static void test_backoff_doubles_up_to_the_maximum(void **state)
{
	(void)state;
	assert_int_equal(notification_webhooks_backoff_ms(5000, 60000, 1), 5000);
	assert_int_equal(notification_webhooks_backoff_ms(5000, 60000, 2), 10000);
	assert_int_equal(notification_webhooks_backoff_ms(5000, 60000, 4), 40000);
	assert_int_equal(notification_webhooks_backoff_ms(5000, 60000, 5), 60000);
	assert_int_equal(notification_webhooks_backoff_ms(5000, 60000, 1000000), 60000);
}

/* text as a socket address (IPv6 when it has a colon). */
static bool is_public(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
	}
	return notification_address_is_public((const struct sockaddr *)&ss);
}

static void test_only_public_addresses_are_reachable(void **state)
{
	(void)state;
	const char *public[] = {"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0",
	                        "172.15.255.255", "172.32.0.0", "169.253.255.255", "192.0.1.1",
	                        "198.20.0.1", "223.255.255.255", "2001:4860:4860::8888",
	                        "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"};
	const char *private[] = {"0.0.0.0", "0.1.2.3", "10.0.0.7", "10.255.255.255",
	                         "100.64.0.1", "100.127.255.255", "127.0.0.1", "127.255.0.1",
	                         "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8",
	                         "192.168.1.1", "198.18.0.1", "198.19.255.255", "224.0.0.1",
	                         "239.1.2.3", "240.0.0.1", "255.255.255.255", "::", "::1",
	                         "::127.0.0.1", "fe80::1", "febf::1", "fec0::1", "fc00::1",
	                         "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
	                         "::ffff:169.254.169.254", "::ffff:10.1.2.3", "64:ff9b::a00:1",
	                         "64:ff9b::7f00:1"};
	for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++) {
		if (!is_public(public[i]))
			fail_msg("%s should be public", public[i]);
	}
	for (size_t i = 0; i < sizeof(private) / sizeof(private[0]); i++) {
		if (is_public(private[i]))
			fail_msg("%s should not be reachable", private[i]);
	}
	struct sockaddr_storage unix_addr = {.ss_family = AF_UNIX};
	assert_false(notification_address_is_public((const struct sockaddr *)&unix_addr));
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_only_public_addresses_are_reachable),
		cmocka_unit_test(test_signature_is_the_specifications_example),
		cmocka_unit_test(test_new_secrets_differ_and_sign),
		cmocka_unit_test(test_backoff_doubles_up_to_the_maximum),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
