/* The template files compiled into the daemon (generated from templates/ by
 * usher_embed): the defaults that TEMPLATE_DIR may replace. */
#ifndef NOTIFICATION_TEMPLATE_FILES_H
#define NOTIFICATION_TEMPLATE_FILES_H

#include <stddef.h>

typedef struct notification_template_file {
	const char *name; /* "invitation_new_user.subject" */
	const char *data;
	size_t len;
} notification_template_file;

/* Ends with a NULL name. */
extern const notification_template_file notification_template_files[];

#endif
