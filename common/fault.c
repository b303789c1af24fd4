#include "common/fault.h"

#ifdef USHER_FAULTS
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static const char *armed;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void read_setting(void)
{
	armed = getenv("USHER_FAULT");
}

void us_fault_point(const char *name)
{
	pthread_once(&once, read_setting);
	if (armed == NULL || strcmp(armed, name) != 0)
		return;
	us_log_fields(US_LOG_WARN, "fault injected: killing the process", "fault", name, NULL);
	raise(SIGKILL);
}

void us_fault_point_method(const char *method, const char *step)
{
	pthread_once(&once, read_setting);
	if (armed == NULL || method == NULL)
		return;
	const char *slash = strrchr(method, '/');
	char name[160];
	snprintf(name, sizeof(name), "%s.%s", slash != NULL ? slash + 1 : method, step);
	us_fault_point(name);
}
#endif
