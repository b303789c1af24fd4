/* What usherctl's commands share: options and exit codes. */
#ifndef USHERCTL_CTL_H
#define USHERCTL_CTL_H

#include <stdbool.h>
#include <stdint.h>

/* Exit codes, documented in --help. */
enum {
	CTL_OK = 0,
	CTL_FAILED = 1,
	CTL_USAGE = 2,
	CTL_PARTIAL = 3,
	CTL_DENIED = 4,
	CTL_UNAVAILABLE = 5,
};

typedef struct ctl_opts {
	bool json;
	uint32_t timeout_ms;
} ctl_opts;

int ctl_health(const ctl_opts *opts, int argc, char **argv);

#endif
