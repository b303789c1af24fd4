#include "tokens.h"

us_err identity_token_issue(const uint8_t key[US_TOKEN_KEY_BYTES], us_arena *a, char **text,
                            uint8_t hash[US_TOKEN_HASH_BYTES])
{
	char *token = us_arena_alloc(a, US_TOKEN_TEXT_LEN + 1);
	if (token == NULL)
		return US_EEXHAUSTED;
	us_token_new(token);
	if (us_token_hash(token, key, hash) != US_OK)
		return US_EINTERNAL;
	*text = token;
	return US_OK;
}
