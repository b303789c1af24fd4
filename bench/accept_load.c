#include "accept_load.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "calls.h"
#include "common/clock.h"

#define PASSWORD "correct horse battery"

/* Every spooled invitation's token, by recipient: user i's address is bench.userI@... */
static void collect_tokens(const char *spool, accept_client *clients, int n_clients,
                           int n_accounts)
{
	size_t want = (size_t)n_clients * (size_t)n_accounts;
	int64_t deadline = us_monotonic_ms() + 120000;
	while (ut_count_emails(spool, "@bench.example") < want) {
		if (us_monotonic_ms() > deadline)
			fail_msg("only %zu of %zu invitation emails arrived",
			         ut_count_emails(spool, "@bench.example"), want);
		usleep(200 * 1000);
	}
	us_arena *a = us_arena_new();
	ut_email *mails = US_ARENA_ARRAY(a, ut_email, (size_t)n_accounts);
	for (int u = 0; u < n_clients; u++) {
		char address[64];
		snprintf(address, sizeof(address), "bench.user%d@bench.example", u);
		if (ut_list_emails(spool, a, address, "Invitation", mails, (size_t)n_accounts) !=
		    (size_t)n_accounts)
			fail_msg("not %d invitations for %s", n_accounts, address);
		clients[u].tokens = calloc((size_t)n_accounts, sizeof(char *));
		clients[u].samples = calloc((size_t)n_accounts, sizeof(double));
		clients[u].n_tokens = n_accounts;
		for (int k = 0; k < n_accounts; k++) {
			if (mails[k].token == NULL)
				fail_msg("no link in an email to %s", address);
			clients[u].tokens[k] = strdup(mails[k].token);
		}
	}
	us_arena_free(a);
}

void accept_load_prepare(ut_system *sys, const char *spool, accept_client *clients,
                         int n_clients, int n_accounts)
{
	us_arena *a = us_arena_new();
	char *owner = ut_create_user(sys, a, "bench.owner@acme.example", "Owner", PASSWORD);
	const char **emails = US_ARENA_ARRAY(a, const char *, (size_t)n_clients);
	for (int u = 0; u < n_clients; u++) {
		emails[u] = us_arena_printf(a, "bench.user%d@bench.example", u);
		ut_create_user(sys, a, emails[u], "Bench User", PASSWORD);
		clients[u] = (accept_client){.session = strdup(ut_login(sys, a, emails[u], PASSWORD))};
	}
	for (int k = 0; k < n_accounts; k++) {
		char *account = ut_create_account(sys, a, owner, us_arena_printf(a, "Account %d", k), "");
		Usher__V1__CreateInvitationsReply *r;
		us_status st;
		if (ut_invite(sys, a, owner, account, USHER__V1__ROLE__ROLE_MEMBER, NULL, emails,
		              (size_t)n_clients, &r, &st) != US_OK ||
		    r->created != (size_t)n_clients)
			fail_msg("inviting into account %d: %s", k, st.message);
	}
	collect_tokens(spool, clients, n_clients, n_accounts);
	us_arena_free(a);
}

void accept_load_run(const char *url, accept_client *c)
{
	us_rpc_client *rpc;
	char err[128];
	us_rpc_client_opts opts = {.url = url, .caller = "accept_load"};
	if (us_rpc_client_open(&opts, &rpc, err, sizeof(err)) != US_OK)
		fail_msg("%s", err);
	for (int k = 0; k < c->n_tokens; k++) {
		us_arena *a = us_arena_new();
		Usher__V1__AcceptRequest req = USHER__V1__ACCEPT_REQUEST__INIT;
		req.token = c->tokens[k];
		req.session_token = c->session;
		us_rpc_call_opts call = {.timeout_ms = 10000};
		ProtobufCMessage *out;
		int64_t t0 = us_monotonic_us();
		us_err rc = us_rpc_call(rpc, "usher.v1.InvitationService/Accept", &call, &req.base,
		                        &usher__v1__accept_reply__descriptor, a, &out, NULL);
		c->samples[k] = (double)(us_monotonic_us() - t0);
		c->failures += rc != US_OK;
		us_arena_free(a);
	}
	us_rpc_client_close(rpc);
}

typedef struct runner {
	const char *url;
	accept_client *client;
} runner;

static void *run(void *arg)
{
	runner *r = arg;
	accept_load_run(r->url, r->client);
	return NULL;
}

double accept_load_parallel(const char *url, accept_client *clients, int n)
{
	pthread_t *threads = calloc((size_t)n, sizeof(pthread_t));
	runner *runners = calloc((size_t)n, sizeof(runner));
	int64_t t0 = us_monotonic_us();
	for (int i = 0; i < n; i++) {
		runners[i] = (runner){.url = url, .client = &clients[i]};
		pthread_create(&threads[i], NULL, run, &runners[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	double seconds = (double)(us_monotonic_us() - t0) / 1e6;
	free(threads);
	free(runners);
	return seconds;
}

void accept_load_free(accept_client *clients, int n_clients)
{
	for (int u = 0; u < n_clients; u++) {
		for (int k = 0; k < clients[u].n_tokens; k++)
			free(clients[u].tokens[k]);
		free(clients[u].tokens);
		free(clients[u].samples);
		free(clients[u].session);
	}
}
