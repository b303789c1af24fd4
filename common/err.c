#include "common/err.h"

#include <string.h>

static const struct {
	const char *name;
	const char *text;
} errors[US_ERR_COUNT] = {
	{"OK", "ok"},
	{"CANCELLED", "cancelled"},
	{"UNKNOWN", "unknown error"},
	{"INVALID_ARGUMENT", "invalid argument"},
	{"DEADLINE_EXCEEDED", "deadline exceeded"},
	{"NOT_FOUND", "not found"},
	{"ALREADY_EXISTS", "already exists"},
	{"PERMISSION_DENIED", "permission denied"},
	{"RESOURCE_EXHAUSTED", "resource exhausted"},
	{"FAILED_PRECONDITION", "failed precondition"},
	{"ABORTED", "aborted"},
	{"OUT_OF_RANGE", "out of range"},
	{"UNIMPLEMENTED", "unimplemented"},
	{"INTERNAL", "internal error"},
	{"UNAVAILABLE", "unavailable"},
	{"DATA_LOSS", "data loss"},
	{"UNAUTHENTICATED", "unauthenticated"},
};

const char *us_strerror(us_err err)
{
	if ((unsigned)err >= US_ERR_COUNT)
		return errors[US_EUNKNOWN].text;
	return errors[err].text;
}

const char *us_err_name(us_err err)
{
	if ((unsigned)err >= US_ERR_COUNT)
		return errors[US_EUNKNOWN].name;
	return errors[err].name;
}

int us_err_from_name(const char *name, us_err *out)
{
	for (int i = 0; i < US_ERR_COUNT; i++) {
		if (strcmp(errors[i].name, name) == 0) {
			*out = (us_err)i;
			return 0;
		}
	}
	return -1;
}
