/* The recovery loop: finds accepts interrupted by a crash (state accepting, and the
 * database session that claimed it gone; or claimed longer than ACCEPT_STALE_S ago) and
 * resumes them with the saga's idempotent steps; likewise joins through permanent links
 * whose steps nobody attends to, and joins whose confirmation lapsed (joins.h). */
#ifndef INVITATION_RECOVERY_H
#define INVITATION_RECOVERY_H

#include <stddef.h>

#include "common/err.h"

US_MUST_USE us_err inv_recovery_start(char *err, size_t err_size);
void inv_recovery_stop(void); /* safe when it never started */

#endif
