#include "fault.h"

#ifdef USHER_FAULTS
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void us_fault_point(const char *name)
{
	const char *armed = getenv("USHER_FAULT");
	if (armed == NULL || strcmp(armed, name) != 0)
		return;
	us_log_fields(US_LOG_WARN, "fault injected: killing the process", "fault", name, NULL);
	raise(SIGKILL);
}
#endif
