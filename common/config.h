/* Settings from environment variables, described by a table: each daemon declares its
 * settings once and gets loading, validation, --help and --print-config from it. */
#ifndef US_CONFIG_H
#define US_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

typedef enum us_config_type {
	US_CONFIG_STRING, /* char *, owned by the struct: free with us_config_free() */
	US_CONFIG_INT,    /* int64_t within [min, max] */
	US_CONFIG_BOOL,   /* bool: true/false, 1/0, yes/no, on/off */
} us_config_type;

enum {
	US_CONFIG_REQUIRED = 1 << 0, /* no default: the daemon stops when it is unset */
	US_CONFIG_SECRET = 1 << 1,   /* masked by --print-config; may come from NAME_FILE */
};

typedef struct us_config_var {
	const char *name;    /* the environment variable */
	us_config_type type;
	size_t offset;       /* where the value goes in the caller's struct */
	unsigned flags;
	const char *fallback; /* the default, as text; NULL = none */
	int64_t min, max;    /* INT: the range; STRING: the length range (max 0 = 4096) */
	/* Optional extra check of a STRING value: returns NULL when fine, else the reason. */
	const char *(*check)(const char *value);
	const char *help;
} us_config_var;

/* Reads every setting into cfg. On failure, writes one line naming the setting and the
 * problem into err ("RPC_WORKERS: must be an integer from 1 to 256, got \"x\"") and leaves
 * nothing allocated. */
US_MUST_USE us_err us_config_load(const us_config_var *vars, size_t n, void *cfg, char *err,
                                  size_t err_size);

/* Frees the STRING values loaded into cfg. */
void us_config_free(const us_config_var *vars, size_t n, void *cfg);

/* NAME=value lines, secrets masked (a URL keeps all but its password). */
void us_config_print(FILE *out, const us_config_var *vars, size_t n, const void *cfg);

/* The settings' names, defaults and help text. */
void us_config_usage(FILE *out, const us_config_var *vars, size_t n);

/* Reads a file of at most max bytes (one trailing line end dropped) into owned *out. */
US_MUST_USE us_err us_config_read_file(const char *path, size_t max, char **out, char *err,
                                       size_t err_size);

/* Checks an NNG listen/dial address: us_transport_check() (transport.h). */
const char *us_config_check_nng_url(const char *value);

/* Checks a daemon's address or its replicas' as "URL,URL,...": us_transport_check_list(). */
const char *us_config_check_nng_urls(const char *value);

#endif
