/* Page tokens (common/page_token.c, for tenancyd's lists), which callers send back as
 * they got them, or not: the input is a token. Properties: a token that decodes is one
 * this version would write, canonically (encoding what it decoded gives it back byte for
 * byte), with a non-negative time and a well-formed lowercase UUID; and any position
 * encodes to a token that decodes to it. */
#include "fuzz.h"

#include "common/page_token.h"
#include "common/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = {data, size};
	char *token = fuzz_string(&in);
	us_page_cursor c;
	if (us_page_token_decode(token, &c)) {
		FUZZ_CHECK(c.created_us >= 0 && us_uuid_check(c.id) == NULL);
		char again[US_PAGE_TOKEN_LEN + 1];
		us_page_token_encode(&c, again);
		FUZZ_CHECK(strcmp(again, token) == 0);
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
	char token2[US_PAGE_TOKEN_LEN + 1];
	us_page_token_encode(&pos, token2);
	us_page_cursor back;
	FUZZ_CHECK(us_page_token_decode(token2, &back));
	FUZZ_CHECK(back.created_us == pos.created_us && strcmp(back.id, pos.id) == 0);
	return 0;
}
