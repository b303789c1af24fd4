/* The pieces of caller authentication on their own: the caller policy file, method
 * patterns, the replay cache, who may call what, a service principal's scope, and the MAC
 * keys callers and servers agree on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/caller_auth.h"
#include "common/callers.h"
#include "common/replay_cache.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define HEX_A "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
#define HEX_B "9f0c1e2d3b4a5968778695a4b3c2d1e0f00f1e2d3c4b5a69788796a5b4c3d2e1"

static void expect_error(const char *text, const char *wanted)
{
	us_callers *c = NULL;
	char err[256];
	assert_int_equal(us_callers_parse(text, "callers.conf", &c, err, sizeof(err)), US_EINVAL);
	assert_null(c);
	if (strstr(err, wanted) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", wanted, err);
}

static void test_policy_file_is_parsed_and_checked(void **state)
{
	(void)state;
	us_callers *c;
	char err[256];
	const char *text = "# comment\n"
	                   "\n"
	                   "usher-gatewayd " HEX_A " actor   # trailing comment\n"
	                   "reports\t" HEX_B "\tmethods=usher.v1.TenancyService/*,usher.v1.Health/Check\n";
	assert_int_equal(us_callers_parse(text, "callers.conf", &c, err, sizeof(err)), US_OK);
	assert_int_equal(us_callers_count(c), 2);
	uint8_t pk[32];
	assert_int_equal(us_public_key_parse(HEX_A, pk), 0);
	const us_caller_entry *e = us_callers_find(c, pk);
	assert_non_null(e);
	assert_string_equal(e->name, "usher-gatewayd");
	assert_int_equal(e->rights, US_RIGHT_ACTOR);
	assert_int_equal(e->n_methods, 0);
	assert_int_equal(us_public_key_parse(HEX_B, pk), 0);
	e = us_callers_find(c, pk);
	assert_int_equal(e->rights, 0);
	assert_int_equal(e->n_methods, 2);
	pk[0] ^= 1;
	assert_null(us_callers_find(c, pk));
	us_callers_free(c);

	/* Each mistake names its line. */
	expect_error("a " HEX_A "\n\nb " HEX_A "\n", "callers.conf:3: this public key is already listed");
	expect_error("a 1234\n", "callers.conf:1: the public key must be 64 hex digits");
	expect_error("a " HEX_A " admin\n", "callers.conf:1: unknown right");
	expect_error("a\n", "callers.conf:1: expected NAME PUBLIC_KEY");
	expect_error("bad/name " HEX_A "\n", "the name must be");
	expect_error("a " HEX_A " methods=nope\n", "must be \"*\"");
	expect_error("a " HEX_A " methods=a.B/*/x\n", "must be \"*\"");
	expect_error("a " HEX_A " methods=a.B/C methods=a.B/D\n", "methods= is given twice");
}

static void test_method_patterns(void **state)
{
	(void)state;
	char *patterns[] = {"usher.v1.TenancyService/*", "usher.v1.IdentityService/GetUser"};
	assert_true(us_methods_allow(patterns, 2, "usher.v1.TenancyService/Check"));
	assert_true(us_methods_allow(patterns, 2, "usher.v1.IdentityService/GetUser"));
	assert_false(us_methods_allow(patterns, 2, "usher.v1.IdentityService/GetUsers"));
	assert_false(us_methods_allow(patterns, 2, "usher.v1.TenancyServiceX/Check"));
	assert_false(us_methods_allow(patterns, 2, "usher.v1.InvitationService/Accept"));
	char *all[] = {"*"};
	assert_true(us_methods_allow(all, 1, "usher.v1.InvitationService/Accept"));
	assert_true(us_methods_allow(NULL, 0, "anything/At_all"));
}

static void id_of(int n, uint8_t id[US_REPLAY_ID_BYTES])
{
	crypto_generichash(id, US_REPLAY_ID_BYTES, (const uint8_t *)&n, sizeof(n), NULL, 0);
}

