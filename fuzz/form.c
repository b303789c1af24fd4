/* The invitee's HTML forms as the gateway reads them (application/x-www-form-urlencoded,
 * services/gateway/form.c): the input is a field name, a NUL, then a body. Properties:
 * a field is absent (""), refused (a cut escape, an escaped NUL, too long) or decoded to
 * at most 1024 bytes without a NUL; and any value, percent-encoded as a browser would
 * (spaces as '+' or "%20"), among other fields, decodes back to itself. */
#include "fuzz.h"

#include "common/arena.h"
#include "form.h"

static const char hex[] = "0123456789ABCDEF";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = {data, size};
	char *name = fuzz_string(&in);
	char *body = fuzz_string(&in);
	us_arena *a = us_arena_new();
	FUZZ_CHECK(a != NULL);
	char *v = gateway_form_value(a, body, name);
	if (v != NULL)
		FUZZ_CHECK(strlen(v) <= GATEWAY_FORM_FIELD_MAX);

	/* The other way round: the body as the value, encoded under a plain name. */
	size_t len = strlen(body);
	if (len >= 1 && len <= GATEWAY_FORM_FIELD_MAX) {
		char *form = malloc(3 * len + 32);
		FUZZ_CHECK(form != NULL);
		size_t n = (size_t)sprintf(form, "a=1&field=");
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)body[i];
			bool plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
			if (plain) {
				form[n++] = (char)c;
			} else if (c == ' ' && i % 2 == 0) {
				form[n++] = '+';
			} else {
				form[n++] = '%';
				form[n++] = hex[c >> 4];
				form[n++] = (char)(i % 3 == 0 ? hex[c & 15] | 0x20 : hex[c & 15]); /* any case */
			}
		}
		sprintf(form + n, "&field=second");
		char *back = gateway_form_value(a, form, "field");
		FUZZ_CHECK(back != NULL && strcmp(back, body) == 0);
		free(form);
	}
	us_arena_free(a);
	free(name);
	free(body);
	return 0;
}
