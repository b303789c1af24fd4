#include "schedule.h"

#include "common/clock.h"

#ifdef USHER_FAULTS
#include <stdio.h>
#include <stdlib.h>

/* At most ten years either way: a test's offset, not a mistake that overflows. */
#define OFFSET_MAX_S (10LL * 366 * 86400)

static int64_t test_offset_ms(void)
{
	const char *path = getenv("USHER_TEST_CLOCK_FILE");
	if (path == NULL || path[0] == '\0')
		return 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	long long s = 0;
	int got = fscanf(f, "%lld", &s);
	fclose(f);
	if (got != 1 || s > OFFSET_MAX_S || s < -OFFSET_MAX_S)
		return 0;
	return (int64_t)s * 1000;
}
#else
static int64_t test_offset_ms(void)
{
	return 0;
}
#endif

int64_t invitation_schedule_now_ms(void)
{
	return us_wall_ms() + test_offset_ms();
}
