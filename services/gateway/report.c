#include "report.h"

#include <string.h>

const char *gateway_report_outcome_name(Usher__V1__AddressOutcome o)
{
	switch (o) {
	case USHER__V1__ADDRESS_OUTCOME__OUTCOME_CREATED: return "created";
	case USHER__V1__ADDRESS_OUTCOME__OUTCOME_INVALID: return "invalid";
	case USHER__V1__ADDRESS_OUTCOME__OUTCOME_DUPLICATE_IN_BATCH: return "duplicate_in_batch";
	case USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_MEMBER: return "already_member";
	case USHER__V1__ADDRESS_OUTCOME__OUTCOME_ALREADY_PENDING: return "already_pending";
	case USHER__V1__ADDRESS_OUTCOME__OUTCOME_DISPOSABLE_DOMAIN: return "disposable_domain";
	case USHER__V1__ADDRESS_OUTCOME__OUTCOME_DOMAIN_NOT_ALLOWED: return "domain_not_allowed";
	default: return "unknown";
	}
}

/* A cell a spreadsheet would read as a formula (=, +, -, @, tab or CR first) gets an
 * apostrophe in front, so it shows as text and never runs (OWASP's CSV injection advice). */
void gateway_report_cell(us_buf *out, const char *s)
{
	us_buf_putc(out, '"');
	if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
		us_buf_putc(out, '\'');
	while (*s != '\0') {
		size_t plain = strcspn(s, "\"");
		us_buf_append(out, s, plain);
		s += plain;
		if (*s == '"') {
			us_buf_puts(out, "\"\"");
			s++;
		}
	}
	us_buf_putc(out, '"');
}

void gateway_report_csv(us_buf *out, const gateway_report_row *rows, size_t n)
{
	us_buf_puts(out, "row,email,outcome,reason,invitation_id\r\n");
	for (size_t i = 0; i < n; i++) {
		us_buf_printf(out, "%u,", rows[i].row);
		gateway_report_cell(out, rows[i].email);
		us_buf_putc(out, ',');
		gateway_report_cell(out, rows[i].outcome);
		us_buf_putc(out, ',');
		gateway_report_cell(out, rows[i].reason);
		us_buf_putc(out, ',');
		gateway_report_cell(out, rows[i].invitation_id);
		us_buf_puts(out, "\r\n");
	}
}
