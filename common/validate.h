/* Checks of outside input shared by the services: email addresses, phone numbers, ids.
 * Each check returns NULL when the value is fine, or a short reason for a violation
 * ("must be an email address"). */
#ifndef US_VALIDATE_H
#define US_VALIDATE_H

#include <stddef.h>

#define US_EMAIL_MAX 254      /* RFC 5321 path limit less the angle brackets */
#define US_EMAIL_LOCAL_MAX 64
#define US_UUID_LEN 36

/* Normalises an email address for comparison: trims surrounding white space and
 * lowercases ASCII. Writes at most size bytes (NUL included); returns 0, or -1 when the
 * result does not fit. */
int us_email_normalize(const char *in, char *out, size_t size);

/* Practical RFC 5321 syntax for a normalised address: one "@", a local part of 1-64
 * dot-atom characters (no leading, trailing or double dots), a domain of at least two
 * LDH labels of 1-63 characters with an alphabetic top-level label, 254 bytes in all,
 * and no '<', '>', spaces, quotes or control characters. */
const char *us_email_check(const char *email);

/* The domain part of an address (after the last '@'), or "" when there is none. */
const char *us_email_domain(const char *email);

/* E.164: '+', then 8 to 15 digits, the first not 0. */
const char *us_phone_check(const char *phone);

/* A canonical lowercase UUID, 8-4-4-4-12 hex digits. */
const char *us_uuid_check(const char *id);

/* A human-entered name: 1 to max bytes of valid UTF-8 with no control characters and not
 * only white space. */
const char *us_name_check(const char *name, size_t max);

/* A new password: US_PASSWORD_MIN_BYTES to US_PASSWORD_MAX_BYTES (limits.h), worded as
 * identityd, which owns the rule, words it. */
const char *us_password_check(const char *password);

/* Valid UTF-8 (no overlongs, no surrogates). */
int us_utf8_valid(const char *s, size_t len);

/* Only base64 characters (either alphabet) and '='. Outside text is checked with this
 * before sodium_base642bin(): libsodium 1.0.18 (Debian 12) reads every byte from 0x80 up
 * as the alphabet's last digit, so a token would have countless spellings. */
int us_base64_chars(const char *s, size_t len);

#endif
