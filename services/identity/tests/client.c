#include "client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

us_rpc_client *idt_connect(const ut_system *sys)
{
	us_rpc_client *c;
	char err[256];
	us_rpc_client_opts opts = {.url = sys->daemons[UT_IDENTITY].url, .caller = "identity-test"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		fail_msg("could not connect to usher-identityd: %s", err);
	return c;
}

us_err idt_call(us_rpc_client *c, const char *method, const idt_opts *o,
                const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                us_arena *a, ProtobufCMessage **reply, us_status *st)
{
	static const idt_opts none;
	if (o == NULL)
		o = &none;
	us_rpc_call_opts opts = {
		.timeout_ms = o->timeout_ms ? o->timeout_ms : 20000,
		.idempotency_key = o->key,
		.actor_user_id = o->actor,
	};
	ProtobufCMessage *out = NULL;
	us_status scratch;
	us_err rc = us_rpc_call(c, method, &opts, request, reply_type, a, &out, st ? st : &scratch);
	if (st == NULL)
		us_status_clear(&scratch);
	if (rc == US_OK && reply != NULL)
		*reply = out;
	return rc;
}

const char *idt_key(us_arena *a)
{
	uint8_t raw[12];
	char hex[25];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	return us_arena_printf(a, "test-%s", hex);
}

Usher__V1__User *idt_create_user(us_rpc_client *c, us_arena *a, const char *email)
{
	return idt_create_user_as(c, a, email, false);
}

Usher__V1__User *idt_create_user_as(us_rpc_client *c, us_arena *a, const char *email,
                                    bool verified)
{
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = (char *)email;
	req.name = "Test Person";
	req.password = IDT_PASSWORD;
	req.email_verified = verified;
	idt_opts o = {.key = idt_key(a)};
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = idt_call(c, IDT("CreateUser"), &o, &req.base,
	                     &usher__v1__create_user_reply__descriptor, a, &reply, &st);
	if (rc != US_OK)
		fail_msg("CreateUser %s: %s %s", email, us_err_name(rc), st.message);
	us_status_clear(&st);
	return ((Usher__V1__CreateUserReply *)reply)->user;
}

us_err idt_login(us_rpc_client *c, us_arena *a, const char *email, const char *password,
                 const char *client_address, Usher__V1__LoginReply **out, us_status *st)
{
	Usher__V1__LoginRequest req = USHER__V1__LOGIN_REQUEST__INIT;
	req.email = (char *)email;
	req.password = (char *)password;
	if (client_address != NULL)
		req.client_address = (char *)client_address;
	ProtobufCMessage *reply = NULL;
	us_err rc = idt_call(c, IDT("Login"), NULL, &req.base, &usher__v1__login_reply__descriptor,
	                     a, &reply, st);
	if (rc == US_OK && out != NULL)
		*out = (Usher__V1__LoginReply *)reply;
	return rc;
}

us_err idt_resolve(us_rpc_client *c, us_arena *a, const char *token)
{
	Usher__V1__ResolveSessionRequest req = USHER__V1__RESOLVE_SESSION_REQUEST__INIT;
	req.session_token = (char *)token;
	return idt_call(c, IDT("ResolveSession"), NULL, &req.base,
	                &usher__v1__resolve_session_reply__descriptor, a, NULL, NULL);
}

char *idt_query(const ut_system *sys, const char *sql)
{
	PGconn *conn = ut_db_admin(ut_system_db(sys, UT_IDENTITY));
	PGresult *res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s\n  in: %s", PQresultErrorMessage(res), sql);
	char *value = strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	assert_non_null(value);
	PQclear(res);
	PQfinish(conn);
	return value;
}

long long idt_count(const ut_system *sys, const char *sql)
{
	char *value = idt_query(sys, sql);
	long long n = atoll(value);
	free(value);
	return n;
}

void idt_exec(const ut_system *sys, const char *sql)
{
	ut_db_admin_exec(ut_system_db(sys, UT_IDENTITY), sql);
}

void idt_assert_violation(const us_status *st, const char *field)
{
	if (us_status_violation(st, field) != NULL)
		return;
	fail_msg("expected a violation on \"%s\"; got %s \"%s\" with %zu violations%s%s", field,
	         us_err_name(st->code), st->message, st->n_violations,
	         st->n_violations ? ", the first on " : "",
	         st->n_violations ? st->violations[0].field : "");
}
