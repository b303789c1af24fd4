/* The secret tokens usher-identityd issues (sessions, email-change and password-reset
 * links): the text goes to its holder once; only its hash keyed with IDENTITY_TOKEN_KEY
 * is stored, and a token presented later is looked up by that hash (identity_token_arg()
 * in input.h). */
#ifndef IDENTITY_TOKENS_H
#define IDENTITY_TOKENS_H

#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/token.h"

/* A new token: *text (US_TOKEN_TEXT_LEN characters, in a) and its keyed hash. */
US_MUST_USE us_err identity_token_issue(const uint8_t key[US_TOKEN_KEY_BYTES], us_arena *a,
                                        char **text, uint8_t hash[US_TOKEN_HASH_BYTES]);

#endif
