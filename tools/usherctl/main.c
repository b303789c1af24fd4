/* usherctl: the operator's CLI. It talks NNG to the daemons directly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"
#include "targets.h"

#ifndef USHER_VERSION
#define USHER_VERSION "0.0.0"
#endif

typedef struct command {
	const char *name;
	int (*run)(const ctl_opts *opts, int argc, char **argv);
	const char *help;
} command;

static const command commands[] = {
	{"health", ctl_health, "[DAEMON...]  check that every daemon (or the named ones) is serving"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usherctl %s: operate Usher over NNG\n\n"
	             "usage: usherctl [--json] [--timeout MS] COMMAND [ARGS]\n\nCommands:\n",
	        USHER_VERSION);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nOptions:\n"
	             "  --json        machine-readable output on stdout\n"
	             "  --timeout MS  per-call deadline (default 2000)\n"
	             "\nThe daemons' addresses come from the environment:\n");
	for (size_t i = 0; i < ctl_n_targets; i++)
		fprintf(out, "  %-22s %s\n", ctl_targets[i].env, ctl_targets[i].daemon);
	fprintf(out, "\nExit status:\n"
	             "  0  ok (health: every daemon is serving)\n"
	             "  1  failed (health: a daemon answered that it is not serving)\n"
	             "  2  usage error or missing setting\n"
	             "  3  partial success (some items of a batch failed)\n"
	             "  4  permission denied\n"
	             "  5  unavailable (health: a daemon could not be reached)\n");
}

int main(int argc, char **argv)
{
	ctl_opts opts = {.json = false, .timeout_ms = 2000};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			opts.json = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			long ms = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || ms < 1 || ms > 600000) {
				fprintf(stderr, "usherctl: --timeout must be 1 to 600000 milliseconds\n");
				return CTL_USAGE;
			}
			opts.timeout_ms = (uint32_t)ms;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return CTL_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("usherctl %s\n", USHER_VERSION);
			return CTL_OK;
		} else {
			fprintf(stderr, "usherctl: unknown option \"%s\"; see --help\n", argv[i]);
			return CTL_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "usherctl: could not initialise libsodium\n");
		return CTL_FAILED;
	}
	/* Options may also follow the command ("usherctl health --json"). */
	const char *name = argv[i++];
	int rest = 0;
	char **args = argv + i;
	for (int j = i; j < argc; j++) {
		if (strcmp(argv[j], "--json") == 0)
			opts.json = true;
		else
			args[rest++] = argv[j];
	}
	for (size_t c = 0; c < N_COMMANDS; c++) {
		if (strcmp(commands[c].name, name) == 0)
			return commands[c].run(&opts, rest, args);
	}
	fprintf(stderr, "usherctl: unknown command \"%s\"; see --help\n", name);
	return CTL_USAGE;
}