static void test_replay_cache_remembers_within_the_window_only(void **state)
{
	(void)state;
	us_replay_cache *c;
	assert_int_equal(us_replay_cache_new(60000, 1000, &c), US_OK);
	int64_t t = 1700000000000;
	uint8_t id[US_REPLAY_ID_BYTES];
	for (int i = 0; i < 500; i++) {
		id_of(i, id);
		assert_int_equal(us_replay_cache_check(c, id, t + i), US_REPLAY_NEW);
	}
	for (int i = 0; i < 500; i++) {
		id_of(i, id);
		assert_int_equal(us_replay_cache_check(c, id, t + i), US_REPLAY_SEEN);
	}
	assert_int_equal(us_replay_cache_size(c), 500);
	/* Full: refused rather than forgotten. */
	for (int i = 500; i < 1000; i++) {
		id_of(i, id);
		assert_int_equal(us_replay_cache_check(c, id, t + 1000), US_REPLAY_NEW);
	}
	id_of(1000, id);
	assert_int_equal(us_replay_cache_check(c, id, t + 1000), US_REPLAY_FULL);
	/* Ids of a second that left the window go when its bucket is taken again: with a 60 s
	 * window there are 125 buckets, so t + 125 s shares t's. */
	int64_t later = t + 1000 * 125;
	id_of(2000, id);
	assert_int_equal(us_replay_cache_check(c, id, later), US_REPLAY_NEW);
	assert_int_equal(us_replay_cache_size(c), 501);
	id_of(0, id);
	assert_int_equal(us_replay_cache_check(c, id, later), US_REPLAY_NEW);
	us_replay_cache_free(c);
}

static us_caller peer(unsigned rights)
{
	return (us_caller){.kind = US_CALLER_PEER, .name = "p", .id = "peer:p", .rights = rights};
}

static void test_rights_decide_what_a_peer_may_do(void **state)
{
	(void)state;
	char why[256];
	const char *m = "usher.v1.TenancyService/ListAccounts";
	us_caller plain = peer(0), gateway = peer(US_RIGHT_ACTOR), system = peer(US_RIGHT_SYSTEM),
	          operator = peer(US_RIGHT_ACTOR | US_RIGHT_SYSTEM | US_RIGHT_PRINCIPALS);
	assert_int_equal(us_auth_permit(&plain, m, 0, false, why, sizeof(why)), US_OK);
	assert_int_equal(us_auth_permit(&plain, m, 0, true, why, sizeof(why)), US_EDENIED);
	assert_int_equal(us_auth_permit(&gateway, m, 0, true, why, sizeof(why)), US_OK);
	assert_int_equal(us_auth_permit(&gateway, m, US_AUTH_NEEDS_SYSTEM, true, why, sizeof(why)),
	                 US_EDENIED);
	assert_non_null(strstr(why, "internal to Usher"));
	assert_int_equal(us_auth_permit(&system, m, US_AUTH_NEEDS_SYSTEM, false, why, sizeof(why)),
	                 US_OK);
	assert_int_equal(us_auth_permit(&system, m, US_AUTH_NEEDS_PRINCIPALS, false, why, sizeof(why)),
	                 US_EDENIED);
	assert_int_equal(us_auth_permit(&operator, m, US_AUTH_NEEDS_PRINCIPALS, true, why, sizeof(why)),
	                 US_OK);
	char *only_health[] = {"usher.v1.Health/*"};
	us_caller limited = peer(US_RIGHT_SYSTEM);
	limited.methods = only_health;
	limited.n_methods = 1;
	assert_int_equal(us_auth_permit(&limited, m, 0, false, why, sizeof(why)), US_EDENIED);
	assert_int_equal(us_auth_permit(&limited, "usher.v1.Health/Check", US_AUTH_OPEN, false, why,
	                                sizeof(why)),
	                 US_OK);
}

#define ACCOUNT_A "0b6b0a8e-1f0e-4d36-9a3e-6c2f2b7d4a11"
#define ACCOUNT_B "5f3c2a7e-8d41-4b6f-a0c9-2e7d9b1c3f22"

