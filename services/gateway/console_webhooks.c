#include "console_webhooks.h"

#include <string.h>

#include "backend.h"
#include "common/validate.h"
#include "context.h"
#include "usher/v1/events.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define EVENTS "usher.v1.EventService/"
#define TYPES_MAX 32
#define LOG_LIMIT 50

static us_err call(console *c, const char *method, const ProtobufCMessage *in,
                   const ProtobufCMessageDescriptor *type, ProtobufCMessage **out, us_status *st)
{
	return gateway_backend_call(c->req, GATEWAY_NOTIFICATION, method, c->user->id, in, type,
	                            out, st);
}

static void failed(console *c, us_err rc, us_status *st)
{
	console_failure(c, rc, st->message);
	us_status_clear(st);
}

bool gateway_console_may_manage_webhooks(console *c)
{
	Usher__V1__CheckRequest in = USHER__V1__CHECK_REQUEST__INIT;
	in.user_id = c->user->id;
	in.account_id = c->account->id;
	in.action = "webhooks.manage";
	Usher__V1__CheckReply *out;
	us_status st;
	us_err rc = gateway_backend_call(c->req, GATEWAY_TENANCY, "usher.v1.TenancyService/Check",
	                                 c->user->id, &in.base, &usher__v1__check_reply__descriptor,
	                                 (ProtobufCMessage **)&out, &st);
	us_status_clear(&st);
	return rc == US_OK && out->allowed;
}

static const char *page_url(console *c, const char *endpoint, const char *flash)
{
	const char *s = endpoint != NULL
	                        ? us_arena_printf(c->req->arena, "/a/%s/webhooks/%s?m=%s",
	                                          c->account->id, endpoint, flash)
	                        : us_arena_printf(c->req->arena, "/a/%s/webhooks?m=%s",
	                                          c->account->id, flash);
	return s != NULL ? s : "/accounts";
}

/* --- the endpoints --- */

static const char *endpoint_status(console *c, const Usher__V1__WebhookEndpoint *e)
{
	if (!e->enabled)
		return us_arena_printf(c->req->arena, "Disabled: %s",
		                       e->disabled_reason[0] ? e->disabled_reason : "by hand");
	if (e->failing_since[0])
		return us_arena_printf(c->req->arena, "Enabled, failing since %s", e->failing_since);
	return "Enabled";
}

