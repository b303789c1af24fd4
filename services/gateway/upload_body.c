#include "upload_body.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "multipart.h"

const char *const gateway_upload_body_option_names[GATEWAY_UPLOAD_N_OPTIONS] = {
	"role", "subaccount", "products", "dry_run", "format", "csrf_token"};

struct gateway_upload_body {
	us_email_csv *csv;
	gateway_multipart *form; /* NULL: the body is the CSV */
	int part_option;    /* the option the current part holds, or -1 */
	bool in_file, saw_file;
	bool given[GATEWAY_UPLOAD_N_OPTIONS];
	char options[GATEWAY_UPLOAD_N_OPTIONS][GATEWAY_UPLOAD_OPTION_MAX + 1];
	size_t option_len;
	us_err failure;
	char error[200];
};

static us_err fail(gateway_upload_body *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static us_err fail(gateway_upload_body *b, const char *fmt, ...)
{
	if (b->failure == US_OK) {
		b->failure = US_EINVAL;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->error, sizeof(b->error), fmt, ap);
		va_end(ap);
	}
	return b->failure;
}

/* A piece of the form: the file goes to the CSV reader, options are kept, other fields
 * are skipped. */
static bool on_form_data(void *ctx, const char *name, const char *filename, const char *data,
                         size_t len)
{
	(void)filename;
	gateway_upload_body *b = ctx;
	if (data == NULL) {
		b->in_file = strcmp(name, "file") == 0;
		b->part_option = -1;
		if (b->in_file && b->saw_file) {
			fail(b, "the form has more than one \"file\" part");
			return false;
		}
		b->saw_file = b->saw_file || b->in_file;
		for (int i = 0; i < GATEWAY_UPLOAD_N_OPTIONS && !b->in_file; i++) {
			if (strcmp(name, gateway_upload_body_option_names[i]) == 0) {
				b->part_option = i;
				b->given[i] = true;
				b->options[i][0] = '\0';
				b->option_len = 0;
			}
		}
		return true;
	}
	if (b->in_file) {
		if (us_email_csv_feed(b->csv, data, len) != US_OK) {
			fail(b, "%s", us_email_csv_error(b->csv));
			return false;
		}
		return true;
	}
	if (b->part_option < 0)
		return true;
	/* Whichever problem comes first in the field wins, however the network cut it. */
	const char *option = gateway_upload_body_option_names[b->part_option];
	size_t room = GATEWAY_UPLOAD_OPTION_MAX - b->option_len;
	const char *nul = memchr(data, '\0', len);
	if (nul != NULL && (size_t)(nul - data) <= room) {
		fail(b, "the form field \"%s\" holds a NUL byte", option);
		return false;
	}
	if (len > room) {
		fail(b, "the form field \"%s\" is longer than %d bytes", option, GATEWAY_UPLOAD_OPTION_MAX);
		return false;
	}
	memcpy(b->options[b->part_option] + b->option_len, data, len);
	b->option_len += len;
	b->options[b->part_option][b->option_len] = '\0';
	return true;
}

us_err gateway_upload_body_new(const char *content_type, size_t max_rows,
                               gateway_upload_body **out, char *err, size_t err_size)
{
	gateway_upload_body *b = calloc(1, sizeof(*b));
	if (b == NULL || (b->csv = us_email_csv_new(max_rows)) == NULL) {
		free(b);
		snprintf(err, err_size, "out of memory");
		return US_EEXHAUSTED;
	}
	b->part_option = -1;
	if (content_type != NULL && strncasecmp(content_type, "multipart/", 10) == 0) {
		char boundary[GATEWAY_MULTIPART_BOUNDARY_MAX + 1];
		const char *why = gateway_multipart_boundary(content_type, boundary, sizeof(boundary));
		if (why != NULL) {
			snprintf(err, err_size, "the Content-Type %s", why);
			gateway_upload_body_free(b);
			return US_EINVAL;
		}
		if ((b->form = gateway_multipart_new(boundary, on_form_data, b)) == NULL) {
			snprintf(err, err_size, "out of memory");
			gateway_upload_body_free(b);
			return US_EEXHAUSTED;
		}
	}
	*out = b;
	return US_OK;
}

void gateway_upload_body_free(gateway_upload_body *b)
{
	if (b == NULL)
		return;
	gateway_multipart_free(b->form);
	us_email_csv_free(b->csv);
	free(b);
}

us_err gateway_upload_body_feed(gateway_upload_body *b, const char *data, size_t len)
{
	if (b->failure != US_OK)
		return b->failure;
	if (b->form == NULL) {
		if (us_email_csv_feed(b->csv, data, len) != US_OK)
			return fail(b, "%s", us_email_csv_error(b->csv));
		return US_OK;
	}
	us_err rc = gateway_multipart_feed(b->form, data, len);
	/* CANCELLED: on_form_data stopped it and said why. */
	if (rc != US_OK && rc != US_ECANCELLED)
		return fail(b, "malformed form: %s", gateway_multipart_error(b->form));
	return b->failure;
}

us_err gateway_upload_body_finish(gateway_upload_body *b)
{
	if (b->failure != US_OK)
		return b->failure;
	if (b->form != NULL) {
		if (gateway_multipart_finish(b->form) != US_OK)
			return fail(b, "malformed form: %s", gateway_multipart_error(b->form));
		if (!b->saw_file)
			return fail(b, "the form has no \"file\" part");
	}
	if (us_email_csv_finish(b->csv) != US_OK)
		return fail(b, "%s", us_email_csv_error(b->csv));
	return US_OK;
}

const char *gateway_upload_body_error(const gateway_upload_body *b)
{
	return b->error;
}

const char *gateway_upload_body_option(const gateway_upload_body *b, int which)
{
	return b->given[which] ? b->options[which] : NULL;
}

const us_email_csv_row *gateway_upload_body_rows(const gateway_upload_body *b, size_t *n)
{
	return us_email_csv_rows(b->csv, n);
}