static void test_a_principal_stays_within_its_scope(void **state)
{
	(void)state;
	char why[256];
	char *accounts[] = {ACCOUNT_A};
	char *methods[] = {"usher.v1.InvitationService/CreateInvitations",
	                   "usher.v1.InvitationService/GetInvitation"};
	us_principal p = {.id = "7d1e8f7c-3a4b-4c5d-8e9f-0a1b2c3d4e5f", .name = "billing",
	                  .account_ids = accounts, .n_account_ids = 1, .methods = methods,
	                  .n_methods = 2, .max_role = USHER__V1__ROLE__ROLE_MEMBER};
	us_caller c = {.kind = US_CALLER_PRINCIPAL, .name = "billing", .id = "principal:x",
	               .principal = &p};
	const char *create = "usher.v1.InvitationService/CreateInvitations";
	/* Methods: its list, never an internal one, never for a person. */
	assert_int_equal(us_auth_permit(&c, create, 0, false, why, sizeof(why)), US_OK);
	assert_int_equal(us_auth_permit(&c, "usher.v1.InvitationService/Revoke", 0, false, why,
	                                sizeof(why)),
	                 US_EDENIED);
	assert_int_equal(us_auth_permit(&c, create, 0, true, why, sizeof(why)), US_EDENIED);
	assert_int_equal(us_auth_permit(&c, create, US_AUTH_NEEDS_SYSTEM, false, why, sizeof(why)),
	                 US_EDENIED);

	/* Accounts: the request's account_id must be one of its own. */
	Usher__V1__CreateInvitationsRequest in = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	in.account_id = ACCOUNT_A;
	in.role = USHER__V1__ROLE__ROLE_MEMBER;
	assert_int_equal(us_auth_permit_input(&c, &in.base, true, why, sizeof(why)), US_OK);
	in.account_id = ACCOUNT_B;
	assert_int_equal(us_auth_permit_input(&c, &in.base, true, why, sizeof(why)), US_EDENIED);
	assert_string_equal(why, "this key may not act in this account");
	/* A request naming no account is outside a list of accounts. */
	Usher__V1__InvitationRef ref = USHER__V1__INVITATION_REF__INIT;
	ref.invitation_id = ACCOUNT_A;
	assert_int_equal(us_auth_permit_input(&c, &ref.base, false, why, sizeof(why)), US_EDENIED);

	/* The role ceiling, on what it changes. */
	in.account_id = ACCOUNT_A;
	in.role = USHER__V1__ROLE__ROLE_ADMIN;
	assert_int_equal(us_auth_permit_input(&c, &in.base, true, why, sizeof(why)), US_EDENIED);
	assert_string_equal(why, "this key may invite or grant at most member");
	assert_int_equal(us_auth_permit_input(&c, &in.base, false, why, sizeof(why)), US_OK);

	/* All accounts: any account, and requests naming none. */
	p.all_accounts = true;
	in.account_id = ACCOUNT_B;
	in.role = USHER__V1__ROLE__ROLE_MEMBER;
	assert_int_equal(us_auth_permit_input(&c, &in.base, true, why, sizeof(why)), US_OK);
	assert_int_equal(us_auth_permit_input(&c, &ref.base, false, why, sizeof(why)), US_OK);

	/* Peers are not held to it. */
	us_caller gateway = peer(US_RIGHT_ACTOR);
	in.role = USHER__V1__ROLE__ROLE_OWNER;
	assert_int_equal(us_auth_permit_input(&gateway, &in.base, true, why, sizeof(why)), US_OK);
}

