#include "intake.h"

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include <jansson.h>
#include <sodium.h>

#include "seal.h"
#include "common/validate.h"

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	}
	return false;
}

bool intake_text(us_call *call, const char *field, const char *value, size_t max, bool required)
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

char *intake_address(us_call *call, const char *field, const char *value)
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
	if (t != NULL && !template_declares(t, v->name))
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
                            const notification_template *t, template_var *vars)
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
		vars[i] = (template_var){v->name, v->value};
	}
	return ok;
}

/* The variables as a JSON object of strings, sealed for this template and recipient. */
static char *sealed_variables(us_arena *a, const template_var *vars, size_t n,
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
	char *sealed = notification_seal(a, text, strlen(text), template_name, recipient);
	sodium_memzero(text, strlen(text));
	free(text);
	return sealed;
}

us_err intake_check(us_call *call, const template_set *templates, const char *prefix,
                    const Usher__V1__Email *email, store_new_email *out)
{
	us_arena *arena = us_call_arena(call);
	bool ok = intake_text(call, us_arena_printf(arena, "%s.idempotency_key", prefix),
	                      email->idempotency_key, INTAKE_KEY_MAX, true);
	ok = intake_text(call, us_arena_printf(arena, "%s.reference", prefix), email->reference,
	                 INTAKE_REFERENCE_MAX, false) && ok;
	char *recipient = intake_address(call, us_arena_printf(arena, "%s.recipient", prefix),
	                                 email->recipient);
	ok = recipient != NULL && ok;

	const notification_template *t = template_find(templates, email->template_);
	if (t == NULL) {
		us_call_violation(call, us_arena_printf(arena, "%s.template", prefix),
		                  email->template_[0] == '\0' ? "is required" : "is not a known template");
		ok = false;
	}
	template_var *vars = US_ARENA_ARRAY(arena, template_var, email->n_variables + 1);
	if (vars == NULL)
		return US_EEXHAUSTED;
	if (!check_variables(call, prefix, email, t, vars) || !ok)
		return US_EINVAL;

	const char *missing = template_missing(t, vars, email->n_variables);
	if (missing != NULL) {
		us_call_violation(call, us_arena_printf(arena, "%s.variables", prefix),
		                  "must include \"%s\"", missing);
		return US_EINVAL;
	}
	buf subject = BUF_INIT;
	(void)template_render(t, TEMPLATE_SUBJECT, vars, email->n_variables, &subject);
	char *rendered = buf_failed(&subject) ? NULL : us_arena_strdup(arena, subject.data);
	buf_free(&subject);
	char *sealed = sealed_variables(arena, vars, email->n_variables, template_name(t),
	                                recipient);
	if (rendered == NULL || sealed == NULL)
		return US_EEXHAUSTED;
	*out = (store_new_email){
		.key = email->idempotency_key,
		.template = template_name(t),
		.recipient = recipient,
		.reference = email->reference,
		.subject = rendered,
		.sealed = sealed,
	};
	return US_OK;
}