/* The list page; secret_html (may be "") shows a secret just made, once. */
static void list_page(console *c, const char *secret_html)
{
	Usher__V1__ListWebhookEndpointsRequest in = USHER__V1__LIST_WEBHOOK_ENDPOINTS_REQUEST__INIT;
	in.account_id = c->account->id;
	Usher__V1__ListWebhookEndpointsReply *out;
	us_status st;
	us_err rc = call(c, EVENTS "ListWebhookEndpoints", &in.base,
	                 &usher__v1__list_webhook_endpoints_reply__descriptor,
	                 (ProtobufCMessage **)&out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	const char *table;
	if (out->n_endpoints == 0) {
		table = console_fragment(c, "empty", (const char *const[]){"message", "No endpoints yet.", NULL});
	} else {
		us_buf rows = US_BUF_INIT;
		for (size_t i = 0; i < out->n_endpoints; i++) {
			const Usher__V1__WebhookEndpoint *e = out->endpoints[i];
			const char *types = e->n_types ? console_join(c, e->types, e->n_types, ", ")
			                               : "Every type";
			const char *const vars[] = {
			        "url", e->url, "types", types, "status", endpoint_status(c, e),
			        "account_id", c->account->id, "id", e->id, "csrf", c->csrf,
			        "toggle", e->enabled ? "disable" : "enable",
			        "toggle_label", e->enabled ? "Disable" : "Enable", NULL};
			console_append(&rows, "webhooks_row", vars);
		}
		table = console_fragment(c, "webhooks_table",
		                         (const char *const[]){"rows", console_take(c, &rows), NULL});
	}
	const char *const vars[] = {"account_name", c->account->name, "account_id", c->account->id,
	                            "csrf", c->csrf, "secret", secret_html, "endpoints", table,
	                            NULL};
	console_render(c, 200, "Webhooks", console_flash(c), false, "webhooks", vars);
}

static const char *secret_html(console *c, const Usher__V1__WebhookEndpoint *e,
                               const char *secret)
{
	return console_fragment(c, "webhook_secret", (const char *const[]){
	        "url", e != NULL ? e->url : "the endpoint", "secret", secret, NULL});
}

/* The "types" field: event types separated by commas or spaces (notificationd checks
 * each); NULL when more than TYPES_MAX. */
static char **types_field(console *c, size_t *n)
{
	char *copy = us_arena_strdup(c->req->arena, console_field(c, "types"));
	char **out = US_ARENA_ARRAY(c->req->arena, char *, TYPES_MAX);
	*n = 0;
	if (copy == NULL || out == NULL)
		return NULL;
	char *save = NULL;
	for (char *w = strtok_r(copy, ",; \t\r\n", &save); w != NULL;
	     w = strtok_r(NULL, ",; \t\r\n", &save)) {
		if (*n == TYPES_MAX)
			return NULL;
		out[(*n)++] = w;
	}
	return out;
}

static void create_post(console *c)
{
	Usher__V1__CreateWebhookEndpointRequest in =
	        USHER__V1__CREATE_WEBHOOK_ENDPOINT_REQUEST__INIT;
	in.account_id = c->account->id;
	in.url = (char *)console_field(c, "url");
	in.description = (char *)console_field(c, "description");
	in.types = types_field(c, &in.n_types);
	if (in.types == NULL) {
		console_failure(c, US_EINVAL, "Give at most 32 event types.");
		return;
	}
	Usher__V1__CreateWebhookEndpointReply *out;
	us_status st;
	us_err rc = call(c, EVENTS "CreateWebhookEndpoint", &in.base,
	                 &usher__v1__create_webhook_endpoint_reply__descriptor,
	                 (ProtobufCMessage **)&out, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	/* Shown in this reply only (every reply is no-store): a redirect would carry it. */
	list_page(c, secret_html(c, out->endpoint, out->secret));
}

static void endpoint_post(console *c, const char *id, const char *action)
{
	ProtobufCMessage *out;
	us_status st;
	us_err rc;
	const char *flash;
	if (strcmp(action, "enable") == 0 || strcmp(action, "disable") == 0) {
		Usher__V1__SetWebhookEndpointEnabledRequest in =
		        USHER__V1__SET_WEBHOOK_ENDPOINT_ENABLED_REQUEST__INIT;
		in.account_id = c->account->id;
		in.id = (char *)id;
		in.enabled = action[0] == 'e';
		rc = call(c, EVENTS "SetWebhookEndpointEnabled", &in.base,
		          &usher__v1__set_webhook_endpoint_enabled_reply__descriptor, &out, &st);
		flash = in.enabled ? "webhook-enabled" : "webhook-disabled";
	} else if (strcmp(action, "delete") == 0) {
		Usher__V1__DeleteWebhookEndpointRequest in =
		        USHER__V1__DELETE_WEBHOOK_ENDPOINT_REQUEST__INIT;
		in.account_id = c->account->id;
		in.id = (char *)id;
		rc = call(c, EVENTS "DeleteWebhookEndpoint", &in.base,
		          &usher__v1__delete_webhook_endpoint_reply__descriptor, &out, &st);
		flash = "webhook-deleted";
	} else if (strcmp(action, "rotate") == 0) {
		Usher__V1__RotateWebhookSecretRequest in = USHER__V1__ROTATE_WEBHOOK_SECRET_REQUEST__INIT;
		in.account_id = c->account->id;
		in.id = (char *)id;
		rc = call(c, EVENTS "RotateWebhookSecret", &in.base,
		          &usher__v1__rotate_webhook_secret_reply__descriptor, &out, &st);
		if (rc != US_OK) {
			failed(c, rc, &st);
			return;
		}
		us_status_clear(&st);
		const Usher__V1__RotateWebhookSecretReply *r = (const Usher__V1__RotateWebhookSecretReply *)out;
		list_page(c, secret_html(c, r->endpoint, r->secret));
		return;
	} else if (strcmp(action, "redeliver") == 0) {
		Usher__V1__RedeliverWebhookRequest in = USHER__V1__REDELIVER_WEBHOOK_REQUEST__INIT;
		in.account_id = c->account->id;
		in.delivery_id = (char *)console_field(c, "delivery_id");
		rc = call(c, EVENTS "RedeliverWebhook", &in.base,
		          &usher__v1__redeliver_webhook_reply__descriptor, &out, &st);
		if (rc != US_OK) {
			failed(c, rc, &st);
			return;
		}
		us_status_clear(&st);
		console_redirect(c, page_url(c, id, "webhook-redelivered"));
		return;
	} else {
		console_failure(c, US_ENOTFOUND, "There is no such action.");
		return;
	}
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	console_redirect(c, page_url(c, NULL, flash));
}

/* --- one endpoint's delivery log --- */

static const char *state_name(Usher__V1__WebhookDeliveryState s)
{
	switch (s) {
	case USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_PENDING: return "Pending";
	case USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_SUCCEEDED: return "Succeeded";
	case USHER__V1__WEBHOOK_DELIVERY_STATE__WEBHOOK_DELIVERY_FAILED: return "Failed";
	default: return "Unknown";
	}
}

static void log_page(console *c, const char *endpoint_id)
{
	Usher__V1__ListWebhookEndpointsRequest lin = USHER__V1__LIST_WEBHOOK_ENDPOINTS_REQUEST__INIT;
	lin.account_id = c->account->id;
	Usher__V1__ListWebhookEndpointsReply *endpoints;
	us_status st;
	us_err rc = call(c, EVENTS "ListWebhookEndpoints", &lin.base,
	                 &usher__v1__list_webhook_endpoints_reply__descriptor,
	                 (ProtobufCMessage **)&endpoints, &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	const Usher__V1__WebhookEndpoint *e = NULL;
	for (size_t i = 0; i < endpoints->n_endpoints && e == NULL; i++) {
		if (strcmp(endpoints->endpoints[i]->id, endpoint_id) == 0)
			e = endpoints->endpoints[i];
	}
	if (e == NULL) {
		console_message(c, 404, "Endpoint not found", "There is no such webhook endpoint.",
		                page_url(c, NULL, ""), "Webhooks");
		return;
	}
	Usher__V1__ListWebhookDeliveriesRequest in = USHER__V1__LIST_WEBHOOK_DELIVERIES_REQUEST__INIT;
	in.account_id = c->account->id;
	in.endpoint_id = (char *)endpoint_id;
	in.limit = LOG_LIMIT;
	Usher__V1__ListWebhookDeliveriesReply *out;
	rc = call(c, EVENTS "ListWebhookDeliveries", &in.base,
	          &usher__v1__list_webhook_deliveries_reply__descriptor, (ProtobufCMessage **)&out,
	          &st);
	if (rc != US_OK) {
		failed(c, rc, &st);
		return;
	}
	us_status_clear(&st);
	const char *table;
	if (out->n_deliveries == 0) {
		table = console_fragment(c, "empty", (const char *const[]){"message", "No deliveries yet.", NULL});
	} else {
		us_buf rows = US_BUF_INIT;
		for (size_t i = 0; i < out->n_deliveries; i++) {
			const Usher__V1__WebhookDelivery *d = out->deliveries[i];
			const Usher__V1__WebhookAttempt *last =
			        d->n_attempt_log ? d->attempt_log[d->n_attempt_log - 1] : NULL;
			const char *code = last == NULL            ? "None yet"
			                   : last->status_code != 0 ? us_arena_printf(c->req->arena, "%u",
			                                                             last->status_code)
			                                           : last->error;
			const char *const vars[] = {
			        "event_type", d->event_type, "state", state_name(d->state),
			        "attempts", us_arena_printf(c->req->arena, "%u", d->attempts),
			        "code", code, "created", d->created_at, "account_id", c->account->id,
			        "endpoint_id", endpoint_id, "id", d->id, "csrf", c->csrf, NULL};
			console_append(&rows, "webhook_log_row", vars);
		}
		table = console_fragment(c, "webhook_log_table",
		                         (const char *const[]){"rows", console_take(c, &rows), NULL});
	}
	const char *const vars[] = {"url", e->url, "account_id", c->account->id, "deliveries", table,
	                            NULL};
	console_render(c, 200, "Delivery log", console_flash(c), false, "webhook_log", vars);
}

void gateway_console_webhooks(console *c, bool post, const char *a, const char *b)
{
	bool id_ok = a[0] != '\0' && us_uuid_check(a) == NULL;
	if (!post && a[0] == '\0')
		list_page(c, "");
	else if (post && a[0] == '\0')
		create_post(c);
	else if (!post && id_ok && b[0] == '\0')
		log_page(c, a);
	else if (post && id_ok && b[0] != '\0')
		endpoint_post(c, a, b);
	else
		console_message(c, 404, "Page not found", "There is no such page.", "/accounts",
		                "My accounts");
}
