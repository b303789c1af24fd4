/* tenancyd's permission matrix (services/tenancy/permissions.c), an operator's file
 * (PERMISSION_MATRIX_FILE, reread on SIGHUP): the input is the file's text. Properties:
 * a file is refused with one line naming "fuzz:LINE", or parsed; a parsed matrix holds
 * exactly the file's "action role" lines, read by an independent splitter: every action
 * answers the role its line gives, and nothing else is listed. */
#include "fuzz.h"

#include "permissions.h"
#include "roles.h"

#define LINES_MAX 4096

typedef struct line_entry {
	char action[TENANCY_ACTION_MAX + 1];
	int role;
} line_entry;

/* The file's entries by plain splitting; -1 when a line is not two words. */
static long reference_entries(const char *text, size_t len, line_entry *out)
{
	long n = 0;
	size_t start = 0;
	while (start <= len) {
		size_t end = start;
		while (end < len && text[end] != '\n')
			end++;
		char line[512] = "";
		size_t k = 0;
		for (size_t i = start; i < end && text[i] != '#'; i++) {
			if (k + 1 >= sizeof(line))
				return -1;
			line[k++] = text[i] == '\t' || text[i] == '\r' ? ' ' : text[i];
		}
		line[k] = '\0';
		char action[128], role[128], extra[2];
		int words = sscanf(line, "%127s %127s %1s", action, role, extra);
		if (words == 2) {
			if (n == LINES_MAX || strlen(action) > TENANCY_ACTION_MAX)
				return -1;
			snprintf(out[n].action, sizeof(out[n].action), "%s", action);
			out[n].role = tenancy_role_parse(role, true);
			n++;
		} else if (words > 0) {
			return -1;
		}
		start = end + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	tenancy_matrix *m = NULL;
	char err[256] = "";
	us_err rc = tenancy_matrix_parse(text, size, "fuzz", &m, err, sizeof(err));
	if (rc != US_OK) {
		FUZZ_CHECK(rc == US_EINVAL && m == NULL && strncmp(err, "fuzz", 4) == 0);
		return 0;
	}
	/* A NUL or a vertical tab would be read differently by sscanf: judge only plain text. */
	if (memchr(text, '\0', size) == NULL && memchr(text, '\v', size) == NULL &&
	    memchr(text, '\f', size) == NULL) {
		static line_entry entries[LINES_MAX];
		long n = reference_entries(text, size, entries);
		FUZZ_CHECK(n >= 0 && (size_t)n == tenancy_matrix_size(m));
		for (long i = 0; i < n; i++)
			FUZZ_CHECK(tenancy_matrix_min_role(m, entries[i].action) == entries[i].role);
	}
	FUZZ_CHECK(tenancy_matrix_min_role(m, "no.such.action.listed.here.surely") == 0 ||
	           strstr(text, "no.such.action.listed.here.surely") != NULL);
	tenancy_matrix_free(m);
	return 0;
}
