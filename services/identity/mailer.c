#include "mailer.h"

#include "common/log.h"
#include "usher/v1/notification.pb-c.h"

#define SEND_EMAIL "usher.v1.NotificationService/SendEmail"
#define N_VARIABLES 3

char *identity_mail_url(us_arena *a, const char *base_url, const char *path, const char *token)
{
	return us_arena_printf(a, "%s/%s/%s", base_url, path, token);
}

us_err identity_mail_link(us_call *call, const identity_ctx *ctx, const identity_mail *m)
{
	us_arena *a = us_call_arena(call);
	const char *link = identity_mail_url(a, ctx->settings.public_base_url, m->path, m->token);
	Usher__V1__TemplateVariable *vars = US_ARENA_ARRAY(a, Usher__V1__TemplateVariable, N_VARIABLES);
	Usher__V1__TemplateVariable **var_ptrs = US_ARENA_ARRAY(a, Usher__V1__TemplateVariable *,
	                                                        N_VARIABLES);
	if (link == NULL || vars == NULL || var_ptrs == NULL)
		return US_EEXHAUSTED;
	const char *const values[N_VARIABLES][2] = {
		{"name", m->name}, {"link", link}, {"expires_at", m->expires_at}};
	for (size_t i = 0; i < N_VARIABLES; i++) {
		usher__v1__template_variable__init(&vars[i]);
		vars[i].name = (char *)values[i][0];
		vars[i].value = (char *)values[i][1];
		var_ptrs[i] = &vars[i];
	}
	Usher__V1__Email email = USHER__V1__EMAIL__INIT;
	email.idempotency_key = (char *)m->key;
	email.template_ = (char *)m->template_name;
	email.recipient = (char *)m->recipient;
	email.n_variables = N_VARIABLES;
	email.variables = var_ptrs;
	email.reference = (char *)m->reference;
	Usher__V1__SendEmailRequest req = USHER__V1__SEND_EMAIL_REQUEST__INIT;
	req.email = &email;
	us_rpc_call_opts opts;
	us_call_downstream(call, &opts);
	/* Usher itself sends it: notificationd acts for nobody. */
	opts.actor_user_id = NULL;
	opts.actor_account_id = NULL;
	/* Keep a slice of the budget to roll back and say why, rather than leave the caller
	 * with a bare deadline. */
	uint32_t slice = opts.timeout_ms / 4 < 1000 ? opts.timeout_ms / 4 : 1000;
	opts.timeout_ms -= slice;
	opts.idempotency_key = email.idempotency_key;
	ProtobufCMessage *out = NULL;
	us_status st;
	us_err rc = us_rpc_call(ctx->notification, SEND_EMAIL, &opts, &req.base,
	                        &usher__v1__send_email_reply__descriptor, a, &out, &st);
	if (rc != US_OK)
		us_log_fields(US_LOG_WARN, "could not queue an email", "template", m->template_name,
		              "code", us_err_name(rc), "reason", st.message, "reference", m->reference,
		              NULL);
	us_status_clear(&st);
	return rc;
}
