/* The report of an invitation upload: one row per row of the file, with its outcome, as
 * CSV for a spreadsheet. Pure, so it is checked without a server. */
#ifndef GATEWAY_REPORT_H
#define GATEWAY_REPORT_H

#include <stddef.h>

#include "common/buf.h"
#include "usher/v1/invitation.pb-c.h"

typedef struct gateway_report_row {
	unsigned row;  /* the file's row number */
	const char *email;
	const char *outcome;
	const char *reason;
	const char *invitation_id;
} gateway_report_row;

/* "created", "duplicate_in_batch": the outcome as the report names it. */
const char *gateway_report_outcome_name(Usher__V1__AddressOutcome o);

/* Appends s as one quoted CSV cell, quotes doubled inside. */
void gateway_report_cell(us_buf *out, const char *s);

/* Appends the report as CSV (a header line, CRLF line ends, every cell quoted). A cell a
 * spreadsheet would read as a formula gets an apostrophe in front. */
void gateway_report_csv(us_buf *out, const gateway_report_row *rows, size_t n);

#endif
