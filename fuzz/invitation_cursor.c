/* ListInvitations' page tokens (services/invitation/cursor.c), which callers send back as
 * they got them, or not: the input is a token, read under a fixed key and list. Properties:
 * a token that decodes is canonical (encoding what it decoded gives it back byte for byte)
 * with a non-negative time and a lowercase UUID-shaped id; a refused token leaves the
 * output untouched; and any position encodes to a token that decodes to it. */
#include "fuzz.h"

#include "cursor.h"

/* The same key and list as fuzz/make_seeds.py's seeds, so its valid tokens decode. */
static const uint8_t key[INVITATION_CURSOR_KEY_BYTES] = {1, 2, 3};
static const invitation_cursor_scope list = {"0b4c6a3e-5d1f-4e8a-9c2b-7f6e5d4c3b2a", 1, "ann",
                                             ""};

static bool uuid_shaped(const char *id)
{
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? id[i] != '-' : strchr("0123456789abcdef", id[i]) == NULL || id[i] == '\0')
			return false;
	}
	return id[36] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = {data, size};
	char *token = fuzz_string(&in);
	us_page_cursor c, untouched;
	memset(&c, 0x5a, sizeof(c));
	memcpy(&untouched, &c, sizeof(c));
	if (invitation_cursor_decode(key, &list, token, &c)) {
		FUZZ_CHECK(c.created_us >= 0 && uuid_shaped(c.id));
		char again[INVITATION_CURSOR_LEN + 1];
		invitation_cursor_encode(key, &list, &c, again);
		FUZZ_CHECK(strcmp(again, token) == 0);
	} else {
		FUZZ_CHECK(memcmp(&c, &untouched, sizeof(c)) == 0);
	}
	free(token);

	/* The other way round: a position from the rest of the input. */
	us_page_cursor pos = {0};
	uint64_t us = 0;
	for (int i = 0; i < 8; i++)
		us = us << 8 | fuzz_byte(&in);
	pos.created_us = (int64_t)(us & INT64_MAX);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		pos.id[i] = dash ? '-' : hex[fuzz_byte(&in) & 15];
	}
	pos.id[36] = '\0';
	char token2[INVITATION_CURSOR_LEN + 1];
	invitation_cursor_encode(key, &list, &pos, token2);
	us_page_cursor back;
	FUZZ_CHECK(invitation_cursor_decode(key, &list, token2, &back));
	FUZZ_CHECK(back.created_us == pos.created_us && strcmp(back.id, pos.id) == 0);
	return 0;
}
