/* TRUSTED_PROXIES: who the client is behind reverse proxies, and what a client cannot
 * make the gateway believe (issue 11, hole 14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "proxies.h"

static void expect_client(const char *trusted, const char *peer, const char *xff,
                          const char *want)
{
	gateway_proxies p;
	assert_null(gateway_proxies_parse(trusted, &p));
	char out[GATEWAY_ADDRESS_TEXT_MAX];
	gateway_proxies_client(&p, peer, xff, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("trusted \"%s\", peer %s, X-Forwarded-For \"%s\": expected %s, got %s",
		         trusted ? trusted : "(none)", peer, xff ? xff : "(none)", want, out);
}

static void test_without_trusted_proxies_the_peer_is_the_client(void **state)
{
	(void)state;
	expect_client(NULL, "198.51.100.7", "203.0.113.9", "198.51.100.7");
	expect_client("", "198.51.100.7", NULL, "198.51.100.7");
}

static void test_only_a_trusted_peer_is_believed(void **state)
{
	(void)state;
	/* A client that is not a proxy writes what it likes: ignored. */
	expect_client("10.0.0.0/8", "198.51.100.7", "203.0.113.9", "198.51.100.7");
	/* Behind a trusted proxy, the address it appended. */
	expect_client("10.0.0.0/8", "10.1.2.3", "203.0.113.9", "203.0.113.9");
	/* A client's own X-Forwarded-For stays left of what the proxy appended. */
	expect_client("10.0.0.0/8", "10.1.2.3", "1.2.3.4, 203.0.113.9", "203.0.113.9");
	/* Two trusted hops. */
	expect_client("10.0.0.0/8, 192.0.2.1", "10.1.2.3", "203.0.113.9, 192.0.2.1", "203.0.113.9");
	/* Every hop trusted: the leftmost. */
	expect_client("10.0.0.0/8", "10.1.2.3", "10.9.9.9", "10.9.9.9");
	/* A malformed entry ends the walk at the last good hop. */
	expect_client("10.0.0.0/8", "10.1.2.3", "203.0.113.9, not-an-address", "10.1.2.3");
	expect_client("10.0.0.0/8", "10.1.2.3", "garbage, 10.7.7.7", "10.7.7.7");
	/* IPv6 networks. */
	expect_client("2001:db8::/32", "2001:db8::1", "2001:db8:ffff::2, 2a00:1450::5",
	              "2a00:1450::5");
	expect_client("2001:db8::/32", "2001:db9::1", "2a00:1450::5", "2001:db9::1");
	/* A prefix that is not on a byte boundary. */
	expect_client("10.1.2.0/23", "10.1.3.200", "203.0.113.9", "203.0.113.9");
	expect_client("10.1.2.0/23", "10.1.4.1", "203.0.113.9", "10.1.4.1");
}

static void test_malformed_settings_are_refused(void **state)
{
	(void)state;
	gateway_proxies p;
	assert_non_null(gateway_proxies_parse("10.0.0.0/33", &p));
	assert_non_null(gateway_proxies_parse("proxy.example", &p));
	assert_non_null(gateway_proxies_parse("10.0.0.1/", &p));
	assert_non_null(gateway_proxies_parse("::1/129", &p));
	assert_null(gateway_proxies_parse(" 127.0.0.1 , ::1 ", &p));
	assert_int_equal(p.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_without_trusted_proxies_the_peer_is_the_client),
		cmocka_unit_test(test_only_a_trusted_peer_is_believed),
		cmocka_unit_test(test_malformed_settings_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
