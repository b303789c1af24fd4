/* The body of a CSV upload to usher-gatewayd (services/gateway/upload_body.c and its
 * multipart/form-data reader): the input is a Content-Type line, then a seed byte, then
 * the body, read once whole and once in pieces of 1 to 64 bytes, as the network cuts it.
 * Properties: a Content-Type is refused with a reason or accepted; both readings agree on
 * the outcome, the error, every option and every row; options stay within their bound and
 * hold no NUL; never more rows than allowed. */
#include "fuzz.h"

#include "upload_body.h"

#define MAX_ROWS 64

typedef struct reading {
	gateway_upload_body *body;
	us_err rc;
} reading;

static reading read_body(const char *content_type, const uint8_t *data, size_t size,
                         uint32_t seed)
{
	reading r;
	char err[200];
	us_err rc = gateway_upload_body_new(content_type, MAX_ROWS, &r.body, err, sizeof(err));
	FUZZ_CHECK(rc == US_OK || (rc == US_EINVAL && err[0] != '\0'));
	if (rc != US_OK) {
		r.body = NULL;
		r.rc = rc;
		return r;
	}
	r.rc = US_OK;
	for (size_t off = 0; off < size && r.rc == US_OK;) {
		size_t n = seed == 0 ? size : fuzz_piece(&seed);
		if (n > size - off)
			n = size - off;
		r.rc = gateway_upload_body_feed(r.body, (const char *)data + off, n);
		off += n;
	}
	if (r.rc == US_OK)
		r.rc = gateway_upload_body_finish(r.body);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *newline = memchr(data, '\n', size);
	if (newline == NULL)
		return 0;
	size_t ct_len = (size_t)(newline - data);
	char *content_type = malloc(ct_len + 1);
	FUZZ_CHECK(content_type != NULL);
	memcpy(content_type, data, ct_len);
	content_type[ct_len] = '\0';
	fuzz_input in = {newline + 1, size - ct_len - 1};
	uint32_t seed = (uint32_t)fuzz_byte(&in) + 1;

	reading whole = read_body(content_type, in.data, in.size, 0);
	reading pieces = read_body(content_type, in.data, in.size, seed);
	FUZZ_CHECK(whole.rc == pieces.rc);
	if (whole.body != NULL) {
		FUZZ_CHECK(whole.rc == US_OK || whole.rc == US_EINVAL);
		FUZZ_CHECK(strcmp(gateway_upload_body_error(whole.body),
		                  gateway_upload_body_error(pieces.body)) == 0);
		FUZZ_CHECK((whole.rc == US_OK) == (gateway_upload_body_error(whole.body)[0] == '\0'));
		if (whole.rc == US_OK) {
			/* (After a failure the options mean nothing: the request is refused.) */
			for (int i = 0; i < GATEWAY_UPLOAD_N_OPTIONS; i++) {
				const char *a = gateway_upload_body_option(whole.body, i);
				const char *b = gateway_upload_body_option(pieces.body, i);
				FUZZ_CHECK((a == NULL) == (b == NULL));
				FUZZ_CHECK(a == NULL ||
				           (strcmp(a, b) == 0 && strlen(a) <= GATEWAY_UPLOAD_OPTION_MAX));
			}
			size_t n, n2;
			const us_email_csv_row *rows = gateway_upload_body_rows(whole.body, &n);
			const us_email_csv_row *rows2 = gateway_upload_body_rows(pieces.body, &n2);
			FUZZ_CHECK(n == n2 && n <= MAX_ROWS);
			for (size_t i = 0; i < n; i++) {
				FUZZ_CHECK(rows[i].row == rows2[i].row);
				FUZZ_CHECK((rows[i].email == NULL) == (rows2[i].email == NULL));
				FUZZ_CHECK(rows[i].email == NULL || strcmp(rows[i].email, rows2[i].email) == 0);
			}
		}
	}
	gateway_upload_body_free(whole.body);
	gateway_upload_body_free(pieces.body);
	free(content_type);
	return 0;
}
