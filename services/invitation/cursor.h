/* ListInvitations' page tokens: a keyset position (created_at and id of the last row shown)
 * bound to the list it came from. The token carries a keyed BLAKE2b tag over the position,
 * the account and the filters, so a token that was altered, made up, or taken from another
 * account's list (or another filter of the same account) is refused as INVALID_ARGUMENT
 * instead of silently paging somewhere else. The store filters by account as well: a
 * position alone can never reach another account's rows.
 *
 * base64url (no padding) of a version byte, the microseconds (8 bytes, big-endian), the
 * id's 16 bytes and a 16-byte tag: 55 characters. */
#ifndef INVITATION_CURSOR_H
#define INVITATION_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "common/page_token.h"

#define INVITATION_CURSOR_LEN 55
#define INVITATION_CURSOR_KEY_BYTES 32

/* What a list's tokens are bound to; every string borrowed, "" when not filtered. */
typedef struct invitation_cursor_scope {
	const char *account_id;
	int state;
	const char *email_contains;
	const char *subaccount_id;
} invitation_cursor_scope;

/* Writes the token of position c (created_us >= 0, id a UUID) in list s into out. */
void invitation_cursor_encode(const uint8_t key[INVITATION_CURSOR_KEY_BYTES],
                              const invitation_cursor_scope *s, const us_page_cursor *c,
                              char out[INVITATION_CURSOR_LEN + 1]);

/* Reads a token of list s into *out; false (and *out untouched) when it is not one
 * invitation_cursor_encode() wrote with this key for this list. */
bool invitation_cursor_decode(const uint8_t key[INVITATION_CURSOR_KEY_BYTES],
                              const invitation_cursor_scope *s, const char *token,
                              us_page_cursor *out);

#endif
