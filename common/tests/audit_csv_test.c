/* The audit log's CSV (common/audit_merge.h): one line per entry in column order, every
 * cell quoted with quotes doubled, and a cell a spreadsheet would run as a formula shown
 * as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/audit_merge.h"

static void test_rows_are_quoted_and_formulas_defused(void **state)
{
	(void)state;
	Usher__V1__AuditEntry e = USHER__V1__AUDIT_ENTRY__INIT;
	e.created_at = "2026-01-31T10:00:00.000Z";
	e.account_id = "a";
	e.action = "settings.update";
	e.actor_user_id = "u";
	e.actor_principal_id = "";
	e.actor_caller = "usher-gatewayd";
	e.subject_type = "account";
	e.subject_id = "a";
	e.subject_email = "=HYPERLINK(\"x\")";
	e.detail = "name \"Acme\"";
	e.service = "tenancy";
	e.id = "i";
	Usher__V1__AuditEntry *entries[] = {&e};
	us_buf out = US_BUF_INIT;
	us_audit_csv_header(&out);
	us_audit_csv_rows(&out, entries, 1);
	us_buf_putc(&out, '\0');
	assert_false(us_buf_failed(&out));
	assert_string_equal(out.data,
	                    "created_at,account_id,action,actor_user_id,actor_principal_id,"
	                    "actor_caller,subject_type,subject_id,subject_email,detail,service,id\r\n"
	                    "\"2026-01-31T10:00:00.000Z\",\"a\",\"settings.update\",\"u\",\"\","
	                    "\"usher-gatewayd\",\"account\",\"a\",\"'=HYPERLINK(\"\"x\"\")\","
	                    "\"name \"\"Acme\"\"\",\"tenancy\",\"i\"\r\n");
	us_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_are_quoted_and_formulas_defused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
