#include "intake.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/limits.h"
#include "common/validate.h"
#include "delivery.h"
#include "seal.h"

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	}
	return false;
}

bool notification_intake_text(us_call *call, const char *field, const char *value, size_t max,
                              bool required)
{
	char too_long[48];
	snprintf(too_long, sizeof(too_long), "must be at most %zu bytes", max);
	const char *why = NULL;
	if (value[0] == '\0')
		why = required ? "is required" : NULL;
	else if (strlen(value) > max)
		why = too_long;
	else if (!us_utf8_valid(value, strlen(value)) || has_control(value))
		why = "must be UTF-8 text without control characters";
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
	return why == NULL;
}

char *notification_intake_address(us_call *call, const char *field, const char *value)
{
	char normal[US_EMAIL_MAX + 1];
	const char *why = NULL;
	if (value[0] == '\0')
		why = "is required";
	else if (us_email_normalize(value, normal, sizeof(normal)) != 0)
		why = "must be at most 254 characters";
	else
		why = us_email_check(normal);
	if (why != NULL) {
		us_call_violation(call, field, "%s", why);
		return NULL;
	}
	return us_arena_strdup(us_call_arena(call), normal);
}

static bool valid_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > TEMPLATE_VAR_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_'))
			return false;
	}
	return true;
}

static const char *variable_problem(const Usher__V1__TemplateVariable *v,
                                    const notification_template *t, const char **field)
{
	*field = "name";
	if (!valid_name(v->name))
		return "must be 1 to 40 of a-z and _";
	if (t != NULL && !notification_template_declares(t, v->name))
		return "is not a variable of this template";
	*field = "value";
	size_t len = strlen(v->value);
	if (len == 0)
		return "must not be empty";
	if (len > TEMPLATE_VAR_VALUE_MAX)
		return "must be at most 2000 bytes";
	if (!us_utf8_valid(v->value, len) || has_control(v->value))
		return "must be UTF-8 text without control characters";
	return NULL;
}

/* Checks the variables; on success fills vars (n of them). */
static bool check_variables(us_call *call, const char *prefix, const Usher__V1__Email *email,
                            const notification_template *t, notification_template_var *vars)
{
	us_arena *arena = us_call_arena(call);
	if (email->n_variables > TEMPLATE_VARS_MAX) {
		us_call_violation(call, us_arena_printf(arena, "%s.variables", prefix),
		                  "must have at most %d entries", TEMPLATE_VARS_MAX);
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i < email->n_variables; i++) {
		const Usher__V1__TemplateVariable *v = email->variables[i];
		const char *field;
		const char *why = variable_problem(v, t, &field);
		for (size_t j = 0; why == NULL && j < i; j++) {
			if (strcmp(vars[j].name, v->name) == 0) {
				field = "name";
				why = "is given twice";
			}
		}
		if (why != NULL) {
			us_call_violation(call, us_arena_printf(arena, "%s.variables[%zu].%s", prefix, i, field),
			                  "%s", why);
			ok = false;
		}
		vars[i] = (notification_template_var){v->name, v->value};
	}
	return ok;
}

/* The variables as a JSON object of strings, sealed for this template and recipient. */
static char *sealed_variables(us_arena *a, const notification_ctx *ctx,
                              const notification_template_var *vars, size_t n,
                              const char *template_name, const char *recipient)
{
	json_t *obj = json_object();
	bool ok = obj != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = json_object_set_new(obj, vars[i].name, json_string(vars[i].value)) == 0;
	char *text = ok ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (text == NULL)
		return NULL;
	char *sealed = notification_seal(a, ctx->seal_key, text, strlen(text), template_name,
	                                 recipient);
	sodium_memzero(text, strlen(text));
	free(text);
	return sealed;
}

#define LOCALE_MAX 35
#define TEMPLATE_NAME_MAX 64 /* longer names are no template's: looked up as given */

