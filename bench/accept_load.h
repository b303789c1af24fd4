/* Accept load: existing users invited to accounts, each holding a session and the tokens
 * of their invitations (read from the spooled emails), accepting them through
 * usher-invitationd. Shared by accept_bench and replicas_bench. */
#ifndef BENCH_ACCEPT_LOAD_H
#define BENCH_ACCEPT_LOAD_H

#include "harness.h"

typedef struct accept_client {
	char *session;
	char **tokens;   /* n_tokens, one per account */
	double *samples; /* each accept's time, µs */
	int n_tokens;
	int failures;
} accept_client;

/* Creates an owner and n_clients users (bench.userI@bench.example), n_accounts accounts
 * each inviting every user, and fills clients[i] with user i's session and tokens (waiting
 * for the emails in spool). Free with accept_load_free. */
void accept_load_prepare(ut_system *sys, const char *spool, accept_client *clients,
                         int n_clients, int n_accounts);

/* Client c accepts each of its invitations in turn, on its own connection to url (one
 * address or "URL,URL,..."). */
void accept_load_run(const char *url, accept_client *c);

/* n clients at once, each on its own thread as accept_load_run; the wall time in seconds. */
double accept_load_parallel(const char *url, accept_client *clients, int n);

void accept_load_free(accept_client *clients, int n_clients);

#endif