static void test_reload_takes_a_new_policy_and_keeps_the_old_on_error(void **state)
{
	(void)state;
	char path[] = "/tmp/ut-callers-reload-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "a %s\n", HEX_A);
	fclose(f);
	us_auth_opts opts = {.callers_file = path, .window_ms = 60000, .replay_max = 100};
	us_auth *auth;
	char err[256];
	assert_int_equal(us_auth_new(&opts, &auth, err, sizeof(err)), US_OK);
	assert_int_equal(us_auth_caller_count(auth), 1);
	f = fopen(path, "a");
	fprintf(f, "b %s system\n", HEX_B);
	fclose(f);
	assert_int_equal(us_auth_reload(auth, err, sizeof(err)), US_OK);
	assert_int_equal(us_auth_caller_count(auth), 2);
	f = fopen(path, "a");
	fprintf(f, "c nonsense\n");
	fclose(f);
	assert_int_equal(us_auth_reload(auth, err, sizeof(err)), US_EINVAL);
	assert_non_null(strstr(err, ":3: "));
	assert_int_equal(us_auth_caller_count(auth), 2);
	us_auth_free(auth);
	unlink(path);
}

/* Caller and server derive the same MAC key, each from its own secret and the other's
 * public key; another caller or another server gets another key; the key is directional
 * (a server calling back its caller uses another); an invalid point gives none. MACs
 * verify only under their key and over their bytes. */
static void test_mac_keys_are_agreed_per_caller_and_server(void **state)
{
	(void)state;
	us_caller_key caller, server, other;
	char secret[US_CALLER_SECRET_TEXT_LEN + 1];
	us_caller_key_generate(&caller, secret);
	us_caller_key_generate(&server, secret);
	us_caller_key_generate(&other, secret);
	uint8_t k_client[US_MAC_KEY_BYTES], k_server[US_MAC_KEY_BYTES], k[US_MAC_KEY_BYTES];
	assert_int_equal(us_mac_key_for_server(&caller, server.public_key, k_client), 0);
	assert_int_equal(us_mac_key_for_caller(&server, caller.public_key, k_server), 0);
	assert_memory_equal(k_client, k_server, US_MAC_KEY_BYTES);
	assert_int_equal(us_mac_key_for_server(&other, server.public_key, k), 0);
	assert_memory_not_equal(k, k_server, US_MAC_KEY_BYTES);
	assert_int_equal(us_mac_key_for_server(&caller, other.public_key, k), 0);
	assert_memory_not_equal(k, k_client, US_MAC_KEY_BYTES);
	assert_int_equal(us_mac_key_for_server(&server, caller.public_key, k), 0);
	assert_memory_not_equal(k, k_client, US_MAC_KEY_BYTES);

	/* A y coordinate of 2 is no point of the curve. */
	uint8_t not_a_point[US_PUBLIC_KEY_BYTES] = {2};
	assert_int_equal(us_mac_key_for_server(&caller, not_a_point, k), -1);
	assert_int_equal(us_mac_key_for_caller(&server, not_a_point, k), -1);

	const uint8_t msg[] = "a packed RpcRequest";
	uint8_t digest[US_REQUEST_DIGEST_BYTES], mac[US_MAC_BYTES];
	us_request_digest(msg, sizeof(msg), digest);
	us_request_mac(k_client, digest, mac);
	assert_true(us_request_mac_verify(k_server, msg, sizeof(msg), mac));
	assert_false(us_request_mac_verify(k_server, msg, sizeof(msg) - 1, mac));
	mac[US_MAC_BYTES - 1] ^= 1;
	assert_false(us_request_mac_verify(k_server, msg, sizeof(msg), mac));
	mac[US_MAC_BYTES - 1] ^= 1;
	us_request_mac(k, digest, mac);
	assert_false(us_request_mac_verify(k_server, msg, sizeof(msg), mac));
	us_caller_key_wipe(&caller);
	us_caller_key_wipe(&server);
	us_caller_key_wipe(&other);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_file_is_parsed_and_checked),
		cmocka_unit_test(test_method_patterns),
		cmocka_unit_test(test_replay_cache_remembers_within_the_window_only),
		cmocka_unit_test(test_rights_decide_what_a_peer_may_do),
		cmocka_unit_test(test_a_principal_stays_within_its_scope),
		cmocka_unit_test(test_reload_takes_a_new_policy_and_keeps_the_old_on_error),
		cmocka_unit_test(test_mac_keys_are_agreed_per_caller_and_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