static bool locale_valid(const char *locale)
{
	size_t len = strlen(locale);
	if (len > LOCALE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = locale[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

/* The template in the email's language: "<name>.<locale>" ("fr-ca"), else "<name>.<its
 * primary language>" ("fr"), else the English "<name>". Tags compare in lowercase. */
static const notification_template *find_localized(const notification_template_set *set,
                                                   const char *name, const char *locale)
{
	size_t name_len = strlen(name);
	if (locale[0] != '\0' && name_len <= TEMPLATE_NAME_MAX) {
		char key[TEMPLATE_NAME_MAX + LOCALE_MAX + 2];
		size_t n = (size_t)snprintf(key, sizeof(key), "%s.%s", name, locale);
		for (size_t i = name_len + 1; i < n; i++)
			key[i] = (char)tolower((unsigned char)key[i]);
		const notification_template *t = notification_template_find(set, key);
		char *dash = strchr(key + name_len + 1, '-');
		if (t == NULL && dash != NULL) {
			*dash = '\0';
			t = notification_template_find(set, key);
		}
		if (t != NULL)
			return t;
	}
	return notification_template_find(set, name);
}

us_err notification_intake_check(us_call *call, const notification_ctx *ctx, const char *prefix,
                                 const Usher__V1__Email *email, notification_store_new_email *out)
{
	us_arena *arena = us_call_arena(call);
	bool ok = notification_intake_text(call, us_arena_printf(arena, "%s.idempotency_key", prefix),
	                                   email->idempotency_key, INTAKE_KEY_MAX, true);
	ok = notification_intake_text(call, us_arena_printf(arena, "%s.reference", prefix),
	                              email->reference, INTAKE_REFERENCE_MAX, false) &&
	     ok;
	char *recipient = notification_intake_address(
	        call, us_arena_printf(arena, "%s.recipient", prefix), email->recipient);
	ok = recipient != NULL && ok;

	bool locale_ok = locale_valid(email->locale);
	if (!locale_ok) {
		us_call_violation(call, us_arena_printf(arena, "%s.locale", prefix),
		                  "must be a language tag like \"fr\" or \"de-CH\" (at most %d "
		                  "bytes of letters, digits and \"-\")", LOCALE_MAX);
		ok = false;
	}
	const notification_template *t = find_localized(ctx->templates, email->template_,
	                                                locale_ok ? email->locale : "");
	if (t == NULL) {
		us_call_violation(call, us_arena_printf(arena, "%s.template", prefix),
		                  email->template_[0] == '\0' ? "is required" : "is not a known template");
		ok = false;
	}
	notification_template_var *vars = US_ARENA_ARRAY(arena, notification_template_var,
	                                                 email->n_variables + 1);
	if (vars == NULL)
		return US_EEXHAUSTED;
	if (!check_variables(call, prefix, email, t, vars) || !ok)
		return US_EINVAL;

	const char *missing = notification_template_missing(t, vars, email->n_variables);
	if (missing != NULL) {
		us_call_violation(call, us_arena_printf(arena, "%s.variables", prefix),
		                  "must include \"%s\"", missing);
		return US_EINVAL;
	}
	us_buf subject = US_BUF_INIT;
	(void)notification_template_render(t, TEMPLATE_SUBJECT, vars, email->n_variables, &subject);
	char *rendered = us_buf_failed(&subject) ? NULL : us_arena_strdup(arena, subject.data);
	us_buf_free(&subject);
	char *sealed = sealed_variables(arena, ctx, vars, email->n_variables,
	                                notification_template_name(t), recipient);
	if (rendered == NULL || sealed == NULL)
		return US_EEXHAUSTED;
	*out = (notification_store_new_email){
		.key = email->idempotency_key,
		.template = notification_template_name(t),
		.recipient = recipient,
		.reference = email->reference,
		.subject = rendered,
		.sealed = sealed,
	};
	return US_OK;
}

/* SendEmail and SendEmails dedupe on each email's own key (in notification_store_queue)
 * rather than under US_RPC_IDEMPOTENT, which would store a copy of a 50,000-id reply. */
static us_err queue(us_call *call, const notification_ctx *ctx,
                    const notification_store_new_email *emails, size_t n, char ***ids)
{
	us_err rc = notification_store_queue(us_call_db(call), emails, n, ctx->message_id_domain,
	                                     us_call_remaining_ms(call), us_call_arena(call), ids);
	if (rc == US_OK)
		notification_delivery_wake(ctx->delivery);
	return rc;
}

us_err notification_intake_send_email(us_call *call, const ProtobufCMessage *request,
                                      ProtobufCMessage **reply)
{
	const Usher__V1__SendEmailRequest *req = (const Usher__V1__SendEmailRequest *)request;
	const notification_ctx *ctx = us_call_service_ctx(call);
	if (req->email == NULL) {
		us_call_violation(call, "email", "is required");
		return us_call_invalid(call);
	}
	notification_store_new_email e;
	us_err rc = notification_intake_check(call, ctx, "email", req->email, &e);
	if (rc != US_OK)
		return rc == US_EINVAL ? us_call_invalid(call) : rc;
	char **ids;
	if ((rc = queue(call, ctx, &e, 1, &ids)) != US_OK)
		return rc;
	Usher__V1__SendEmailReply *out = US_ARENA_NEW(us_call_arena(call),
	                                              Usher__V1__SendEmailReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__send_email_reply__init(out);
	out->message_id = ids[0];
	*reply = &out->base;
	return US_OK;
}

us_err notification_intake_send_emails(us_call *call, const ProtobufCMessage *request,
                                       ProtobufCMessage **reply)
{
	const Usher__V1__SendEmailsRequest *req = (const Usher__V1__SendEmailsRequest *)request;
	const notification_ctx *ctx = us_call_service_ctx(call);
	us_arena *arena = us_call_arena(call);
	if (req->n_emails == 0 || req->n_emails > US_BATCH_MAX) {
		us_call_violation(call, "emails", "must hold 1 to %d emails", US_BATCH_MAX);
		return us_call_invalid(call);
	}
	notification_store_new_email *emails =
	        US_ARENA_ARRAY(arena, notification_store_new_email, req->n_emails);
	if (emails == NULL)
		return US_EEXHAUSTED;
	bool invalid = false;
	for (size_t i = 0; i < req->n_emails; i++) {
		us_err rc = notification_intake_check(call, ctx, us_arena_printf(arena, "emails[%zu]", i),
		                                      req->emails[i], &emails[i]);
		if (rc == US_EEXHAUSTED)
			return rc;
		invalid = invalid || rc != US_OK;
	}
	if (invalid)
		return us_call_invalid(call);
	char **ids;
	us_err rc = queue(call, ctx, emails, req->n_emails, &ids);
	if (rc != US_OK)
		return rc;
	Usher__V1__SendEmailsReply *out = US_ARENA_NEW(arena, Usher__V1__SendEmailsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__send_emails_reply__init(out);
	out->n_message_ids = req->n_emails;
	out->message_ids = ids;
	*reply = &out->base;
	return US_OK;
}
