/* The checks of outside text every service applies (common/validate.c): email addresses
 * (normalised, then checked), phone numbers, UUIDs, names and UTF-8. The input is the
 * text, up to its first NUL for the C-string checks. Properties: normalising twice
 * changes nothing; an accepted address has one '@', at most 254 bytes, a 1-64 byte local
 * part and a dotted domain, and nothing that could break out of a header or a quoted
 * string; accepted phones, UUIDs and names have their documented shape; us_utf8_valid()
 * agrees with an independent reading of Unicode's table of well-formed byte sequences. */
#include "fuzz.h"

#include "common/validate.h"

/* Unicode 15, table 3-7: the well-formed UTF-8 byte sequences, read as ranges. */
static bool reference_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = s[i];
		uint8_t lo = 0x80, hi = 0xbf; /* the second byte's range */
		size_t n;
		if (b <= 0x7f) {
			i++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf) {
			n = 2;
		} else if (b == 0xe0) {
			n = 3, lo = 0xa0;
		} else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
			n = 3;
		} else if (b == 0xed) {
			n = 3, hi = 0x9f;
		} else if (b == 0xf0) {
			n = 4, lo = 0x90;
		} else if (b >= 0xf1 && b <= 0xf3) {
			n = 4;
		} else if (b == 0xf4) {
			n = 4, hi = 0x8f;
		} else {
			return false;
		}
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < n; k++) {
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		}
		i += n;
	}
	return true;
}

static void check_email(const char *text)
{
	char normal[512], twice[512];
	if (us_email_normalize(text, normal, sizeof(normal)) != 0) {
		FUZZ_CHECK(strlen(text) >= sizeof(normal) - 1);
		return;
	}
	FUZZ_CHECK(us_email_normalize(normal, twice, sizeof(twice)) == 0);
	FUZZ_CHECK(strcmp(normal, twice) == 0);
	if (us_email_check(normal) != NULL)
		return;
	size_t len = strlen(normal);
	FUZZ_CHECK(len >= 3 && len <= US_EMAIL_MAX);
	const char *at = strchr(normal, '@');
	FUZZ_CHECK(at != NULL && strchr(at + 1, '@') == NULL);
	FUZZ_CHECK(at - normal >= 1 && at - normal <= US_EMAIL_LOCAL_MAX);
	const char *domain = us_email_domain(normal);
	FUZZ_CHECK(domain == at + 1 && strchr(domain, '.') != NULL);
	for (const char *p = normal; *p; p++) {
		unsigned char c = (unsigned char)*p;
		FUZZ_CHECK(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
		FUZZ_CHECK(strchr("<>\"\\,;:()[] ", c) == NULL);
	}
}

static void check_others(const char *text)
{
	size_t len = strlen(text);
	if (us_phone_check(text) == NULL) {
		FUZZ_CHECK(text[0] == '+' && len >= 9 && len <= 16 && text[1] != '0');
		FUZZ_CHECK(strspn(text + 1, "0123456789") == len - 1);
	}
	if (us_uuid_check(text) == NULL) {
		FUZZ_CHECK(len == US_UUID_LEN);
		FUZZ_CHECK(strspn(text, "0123456789abcdef-") == len);
		FUZZ_CHECK(text[8] == '-' && text[13] == '-' && text[18] == '-' && text[23] == '-');
	}
	if (us_name_check(text, 200) == NULL) {
		FUZZ_CHECK(len >= 1 && len <= 200 && reference_utf8((const uint8_t *)text, len));
		for (const unsigned char *p = (const unsigned char *)text; *p; p++)
			FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
		FUZZ_CHECK(strspn(text, " \t\n\v\f\r") < len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CHECK((us_utf8_valid((const char *)data, size) != 0) == reference_utf8(data, size));
	fuzz_input in = {data, size};
	char *text = fuzz_string(&in);
	check_email(text);
	check_others(text);
	free(text);
	return 0;
}
