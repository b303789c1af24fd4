#include "common/validate.h"

#include <string.h>

#include "common/limits.h"

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

int us_email_normalize(const char *in, char *out, size_t size)
{
	const char *start = in;
	while (*start && is_space((unsigned char)*start))
		start++;
	size_t len = strlen(start);
	while (len > 0 && is_space((unsigned char)start[len - 1]))
		len--;
	if (len + 1 > size)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)start[i];
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[len] = '\0';
	return 0;
}

/* RFC 5322 atext, the characters of a dot-atom besides the dots. */
static int is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static const char *check_local(const char *s, size_t len)
{
	if (len == 0)
		return "must have a name before the @";
	if (len > US_EMAIL_LOCAL_MAX)
		return "has a part before the @ longer than 64 characters";
	if (s[0] == '.' || s[len - 1] == '.')
		return "must not start or end the part before the @ with a dot";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.')
				return "must not contain two dots in a row";
			continue;
		}
		if (!is_atext(c))
			return "contains a character not allowed in an email address";
	}
	return NULL;
}

static const char *check_domain(const char *s, size_t len)
{
	if (len == 0)
		return "must have a domain after the @";
	if (len > 253)
		return "has a domain longer than 253 characters";
	size_t labels = 0, label_len = 0;
	const char *label = s;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (label_len == 0)
				return "has an empty label in its domain";
			if (label_len > 63)
				return "has a domain label longer than 63 characters";
			if (label[0] == '-' || label[label_len - 1] == '-')
				return "has a domain label starting or ending with a hyphen";
			labels++;
			label = s + i + 1;
			label_len = 0;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-')
			return "contains a character not allowed in a domain";
		label_len++;
	}
	if (labels < 2)
		return "must have a domain with a dot, like example.com";
	/* The top-level label: letters only (no numeric TLDs, no IP literals). */
	const char *tld = strrchr(s, '.') + 1;
	for (const char *p = tld; p < s + len; p++) {
		if (!is_alpha((unsigned char)*p))
			return "must end in a top-level domain of letters";
	}
	if (s + len - tld < 2)
		return "must end in a top-level domain of letters";
	return NULL;
}

const char *us_email_check(const char *email)
{
	size_t len = strlen(email);
	if (len == 0)
		return "must not be empty";
	if (len > US_EMAIL_MAX)
		return "must be at most 254 characters";
	if (strchr(email, '<') != NULL || strchr(email, '>') != NULL)
		return "must not contain < or >";
	const char *at = strchr(email, '@');
	if (at == NULL)
		return "must contain an @";
	if (strchr(at + 1, '@') != NULL)
		return "must contain exactly one @";
	const char *why = check_local(email, (size_t)(at - email));
	if (why == NULL)
		why = check_domain(at + 1, len - (size_t)(at - email) - 1);
	return why;
}

const char *us_email_domain(const char *email)
{
	const char *at = strrchr(email, '@');
	return at != NULL ? at + 1 : "";
}

const char *us_phone_check(const char *phone)
{
	if (phone[0] != '+')
		return "must be in E.164 form, like +14155550123";
	size_t digits = strlen(phone + 1);
	if (digits < 8 || digits > 15 || phone[1] == '0')
		return "must be in E.164 form, like +14155550123";
	for (const char *p = phone + 1; *p; p++) {
		if (!is_digit((unsigned char)*p))
			return "must be in E.164 form, like +14155550123";
	}
	return NULL;
}

const char *us_uuid_check(const char *id)
{
	if (strlen(id) != US_UUID_LEN)
		return "must be a UUID";
	for (size_t i = 0; i < US_UUID_LEN; i++) {
		char c = id[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return "must be a UUID";
		} else if (!is_digit((unsigned char)c) && !(c >= 'a' && c <= 'f')) {
			return "must be a UUID";
		}
	}
	return NULL;
}

int us_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned char c = *p;
		size_t n;
		unsigned min;
		unsigned cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return 0;
		}
		if ((size_t)(end - p) < n + 1)
			return 0;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

int us_base64_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '+' && c != '/' &&
		    c != '=')
			return 0;
	}
	return 1;
}

const char *us_name_check(const char *name, size_t max)
{
	size_t len = strlen(name);
	if (len == 0)
		return "must not be empty";
	if (len > max)
		return "is too long";
	if (!us_utf8_valid(name, len))
		return "must be valid UTF-8";
	int visible = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "must not contain control characters";
		if (!is_space(*p))
			visible = 1;
	}
	return visible ? NULL : "must not be only spaces";
}

const char *us_password_check(const char *password)
{
	size_t len = strlen(password);
	if (len == 0)
		return "must not be empty";
	if (len < US_PASSWORD_MIN_BYTES)
		return "must be at least " US_LIMIT_TEXT(US_PASSWORD_MIN_BYTES) " characters";
	if (len > US_PASSWORD_MAX_BYTES)
		return "must be at most " US_LIMIT_TEXT(US_PASSWORD_MAX_BYTES) " bytes";
	return NULL;
}
