#include "input.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/validate.h"

void tenancy_input_uuid(us_call *call, const char *field, const char *value)
{
	const char *why = value[0] == '\0' ? "is required" : us_uuid_check(value);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

void tenancy_input_user_ids(us_call *call, const char *field, char *const *ids, size_t n)
{
	if (n > US_BATCH_MAX) {
		us_call_violation(call, field, "must list at most %d", US_BATCH_MAX);
		return;
	}
	/* The field is named only for a bad id: 50,000 good ones cost nothing more. */
	for (size_t i = 0; i < n; i++) {
		if (us_uuid_check(ids[i]) == NULL)
			continue;
		char name[64];
		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		us_call_violation(call, name, "must be a UUID");
	}
}

void tenancy_input_optional_uuid(us_call *call, const char *field, const char *value)
{
	if (value[0] != '\0')
		tenancy_input_uuid(call, field, value);
}

void tenancy_input_name(us_call *call, const char *field, const char *value)
{
	if (strlen(value) > US_NAME_MAX_BYTES) {
		us_call_violation(call, field, "must be at most %d bytes", US_NAME_MAX_BYTES);
		return;
	}
	const char *why = us_name_check(value, US_NAME_MAX_BYTES);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

void tenancy_input_role(us_call *call, const char *field, int role)
{
	if (role < USHER__V1__ROLE__ROLE_MEMBER || role > USHER__V1__ROLE__ROLE_OWNER)
		us_call_violation(call, field, "must be member, moderator, admin or owner");
}

static bool listed_before(char *const *items, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (strcmp(items[j], items[i]) == 0)
			return true;
	}
	return false;
}

void tenancy_input_scope(us_call *call, const char *field, const Usher__V1__Scope *scope)
{
	if (scope == NULL || (!scope->organization && scope->n_subaccount_ids == 0)) {
		us_call_violation(call, field, "must be organization or list subaccount_ids");
		return;
	}
	if (scope->organization && scope->n_subaccount_ids > 0) {
		us_call_violation(call, field, "must be organization or list subaccount_ids, not both");
		return;
	}
	char name[64];
	if (scope->n_subaccount_ids > TENANCY_SCOPE_SUBACCOUNTS_MAX) {
		snprintf(name, sizeof(name), "%s.subaccount_ids", field);
		us_call_violation(call, name, "must list at most %d subaccounts",
		                  TENANCY_SCOPE_SUBACCOUNTS_MAX);
		return;
	}
	for (size_t i = 0; i < scope->n_subaccount_ids; i++) {
		snprintf(name, sizeof(name), "%s.subaccount_ids[%zu]", field, i);
		const char *why = us_uuid_check(scope->subaccount_ids[i]);
		if (why != NULL)
			us_call_violation(call, name, "%s", why);
		else if (listed_before(scope->subaccount_ids, i))
			us_call_violation(call, name, "is listed twice");
	}
}

bool tenancy_input_name_ok(const char *s, size_t max_len)
{
	size_t len = strlen(s);
	if (len == 0 || len > max_len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

void tenancy_input_names(us_call *call, const char *field, char *const *items, size_t n,
                         size_t max_items, size_t max_len)
{
	if (n > max_items) {
		us_call_violation(call, field, "must list at most %zu", max_items);
		return;
	}
	char name[64];
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		if (!tenancy_input_name_ok(items[i], max_len))
			us_call_violation(call, name, "must be 1 to %zu characters of a-z, 0-9, _ . -",
			                  max_len);
		else if (listed_before(items, i))
			us_call_violation(call, name, "is listed twice");
	}
}

void tenancy_input_product(us_call *call, const char *field, const char *value)
{
	if (!tenancy_input_name_ok(value, US_PRODUCT_NAME_MAX_BYTES))
		us_call_violation(call, field, "must be 1 to %d characters of a-z, 0-9, _ . -",
		                  US_PRODUCT_NAME_MAX_BYTES);
}

void tenancy_input_expiry(us_call *call, const char *field, uint32_t hours)
{
	if (hours > TENANCY_EXPIRY_HOURS_MAX)
		us_call_violation(call, field, "must be from 1 to %d hours (0: the default, %d)",
		                  TENANCY_EXPIRY_HOURS_MAX, TENANCY_EXPIRY_HOURS_DEFAULT);
}

const char *tenancy_input_domain_check(const char *domain)
{
	if (domain[0] == '\0')
		return "must not be empty";
	if (strlen(domain) > TENANCY_DOMAIN_MAX)
		return "must be at most " US_LIMIT_TEXT(TENANCY_DOMAIN_MAX) " characters";
	if (strchr(domain, '@') != NULL)
		return "must be a domain like example.com, without @";
	char address[US_EMAIL_MAX + 1];
	snprintf(address, sizeof(address), "x@%s", domain);
	return us_email_check(address);
}

void tenancy_input_domains(us_call *call, const char *field, char **items, size_t n)
{
	if (n > TENANCY_DOMAINS_MAX) {
		us_call_violation(call, field, "must list at most %d domains", TENANCY_DOMAINS_MAX);
		return;
	}
	char name[64];
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		/* Normalising never lengthens, so it can write over the request's copy. */
		size_t len = strlen(items[i]);
		if (len <= TENANCY_DOMAIN_MAX)
			(void)us_email_normalize(items[i], items[i], len + 1);
		const char *why = tenancy_input_domain_check(items[i]);
		if (why != NULL)
			us_call_violation(call, name, "%s", why);
		else if (listed_before(items, i))
			us_call_violation(call, name, "is listed twice");
	}
}

void tenancy_input_source(us_call *call, const char *field, const char *value)
{
	size_t len = strlen(value);
	bool ok = len > 0 && len <= TENANCY_SOURCE_MAX;
	for (size_t i = 0; ok && i < len; i++) {
		char c = value[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '_' || c == '.' || c == ':' || c == '-';
	}
	if (!ok)
		us_call_violation(call, field,
		                  "must be 1 to %d characters of A-Z, a-z, 0-9, _ . : -, like "
		                  "\"invitation:<id>\"", TENANCY_SOURCE_MAX);
}

const char *tenancy_input_actor(us_call *call)
{
	const char *actor = us_call_actor_user_id(call);
	if (actor[0] != '\0' && us_uuid_check(actor) != NULL)
		us_call_violation(call, "actor.user_id", "must be a UUID");
	return actor;
}
