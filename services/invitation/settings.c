#include "settings.h"

#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/validate.h"
#include "peers.h"
#include "upstream.h"
#include "usher/v1/invitation.pb-c.h"

static bool url_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"<>\\^`{|}#", c) == NULL;
}

const char *invitation_url_check(const char *url)
{
	size_t len = strlen(url);
	if (len == 0 || len > INVITATION_URL_MAX)
		return "must be 1 to 2048 bytes";
	const char *rest;
	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
		return "must be an absolute http:// or https:// URL";
	for (const char *p = url; *p; p++) {
		if (!url_char((unsigned char)*p))
			return "must not hold spaces, control characters, a fragment (#) or any of "
			       "\" < > \\ ^ ` { | }";
	}
	size_t host_len = strcspn(rest, "/?");
	if (host_len == 0)
		return "must name a host";
	for (size_t i = 0; i < host_len; i++) {
		char c = rest[i];
		if (c == '@')
			return "must not carry credentials (user@host)";
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-.:[]", c) != NULL))
			return "must have a host of letters, digits, '-', '.', and an optional port";
	}
	return NULL;
}

bool invitation_redirect_allowed(char *const *allowed, size_t n, const char *url)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(allowed[i]);
		if (strcmp(allowed[i], url) == 0)
			return true;
		if (len > 0 && allowed[i][len - 1] == '/' && strncmp(allowed[i], url, len) == 0)
			return true;
	}
	return false;
}

const char *invitation_metadata_check(const char *text)
{
	size_t len = strlen(text);
	if (len > INVITATION_METADATA_MAX)
		return "must be at most 4096 bytes";
	json_error_t error;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
	bool object = json_is_object(j);
	json_decref(j);
	if (j == NULL)
		return "must be valid JSON";
	return object ? NULL : "must be a JSON object";
}

