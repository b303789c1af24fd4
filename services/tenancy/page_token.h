/* ListMembers' page tokens: a position in its order, opaque to callers (base64url of a
 * version byte, the created_at microseconds and the membership id), so the order can
 * change without breaking them silently. */
#ifndef TENANCY_PAGE_TOKEN_H
#define TENANCY_PAGE_TOKEN_H

#include <stdbool.h>

#include "store.h"

#define TENANCY_PAGE_TOKEN_LEN 34

/* Writes the token of position c into out (TENANCY_PAGE_TOKEN_LEN characters and a NUL). */
void tenancy_page_token_encode(const store_cursor *c, char out[TENANCY_PAGE_TOKEN_LEN + 1]);

/* Reads a token; false when it is not one this version wrote. */
bool tenancy_page_token_decode(const char *token, store_cursor *out);

#endif
