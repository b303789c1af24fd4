#include "conf_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

us_err tenancy_conf_read(const char *path, size_t max, char **text, size_t *len, char *err,
                         size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_size, "could not open \"%s\": %s", path, strerror(errno));
		return US_EINVAL;
	}
	char *buf = malloc(max + 1);
	size_t got = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
	bool failed = buf == NULL || ferror(f);
	fclose(f);
	if (failed) {
		free(buf);
		snprintf(err, err_size, "could not read \"%s\"", path);
		return US_EINVAL;
	}
	if (got > max) {
		free(buf);
		snprintf(err, err_size, "\"%s\" is larger than %zu bytes", path, max);
		return US_EINVAL;
	}
	*text = buf;
	*len = got;
	return US_OK;
}
