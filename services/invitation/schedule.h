/* The time reminders and expiry go by: the wall clock (us_wall_ms), which tests may move.
 * In a build with crash points (USHER_FAULTS=ON, test builds only), the file named by
 * USHER_TEST_CLOCK_FILE holds seconds to add (e.g. "259200" for three days on), read on
 * every call, so a test moves the clock of a running daemon; a missing or bad file adds
 * nothing. Compiled out of other builds. */
#ifndef INVITATION_SCHEDULE_H
#define INVITATION_SCHEDULE_H

#include <stdint.h>

int64_t invitation_schedule_now_ms(void);

#endif
