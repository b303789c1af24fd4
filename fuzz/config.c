/* Settings from the environment (common/config.c), as every daemon reads them: the input
 * is NUL-separated values for a secret database URL, an RPC address, a bounded integer
 * and a flag. Properties: a setting is refused with a line naming it, or read; an
 * address read is one the transport check accepts; --print-config never shows the
 * password libpq would take from the database URL. */
#include "fuzz.h"

#include <stdbool.h>

#include <libpq-fe.h>

#include "common/config.h"
#include "common/transport.h"

typedef struct settings {
	char *database_url;
	char *listen;
	int64_t workers;
	bool debug;
} settings;

static const us_config_var vars[] = {
	{"FUZZ_DATABASE_URL", US_CONFIG_STRING, offsetof(settings, database_url),
	 US_CONFIG_SECRET, NULL, 1, 0, NULL, "a database"},
	{"FUZZ_RPC_LISTEN", US_CONFIG_STRING, offsetof(settings, listen), 0,
	 "tcp://127.0.0.1:7001", 1, 0, us_config_check_nng_url, "an address"},
	{"FUZZ_WORKERS", US_CONFIG_INT, offsetof(settings, workers), 0, "4", 1, 256, NULL,
	 "threads"},
	{"FUZZ_DEBUG", US_CONFIG_BOOL, offsetof(settings, debug), 0, "false", 0, 0, NULL, "a flag"},
};
#define N_VARS (sizeof(vars) / sizeof(vars[0]))

/* The password libpq would use for conninfo, or NULL. */
static char *libpq_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	char *password = NULL;
	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			password = strdup(o->val);
	}
	PQconninfoFree(opts);
	return password;
}

static size_t occurrences(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input in = {data, size};
	/* putenv() with buffers of our own: setenv() keeps every value it ever saw. */
	static char entries[N_VARS][8192];
	char *values[N_VARS];
	for (size_t i = 0; i < N_VARS; i++) {
		values[i] = fuzz_string(&in);
		snprintf(entries[i], sizeof(entries[i]), "%s=%s", vars[i].name, values[i]);
		putenv(entries[i]);
	}
	settings cfg;
	char err[512] = "";
	us_err rc = us_config_load(vars, N_VARS, &cfg, err, sizeof(err));
	if (rc != US_OK) {
		bool named = false;
		for (size_t i = 0; i < N_VARS; i++)
			named = named || strncmp(err, vars[i].name, strlen(vars[i].name)) == 0;
		FUZZ_CHECK(rc == US_EINVAL && named);
	} else {
		FUZZ_CHECK(us_transport_check(cfg.listen) == NULL);
		FUZZ_CHECK(cfg.workers >= 1 && cfg.workers <= 256);
		char *printed = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&printed, &len);
		FUZZ_CHECK(out != NULL);
		us_config_print(out, vars, N_VARS, &cfg);
		fclose(out);
		/* The secret's own line (other settings may spell anything). */
		char *line = strstr(printed, "FUZZ_DATABASE_URL=");
		FUZZ_CHECK(line != NULL);
		line[strcspn(line, "\n")] = '\0';
		char *password = cfg.database_url != NULL ? libpq_password(cfg.database_url) : NULL;
		/* A password that also spells another part of the URL proves nothing. */
		if (password != NULL && strlen(password) >= 6 &&
		    occurrences(cfg.database_url, password) == 1) {
			if (strstr(line, password) != NULL)
				fprintf(stderr, "printed: %s\n", line);
			FUZZ_CHECK(strstr(line, password) == NULL);
		}
		free(password);
		free(printed);
		us_config_free(vars, N_VARS, &cfg);
	}
	for (size_t i = 0; i < N_VARS; i++)
		free(values[i]);
	return 0;
}
