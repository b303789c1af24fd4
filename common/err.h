/* The one error type: values equal the RPC status codes (gRPC's 17), so an error
 * crosses a process boundary unchanged. */
#ifndef US_ERR_H
#define US_ERR_H

typedef enum us_err {
	US_OK = 0,
	US_ECANCELLED = 1,
	US_EUNKNOWN = 2,
	US_EINVAL = 3,             /* INVALID_ARGUMENT */
	US_EDEADLINE = 4,          /* DEADLINE_EXCEEDED */
	US_ENOTFOUND = 5,
	US_EEXISTS = 6,            /* ALREADY_EXISTS */
	US_EDENIED = 7,            /* PERMISSION_DENIED */
	US_EEXHAUSTED = 8,         /* RESOURCE_EXHAUSTED */
	US_EPRECONDITION = 9,      /* FAILED_PRECONDITION */
	US_EABORTED = 10,
	US_ERANGE = 11,            /* OUT_OF_RANGE */
	US_EUNIMPLEMENTED = 12,
	US_EINTERNAL = 13,
	US_EUNAVAILABLE = 14,
	US_EDATALOSS = 15,
	US_EUNAUTHENTICATED = 16,
} us_err;

#define US_ERR_COUNT 17

#define US_MUST_USE __attribute__((warn_unused_result))

/* "invalid argument"; never NULL. */
const char *us_strerror(us_err err);

/* The gRPC name, "INVALID_ARGUMENT"; never NULL. */
const char *us_err_name(us_err err);

/* Parses a gRPC name; returns 0 and sets *out, or -1. */
int us_err_from_name(const char *name, us_err *out);

#endif
