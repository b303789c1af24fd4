#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"

#define NOTIFICATION_SERVICE "usher.v1.NotificationService/"

void nt_init(nt_fixture *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	ut_system_init(&f->sys, name);
	f->arena = us_arena_new();
	assert_non_null(f->arena);
	snprintf(f->scratch, sizeof(f->scratch), "/tmp/ut-notify-XXXXXX");
	assert_non_null(mkdtemp(f->scratch));
}

void nt_sink(nt_fixture *f, const char *const *flags)
{
	ut_sink_start(&f->sink, flags);
	f->has_sink = true;
}

void nt_setenv(nt_fixture *f, const char *setting)
{
	size_t name_len = strcspn(setting, "=") + 1;
	size_t i = 0;
	while (f->sys.extra_env[i] != NULL && strncmp(f->env[i], setting, name_len) != 0)
		i++;
	assert_true(i < 15);
	snprintf(f->env[i], sizeof(f->env[i]), "%s", setting);
	f->sys.extra_env[i] = f->env[i];
}

static bool has_setting(const nt_fixture *f, const char *prefix)
{
	for (size_t i = 0; f->sys.extra_env[i] != NULL; i++) {
		if (strncmp(f->env[i], prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

void nt_start(nt_fixture *f)
{
	char setting[160];
	if (f->has_sink) {
		char url[128];
		ut_sink_url(&f->sink, url, sizeof(url));
		snprintf(setting, sizeof(setting), "SMTP_URL=%s", url);
		nt_setenv(f, setting);
	} else if (!has_setting(f, "MAIL_SPOOL_DIR=")) {
		snprintf(setting, sizeof(setting), "MAIL_SPOOL_DIR=%s/mail", f->scratch);
		nt_setenv(f, setting);
	}
	/* Quick retries and polls, so the tests take seconds. */
	nt_setenv(f, "RETRY_BASE_MS=100");
	nt_setenv(f, "RETRY_MAX_MS=300");
	nt_setenv(f, "DELIVERY_POLL_MS=100");
	nt_setenv(f, "RECLAIM_INTERVAL_S=1");
	nt_setenv(f, "SMTP_CONNECT_TIMEOUT_MS=2000");
	nt_setenv(f, "SMTP_TIMEOUT_MS=5000");
	nt_setenv(f, "MAIL_FROM=Usher Invitations <invites@usher.test>");
	ut_system_start(&f->sys, UT_NOTIFICATION);
	if (f->client == NULL) {
		char err[256];
		us_rpc_client_opts opts = {.url = f->sys.daemons[UT_NOTIFICATION].url,
		                           .caller = "notification-test", .wait_for_server = true};
		if (us_rpc_client_open(&opts, &f->client, err, sizeof(err)) != US_OK)
			fail_msg("%s", err);
	}
}

void nt_teardown(nt_fixture *f)
{
	us_rpc_client_close(f->client);
	ut_system_teardown(&f->sys);
	if (f->has_sink)
		ut_sink_teardown(&f->sink);
	us_arena_free(f->arena);
	if (getenv("UT_KEEP") == NULL && f->scratch[0] != '\0') {
		char *argv[] = {"/bin/rm", "-rf", f->scratch, NULL};
		ut_run(argv, NULL, false, NULL);
	}
}

Usher__V1__Email *nt_email(nt_fixture *f, const char *key, const char *template,
                           const char *recipient, const char *reference, ...)
{
	Usher__V1__Email *e = US_ARENA_NEW(f->arena, Usher__V1__Email);
	usher__v1__email__init(e);
	e->idempotency_key = us_arena_strdup(f->arena, key);
	e->template_ = us_arena_strdup(f->arena, template);
	e->recipient = us_arena_strdup(f->arena, recipient);
	e->reference = us_arena_strdup(f->arena, reference);
	e->variables = US_ARENA_ARRAY(f->arena, Usher__V1__TemplateVariable *, 32);
	va_list ap;
	va_start(ap, reference);
	const char *name;
	while ((name = va_arg(ap, const char *)) != NULL && e->n_variables < 32) {
		Usher__V1__TemplateVariable *v = US_ARENA_NEW(f->arena, Usher__V1__TemplateVariable);
		usher__v1__template_variable__init(v);
		v->name = us_arena_strdup(f->arena, name);
		v->value = us_arena_strdup(f->arena, va_arg(ap, const char *));
		e->variables[e->n_variables++] = v;
	}
	va_end(ap);
	return e;
}

Usher__V1__Email *nt_invitation(nt_fixture *f, const char *key, const char *recipient,
                                const char *link)
{
	return nt_email(f, key, "invitation_new_user", recipient, "", "account_name", "Acme & Co",
	                "inviter_name", "Ada Admin", "role", "member", "link", link, "expires_at",
	                "2030-01-08 12:00 UTC", NULL);
}

static us_err call(nt_fixture *f, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *reply_type, ProtobufCMessage **reply,
                   us_status *st)
{
	char full[128];
	snprintf(full, sizeof(full), NOTIFICATION_SERVICE "%s", method);
	us_rpc_call_opts opts = {.timeout_ms = 30000};
	us_status local;
	us_status_init(&local);
	us_err rc = us_rpc_call(f->client, full, &opts, req, reply_type, f->arena, reply,
	                        st != NULL ? st : &local);
	us_status_clear(&local);
	return rc;
}

us_err nt_send(nt_fixture *f, Usher__V1__Email *email, char **id, us_status *st)
{
	Usher__V1__SendEmailRequest req = USHER__V1__SEND_EMAIL_REQUEST__INIT;
	req.email = email;
	ProtobufCMessage *reply = NULL;
	us_err rc = call(f, "SendEmail", &req.base, &usher__v1__send_email_reply__descriptor, &reply, st);
	if (rc == US_OK && id != NULL)
		*id = ((Usher__V1__SendEmailReply *)reply)->message_id;
	return rc;
}

us_err nt_send_many(nt_fixture *f, Usher__V1__Email **emails, size_t n, char ***ids,
                    us_status *st)
{
	Usher__V1__SendEmailsRequest req = USHER__V1__SEND_EMAILS_REQUEST__INIT;
	req.emails = emails;
	req.n_emails = n;
	ProtobufCMessage *reply = NULL;
	us_err rc = call(f, "SendEmails", &req.base, &usher__v1__send_emails_reply__descriptor,
	                 &reply, st);
	if (rc == US_OK && ids != NULL) {
		Usher__V1__SendEmailsReply *r = (Usher__V1__SendEmailsReply *)reply;
		assert_int_equal(r->n_message_ids, n);
		*ids = r->message_ids;
	}
	return rc;
}

Usher__V1__GetDeliveriesReply *nt_deliveries(nt_fixture *f, const char *reference,
                                             const char *recipient)
{
	Usher__V1__GetDeliveriesRequest req = USHER__V1__GET_DELIVERIES_REQUEST__INIT;
	req.reference = (char *)reference;
	req.recipient = (char *)recipient;
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_status_init(&st);
	us_err rc = call(f, "GetDeliveries", &req.base, &usher__v1__get_deliveries_reply__descriptor,
	                 &reply, &st);
	if (rc != US_OK)
		fail_msg("GetDeliveries: %s: %s", us_err_name(rc), st.message);
	us_status_clear(&st);
	return (Usher__V1__GetDeliveriesReply *)reply;
}

Usher__V1__Delivery *nt_delivery(nt_fixture *f, const char *recipient, const char *id)
{
	Usher__V1__GetDeliveriesReply *r = nt_deliveries(f, "", recipient);
	for (size_t i = 0; i < r->n_deliveries; i++) {
		if (strcmp(r->deliveries[i]->message_id, id) == 0)
			return r->deliveries[i];
	}
	fail_msg("no delivery %s for %s", id, recipient);
	return NULL;
}

Usher__V1__Delivery *nt_wait_state(nt_fixture *f, const char *recipient, const char *id,
                                   Usher__V1__DeliveryState state, int timeout_ms)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	for (;;) {
		Usher__V1__Delivery *d = nt_delivery(f, recipient, id);
		if (d->state == state)
			return d;
		if (us_monotonic_ms() > deadline)
			fail_msg("message %s is in state %d after %d ms, not %d (last reply \"%s\")", id,
			         d->state, timeout_ms, state, d->last_reply);
		usleep(50 * 1000);
	}
}

long long nt_sql_number(nt_fixture *f, const char *sql)
{
	PGconn *conn = ut_db_admin(ut_system_db(&f->sys, UT_NOTIFICATION));
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s\n  in: %s", PQresultErrorMessage(res), sql);
	long long n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return n;
}
