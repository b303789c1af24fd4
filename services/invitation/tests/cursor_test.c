/* ListInvitations' page tokens (cursor.c): a position comes back exactly from its own
 * list's token, and from nothing else: not another account's or filter's list, not another
 * key, not an altered, truncated, padded or old-format token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"

static const uint8_t key[INVITATION_CURSOR_KEY_BYTES] = {1, 2, 3};
static const invitation_cursor_scope list_a = {"0b9a3b4c-0000-4000-8000-00000000000a", 1, "", ""};
static const us_page_cursor at = {1764339999123456, "7f0e1d2c-3b4a-4596-a7b8-c9d0e1f2a3b4"};

static void test_position_round_trips(void **state)
{
	(void)state;
	char token[INVITATION_CURSOR_LEN + 1];
	invitation_cursor_encode(key, &list_a, &at, token);
	assert_int_equal(strlen(token), INVITATION_CURSOR_LEN);
	us_page_cursor back;
	assert_true(invitation_cursor_decode(key, &list_a, token, &back));
	assert_true(back.created_us == at.created_us);
	assert_string_equal(back.id, at.id);
}

static void test_token_is_bound_to_its_list_and_key(void **state)
{
	(void)state;
	char token[INVITATION_CURSOR_LEN + 1];
	invitation_cursor_encode(key, &list_a, &at, token);
	us_page_cursor back;
	invitation_cursor_scope other = list_a;
	other.account_id = "0b9a3b4c-0000-4000-8000-00000000000b";
	assert_false(invitation_cursor_decode(key, &other, token, &back));
	other = list_a;
	other.state = 0;
	assert_false(invitation_cursor_decode(key, &other, token, &back));
	other = list_a;
	other.email_contains = "a";
	assert_false(invitation_cursor_decode(key, &other, token, &back));
	other = list_a;
	other.subaccount_id = "0b9a3b4c-0000-4000-8000-00000000000c";
	assert_false(invitation_cursor_decode(key, &other, token, &back));
	/* Fields end where they end: "ab" + "" is not "a" + "b". */
	invitation_cursor_scope ab = {list_a.account_id, 1, "ab", ""}, a_b = {list_a.account_id, 1, "a", "b"};
	invitation_cursor_encode(key, &ab, &at, token);
	assert_false(invitation_cursor_decode(key, &a_b, token, &back));
	static const uint8_t other_key[INVITATION_CURSOR_KEY_BYTES] = {9};
	invitation_cursor_encode(key, &list_a, &at, token);
	assert_false(invitation_cursor_decode(other_key, &list_a, token, &back));
}

static void test_altered_tokens_are_refused(void **state)
{
	(void)state;
	char token[INVITATION_CURSOR_LEN + 1];
	invitation_cursor_encode(key, &list_a, &at, token);
	us_page_cursor back;
	for (size_t i = 0; i < INVITATION_CURSOR_LEN; i++) {
		char altered[INVITATION_CURSOR_LEN + 1];
		memcpy(altered, token, sizeof(altered));
		altered[i] = altered[i] == 'A' ? 'B' : 'A';
		assert_false(invitation_cursor_decode(key, &list_a, altered, &back));
	}
	char longer[INVITATION_CURSOR_LEN + 2];
	memcpy(longer, token, INVITATION_CURSOR_LEN);
	longer[INVITATION_CURSOR_LEN] = 'A';
	longer[INVITATION_CURSOR_LEN + 1] = '\0';
	assert_false(invitation_cursor_decode(key, &list_a, longer, &back));
	token[INVITATION_CURSOR_LEN - 1] = '\0';
	assert_false(invitation_cursor_decode(key, &list_a, token, &back));
	assert_false(invitation_cursor_decode(key, &list_a, "", &back));
	/* The untagged format of common/page_token.c. */
	char old[US_PAGE_TOKEN_LEN + 1];
	us_page_token_encode(&at, old);
	assert_false(invitation_cursor_decode(key, &list_a, old, &back));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_position_round_trips),
		cmocka_unit_test(test_token_is_bound_to_its_list_and_key),
		cmocka_unit_test(test_altered_tokens_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