static bool letters(const char *s, size_t n, bool digits)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (digits && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

const char *invitation_locale_check(const char *locale)
{
	static const char *const why = "must be a language tag like \"fr\" or \"de-CH\"";
	if (locale[0] == '\0')
		return NULL;
	if (strlen(locale) > INVITATION_LOCALE_MAX)
		return why;
	size_t lang = strcspn(locale, "-");
	if (lang < 2 || lang > 3 || !letters(locale, lang, false))
		return why;
	for (const char *p = locale + lang; *p == '-';) {
		size_t sub = strcspn(p + 1, "-");
		if (sub < 1 || sub > 8 || !letters(p + 1, sub, true))
			return why;
		p += 1 + sub;
	}
	return NULL;
}

/* Settings are the account's admins' (settings.update). A service principal may read those
 * of accounts in its scope but never change them: the allow-list guards where its own
 * invitations may send people. */
static us_err authorize(us_call *call, const char *account_id, bool change)
{
	const us_principal *principal = us_call_principal(call);
	const char *actor = us_call_actor_user_id(call);
	if (principal != NULL && !change && us_principal_covers(principal, account_id))
		return US_OK;
	if (actor[0] == '\0')
		return us_call_error(call, US_EDENIED,
		                     "only a person with settings.update changes invitation settings");
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	bool allowed = false;
	us_err rc = invitation_peer_check(&p, actor, account_id, "", "settings.update", &allowed);
	if (rc != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "checking permissions");
	else if (!allowed)
		rc = us_call_error(call, US_EDENIED,
		                   "you cannot manage this account's invitation settings");
	invitation_peer_clear(&p);
	return rc;
}

static us_err reply_settings(us_call *call, const invitation_account_settings *s,
                             ProtobufCMessage **reply)
{
	us_arena *a = us_call_arena(call);
	Usher__V1__InvitationSettingsReply *out = US_ARENA_NEW(a, Usher__V1__InvitationSettingsReply);
	Usher__V1__InvitationSettings *v = US_ARENA_NEW(a, Usher__V1__InvitationSettings);
	if (out == NULL || v == NULL)
		return US_EEXHAUSTED;
	usher__v1__invitation_settings_reply__init(out);
	usher__v1__invitation_settings__init(v);
	v->account_id = s->account_id;
	v->redirect_urls = s->redirect_urls;
	v->n_redirect_urls = s->n_redirect_urls;
	v->reminder_delay_hours = (uint32_t)s->reminder_delay_hours;
	v->reminders_off = s->reminders_off;
	v->email_locale = s->email_locale;
	v->notify_inviter_on_expiry = s->notify_inviter_on_expiry;
	v->home_url = s->home_url;
	out->settings = v;
	*reply = &out->base;
	return US_OK;
}

us_err invitation_get_settings(us_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **reply)
{
	const Usher__V1__GetInvitationSettingsRequest *req =
	        (const Usher__V1__GetInvitationSettingsRequest *)request;
	if (us_uuid_check(req->account_id) != NULL) {
		us_call_violation(call, "account_id", "must be a UUID");
		return us_call_invalid(call);
	}
	us_err rc = authorize(call, req->account_id, false);
	invitation_account_settings s;
	if (rc == US_OK)
		rc = invitation_store_settings_get(us_call_db(call), us_call_arena(call), req->account_id,
		                                   &s);
	if (rc != US_OK)
		return rc;
	return reply_settings(call, &s, reply);
}

us_err invitation_set_settings(us_call *call, const ProtobufCMessage *request,
                               ProtobufCMessage **reply)
{
	const Usher__V1__SetInvitationSettingsRequest *req =
	        (const Usher__V1__SetInvitationSettingsRequest *)request;
	const Usher__V1__InvitationSettings *in = req->settings;
	if (in == NULL) {
		us_call_violation(call, "settings", "is required");
		return us_call_invalid(call);
	}
	us_arena *a = us_call_arena(call);
	if (us_uuid_check(in->account_id) != NULL)
		us_call_violation(call, "settings.account_id", "must be a UUID");
	if (in->n_redirect_urls > INVITATION_REDIRECT_URLS_MAX)
		us_call_violation(call, "settings.redirect_urls", "must list at most %d URLs",
		                  INVITATION_REDIRECT_URLS_MAX);
	for (size_t i = 0; i < in->n_redirect_urls && i < INVITATION_REDIRECT_URLS_MAX; i++) {
		const char *why = invitation_url_check(in->redirect_urls[i]);
		if (why != NULL)
			us_call_violation(call, us_arena_printf(a, "settings.redirect_urls[%zu]", i), "%s",
			                  why);
	}
	if (in->reminder_delay_hours > 720)
		us_call_violation(call, "settings.reminder_delay_hours",
		                  "must be at most 720 (30 days); 0 is the default, 72");
	const char *why = invitation_locale_check(in->email_locale);
	if (why != NULL)
		us_call_violation(call, "settings.email_locale", "%s", why);
	if (in->home_url[0] != '\0' && (why = invitation_url_check(in->home_url)) != NULL)
		us_call_violation(call, "settings.home_url", "%s", why);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	us_err rc = authorize(call, in->account_id, true);
	if (rc != US_OK)
		return rc;
	invitation_account_settings s = {
		.account_id = in->account_id,
		.redirect_urls = in->redirect_urls,
		.n_redirect_urls = in->n_redirect_urls,
		.reminder_delay_hours = in->reminder_delay_hours ? (int)in->reminder_delay_hours
		                                                 : INVITATION_REMINDER_DELAY_DEFAULT_H,
		.reminders_off = in->reminders_off,
		.email_locale = in->email_locale,
		.notify_inviter_on_expiry = in->notify_inviter_on_expiry,
		.home_url = in->home_url,
	};
	rc = invitation_store_settings_put(us_call_db(call), a, &s);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "invitation settings changed", "account_id", in->account_id, NULL);
	return reply_settings(call, &s, reply);
}

us_err invitation_next_url(us_call *call, const char *account_id, const char *redirect_url,
                           char **out)
{
	if (redirect_url[0] != '\0') {
		*out = (char *)redirect_url;
		return US_OK;
	}
	invitation_account_settings s;
	us_err rc = invitation_store_settings_get(us_call_db(call), us_call_arena(call), account_id, &s);
	if (rc != US_OK)
		return rc;
	*out = s.home_url;
	return US_OK;
}
