/* bench-email-queue: queues N invitation emails in usher-notificationd with SendEmails
 * (one call, one transaction) and prints how long that took and when it returned, for
 * run.sh to measure delivery from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/rpc_client.h"
#include "usher/v1/notification.pb-c.h"

static Usher__V1__TemplateVariable *var(us_arena *a, const char *name, const char *value)
{
	Usher__V1__TemplateVariable *v = US_ARENA_NEW(a, Usher__V1__TemplateVariable);
	usher__v1__template_variable__init(v);
	v->name = (char *)name;
	v->value = us_arena_strdup(a, value);
	return v;
}

static Usher__V1__Email *email(us_arena *a, const char *run, long i)
{
	Usher__V1__Email *e = US_ARENA_NEW(a, Usher__V1__Email);
	usher__v1__email__init(e);
	e->idempotency_key = us_arena_printf(a, "bench:%s:%ld", run, i);
	e->template_ = "invitation_new_user";
	e->recipient = us_arena_printf(a, "invitee%ld@example.com", i);
	e->reference = us_arena_printf(a, "invitation:bench-%s-%ld", run, i);
	e->n_variables = 5;
	e->variables = US_ARENA_ARRAY(a, Usher__V1__TemplateVariable *, 5);
	e->variables[0] = var(a, "account_name", "Benchmark Volunteers of America");
	e->variables[1] = var(a, "inviter_name", "Ada Admin");
	e->variables[2] = var(a, "role", "member");
	e->variables[3] = var(a, "link",
	                      us_arena_printf(a, "https://usher.example/invitations/accept?token="
	                                         "bench%ld-Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV4eHh4", i));
	e->variables[4] = var(a, "expires_at", "8 January 2030, 12:00 UTC");
	return e;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench-email-queue RPC_URL COUNT\n");
		return 2;
	}
	long n = atol(argv[2]);
	us_arena *a = us_arena_new();
	char run[32];
	snprintf(run, sizeof(run), "%lld", (long long)time(NULL));
	Usher__V1__SendEmailsRequest req = USHER__V1__SEND_EMAILS_REQUEST__INIT;
	req.n_emails = (size_t)n;
	req.emails = US_ARENA_ARRAY(a, Usher__V1__Email *, (size_t)n);
	for (long i = 0; i < n; i++)
		req.emails[i] = email(a, run, i);

	char err[256];
	us_rpc_client *c;
	us_rpc_client_opts opts = {.url = argv[1], .caller = "bench-email-queue"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK) {
		fprintf(stderr, "bench-email-queue: %s\n", err);
		return 1;
	}
	us_rpc_call_opts call = {.timeout_ms = 120000};
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_status_init(&st);
	int64_t start = us_monotonic_ms();
	us_err rc = us_rpc_call(c, "usher.v1.NotificationService/SendEmails", &call, &req.base,
	                        &usher__v1__send_emails_reply__descriptor, a, &reply, &st);
	int64_t took = us_monotonic_ms() - start;
	struct timespec done;
	clock_gettime(CLOCK_REALTIME, &done);
	if (rc != US_OK) {
		fprintf(stderr, "bench-email-queue: SendEmails: %s: %s\n", us_err_name(rc), st.message);
		return 1;
	}
	printf("queued %ld messages in one SendEmails call in %.3f s; returned at %.6f\n", n,
	       took / 1000.0, done.tv_sec + done.tv_nsec / 1e9);
	us_status_clear(&st);
	us_rpc_client_close(c);
	us_arena_free(a);
	return 0;
}
