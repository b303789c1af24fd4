/* A fuzz target without libFuzzer: runs each input once, the files named and every file
 * in the directories named. ./usher test runs every target over its committed corpus
 * this way (gcc, ASan+UBSan), so each input that once found a bug keeps being tried. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "could not open \"%s\": %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *data = malloc(cap);
	size_t n;
	while (data != NULL && (n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *grown = realloc(data, cap *= 2);
			if (grown == NULL)
				free(data);
			data = grown;
		}
	}
	fclose(f);
	if (data == NULL) {
		fprintf(stderr, "out of memory reading \"%s\"\n", path);
		return -1;
	}
	/* An exact-size copy, so ASan sees a read past the input's end. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact == NULL)
		abort();
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	int runs = 0, failures = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "could not read \"%s\": %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			failures += run_file(argv[i]) != 0;
			runs++;
			continue;
		}
		struct dirent **entries;
		int n = scandir(argv[i], &entries, NULL, alphasort);
		for (int k = 0; k < n; k++) {
			if (entries[k]->d_name[0] != '.') {
				char path[4096];
				snprintf(path, sizeof(path), "%s/%s", argv[i], entries[k]->d_name);
				failures += run_file(path) != 0;
				runs++;
			}
			free(entries[k]);
		}
		free(entries);
	}
	printf("%d inputs run\n", runs);
	return failures > 0 || runs == 0;
}
