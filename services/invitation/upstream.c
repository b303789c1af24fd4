#include "upstream.h"

#include "common/log.h"

us_err inv_upstream_error(us_call *call, const peer_ctx *p, us_err rc, const char *doing)
{
	us_log_fields(US_LOG_WARN, "a dependency failed", "doing", doing, "code", us_err_name(rc),
	              "message", p->status.message, NULL);
	if (rc == US_EUNAVAILABLE || rc == US_EDEADLINE || rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "a service is busy or unavailable (%s); try again", doing);
	return us_call_error(call, US_EINTERNAL, "internal error");
}
