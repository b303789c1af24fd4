#include "upstream.h"

#include <stdio.h>

#include "common/log.h"

us_err invitation_upstream_error(us_call *call, const invitation_peer *p, us_err rc, const char *doing)
{
	us_log_fields(US_LOG_WARN, "a dependency failed", "doing", doing, "code", us_err_name(rc),
	              "message", p->status.message, NULL);
	if (rc == US_EUNAVAILABLE || rc == US_EDEADLINE || rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "a service is busy or unavailable (%s); try again", doing);
	return us_call_error(call, US_EINTERNAL, "internal error");
}

us_err invitation_upstream_invalid(us_call *call, const invitation_peer *p, const char *prefix)
{
	if (p->status.n_violations == 0)
		return us_call_error(call, US_EINVAL, "%s", p->status.message);
	for (size_t i = 0; i < p->status.n_violations; i++) {
		char field[128];
		snprintf(field, sizeof(field), "%s%s", prefix, p->status.violations[i].field);
		us_call_violation(call, field, "%s", p->status.violations[i].description);
	}
	return us_call_invalid(call);
}
