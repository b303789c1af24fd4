#include "events.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/db.h"
#include "common/fault.h"
#include "common/timestamp.h"
#include "common/validate.h"
#include "access.h"
#include "context.h"
#include "events_store.h"
#include "intake.h"
#include "seal.h"
#include "webhook_sign.h"
#include "webhook_url.h"
#include "webhooks.h"
#include "usher/v1/events.pb-c.h"

#define EVENTS_PER_CALL_MAX 2000
#define EVENT_DATA_MAX 65536
#define EVENT_TYPE_MAX 64
#define TYPES_MAX 32
#define LIMIT_DEFAULT 100
#define LIMIT_MAX 500
#define DESCRIPTION_MAX 200
#define OVERLAP_DEFAULT_S 86400
#define OVERLAP_MAX_S (7 * 86400)

/* --- input --- */

static bool check_id(us_call *call, const char *field, const char *id)
{
	const char *why = id[0] == '\0' ? "is required" : us_uuid_check(id);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
	return why == NULL;
}

/* An event type: "invitation.accepted", lowercase letters, '_' and '.'. */
static const char *type_problem(const char *type)
{
	size_t len = strlen(type);
	if (len == 0 || len > EVENT_TYPE_MAX)
		return "must be 1 to 64 characters";
	for (size_t i = 0; i < len; i++) {
		char c = type[i];
		if (!((c >= 'a' && c <= 'z') || c == '_' || c == '.'))
			return "must hold only a-z, _ and .";
	}
	return NULL;
}

/* types as a text[] literal in the arena ("{}" for none), or NULL with violations. */
static const char *types_array(us_call *call, char *const *types, size_t n)
{
	if (n > TYPES_MAX) {
		us_call_violation(call, "types", "must have at most %d entries", TYPES_MAX);
		return NULL;
	}
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		const char *why = type_problem(types[i]);
		if (why != NULL) {
			us_call_violation(call, us_arena_printf(us_call_arena(call), "types[%zu]", i), "%s",
			                  why);
			ok = false;
		}
	}
	if (!ok)
		return NULL;
	const char *arr = us_db_text_array(us_call_arena(call), (const char *const *)types, n);
	if (arr == NULL)
		us_call_error(call, US_EEXHAUSTED, "out of memory");
	return arr;
}

/* --- RecordEvents --- */

/* Checks one event; false with violations. */
static bool event_valid(us_call *call, size_t i, const Usher__V1__Event *e)
{
	us_arena *a = us_call_arena(call);
	bool ok = check_id(call, us_arena_printf(a, "events[%zu].id", i), e->id);
	ok = check_id(call, us_arena_printf(a, "events[%zu].account_id", i), e->account_id) && ok;
	ok = check_id(call, us_arena_printf(a, "events[%zu].object_id", i), e->object_id) && ok;
	const char *why = type_problem(e->type);
	if (why != NULL) {
		us_call_violation(call, us_arena_printf(a, "events[%zu].type", i), "%s", why);
		ok = false;
	}
	ok = notification_intake_text(call, us_arena_printf(a, "events[%zu].actor", i), e->actor,
	                              200, true) &&
	     ok;
	ok = notification_intake_text(call, us_arena_printf(a, "events[%zu].object_type", i),
	                              e->object_type, 40, true) &&
	     ok;
	if ((why = us_timestamp_check(e->occurred_at)) != NULL) {
		us_call_violation(call, us_arena_printf(a, "events[%zu].occurred_at", i), "%s", why);
		ok = false;
	}
	json_t *data = NULL;
	if (strlen(e->data_json) > EVENT_DATA_MAX ||
	    (data = json_loads(e->data_json, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(data)) {
		us_call_violation(call, us_arena_printf(a, "events[%zu].data_json", i),
		                  "must be a JSON object of at most 65536 bytes");
		ok = false;
	}
	json_decref(data);
	return ok;
}

/* One column of the events as an array literal in the call's arena. */
static const char *column(us_call *call, const Usher__V1__RecordEventsRequest *req,
                          size_t offset)
{
	us_arena *a = us_call_arena(call);
	const char **items = US_ARENA_ARRAY(a, const char *, req->n_events);
	if (items == NULL)
		return NULL;
	for (size_t i = 0; i < req->n_events; i++)
		items[i] = *(const char *const *)((const char *)req->events[i] + offset);
	return us_db_text_array(a, items, req->n_events);
}

us_err notification_events_record_rpc(us_call *call, const ProtobufCMessage *request,
                                      ProtobufCMessage **reply)
{
	const Usher__V1__RecordEventsRequest *req = (const Usher__V1__RecordEventsRequest *)request;
	const notification_ctx *ctx = us_call_service_ctx(call);
	if (req->n_events == 0 || req->n_events > EVENTS_PER_CALL_MAX) {
		us_call_violation(call, "events", "must hold 1 to %d events", EVENTS_PER_CALL_MAX);
		return us_call_invalid(call);
	}
	bool ok = true;
	for (size_t i = 0; i < req->n_events; i++)
		ok = event_valid(call, i, req->events[i]) && ok;
	if (!ok)
		return us_call_invalid(call);
	notification_events_columns cols = {
		.id = column(call, req, offsetof(Usher__V1__Event, id)),
		.type = column(call, req, offsetof(Usher__V1__Event, type)),
		.account_id = column(call, req, offsetof(Usher__V1__Event, account_id)),
		.actor = column(call, req, offsetof(Usher__V1__Event, actor)),
		.object_type = column(call, req, offsetof(Usher__V1__Event, object_type)),
		.object_id = column(call, req, offsetof(Usher__V1__Event, object_id)),
		.data = column(call, req, offsetof(Usher__V1__Event, data_json)),
		.occurred_at = column(call, req, offsetof(Usher__V1__Event, occurred_at)),
	};
	if (cols.id == NULL || cols.type == NULL || cols.account_id == NULL || cols.actor == NULL ||
	    cols.object_type == NULL || cols.object_id == NULL || cols.data == NULL ||
	    cols.occurred_at == NULL)
		return US_EEXHAUSTED;
	PGconn *db = us_call_db(call);
	int64_t stored = 0, deliveries = 0;
	us_err rc = us_db_begin(db);
	if (rc == US_OK)
		rc = notification_events_record(db, &cols, &stored, &deliveries);
	if (rc == US_OK)
		us_fault_point("RecordEvents.before_commit");
	if (rc == US_OK)
		rc = us_db_commit(db);
	if (rc != US_OK) {
		us_db_rollback(db);
		return rc;
	}
	if (deliveries > 0)
		notification_webhooks_wake(ctx->webhooks);
	Usher__V1__RecordEventsReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                 Usher__V1__RecordEventsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__record_events_reply__init(out);
	out->stored = (uint32_t)stored;
	*reply = &out->base;
	return US_OK;
}

/* --- ListEvents --- */

static bool check_cursor(us_call *call, const char *after)
{
	size_t len = strlen(after);
	bool ok = len <= 18;
	for (size_t i = 0; ok && i < len; i++)
		ok = after[i] >= '0' && after[i] <= '9';
	if (!ok)
		us_call_violation(call, "after", "must be a sequence from an earlier reply");
	return ok;
}

static bool check_limit(us_call *call, uint32_t limit)
{
	if (limit > LIMIT_MAX)
		us_call_violation(call, "limit", "must be from 1 to %d", LIMIT_MAX);
	return limit <= LIMIT_MAX;
}

us_err notification_events_list_rpc(us_call *call, const ProtobufCMessage *request,
                                    ProtobufCMessage **reply)
{
	const Usher__V1__ListEventsRequest *req = (const Usher__V1__ListEventsRequest *)request;
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	bool ok = check_cursor(call, req->after);
	ok = check_limit(call, req->limit) && ok;
	const char *types = types_array(call, req->types, req->n_types);
	if (!ok || types == NULL)
		return us_call_has_violations(call) ? us_call_invalid(call) : US_EEXHAUSTED;
	Usher__V1__ListEventsReply *out = US_ARENA_NEW(us_call_arena(call),
	                                               Usher__V1__ListEventsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_events_reply__init(out);
	us_err rc = notification_events_list(us_call_db(call), us_call_arena(call), account,
	                                     req->after[0] ? req->after : "0", types,
	                                     req->limit ? req->limit : LIMIT_DEFAULT, &out->events,
	                                     &out->n_events);
	if (rc != US_OK)
		return rc;
	out->next_after = out->n_events > 0 ? out->events[out->n_events - 1]->sequence
	                                    : (char *)req->after;
	*reply = &out->base;
	return US_OK;
}

/* --- endpoints --- */

/* A random (version 4) UUID in the arena: the endpoint's id is the sealed secret's
 * associated data, so it is known before the row is written. */
static char *random_uuid(us_arena *a)
{
	uint8_t b[16];
	randombytes_buf(b, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	return us_arena_printf(a,
	                       "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	                       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	                       b[11], b[12], b[13], b[14], b[15]);
}

/* A new secret for endpoint id: *secret to show once, *sealed to store. */
static us_err new_secret(us_call *call, const char *id, char **secret, char **sealed)
{
	const notification_ctx *ctx = us_call_service_ctx(call);
	us_arena *a = us_call_arena(call);
	*secret = notification_webhook_secret_new(a);
	*sealed = *secret != NULL ? notification_seal(a, ctx->seal_key, *secret, strlen(*secret),
	                                              "webhook_secret", id)
	                          : NULL;
	return *sealed != NULL ? US_OK : US_EEXHAUSTED;
}

us_err notification_webhooks_create_rpc(us_call *call, const ProtobufCMessage *request,
                                        ProtobufCMessage **reply)
{
	const Usher__V1__CreateWebhookEndpointRequest *req =
	        (const Usher__V1__CreateWebhookEndpointRequest *)request;
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	const char *why = notification_webhook_url_problem(req->url);
	if (why != NULL)
		us_call_violation(call, "url", "%s", why);
	bool ok = why == NULL;
	ok = notification_intake_text(call, "description", req->description, DESCRIPTION_MAX,
	                              false) &&
	     ok;
	const char *types = types_array(call, req->types, req->n_types);
	if (!ok || types == NULL)
		return us_call_has_violations(call) ? us_call_invalid(call) : US_EEXHAUSTED;
	us_arena *a = us_call_arena(call);
	Usher__V1__CreateWebhookEndpointReply *out = US_ARENA_NEW(
	        a, Usher__V1__CreateWebhookEndpointReply);
	char *id = random_uuid(a);
	if (out == NULL || id == NULL)
		return US_EEXHAUSTED;
	usher__v1__create_webhook_endpoint_reply__init(out);
	char *sealed;
	us_err rc = new_secret(call, id, &out->secret, &sealed);
	if (rc == US_OK)
		rc = notification_webhooks_create(us_call_db(call), a, id, account, req->url,
		                                  req->description, types, sealed, &out->endpoint);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err notification_webhooks_list_rpc(us_call *call, const ProtobufCMessage *request,
                                      ProtobufCMessage **reply)
{
	const Usher__V1__ListWebhookEndpointsRequest *req =
	        (const Usher__V1__ListWebhookEndpointsRequest *)request;
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	Usher__V1__ListWebhookEndpointsReply *out = US_ARENA_NEW(
	        us_call_arena(call), Usher__V1__ListWebhookEndpointsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_webhook_endpoints_reply__init(out);
	us_err rc = notification_webhooks_list(us_call_db(call), us_call_arena(call), account,
	                                       &out->endpoints, &out->n_endpoints);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

static us_err not_found(us_call *call, us_err rc, const char *what)
{
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "no such %s", what);
	return rc;
}

us_err notification_webhooks_delete_rpc(us_call *call, const ProtobufCMessage *request,
                                        ProtobufCMessage **reply)
{
	const Usher__V1__DeleteWebhookEndpointRequest *req =
	        (const Usher__V1__DeleteWebhookEndpointRequest *)request;
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	if (!check_id(call, "id", req->id))
		return us_call_invalid(call);
	us_err rc = notification_webhooks_delete(us_call_db(call), account, req->id);
	if (rc != US_OK)
		return not_found(call, rc, "webhook endpoint");
	Usher__V1__DeleteWebhookEndpointReply *out = US_ARENA_NEW(
	        us_call_arena(call), Usher__V1__DeleteWebhookEndpointReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__delete_webhook_endpoint_reply__init(out);
	out->deleted = true;
	*reply = &out->base;
	return US_OK;
}

us_err notification_webhooks_set_enabled_rpc(us_call *call, const ProtobufCMessage *request,
                                             ProtobufCMessage **reply)
{
	const Usher__V1__SetWebhookEndpointEnabledRequest *req =
	        (const Usher__V1__SetWebhookEndpointEnabledRequest *)request;
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	if (!check_id(call, "id", req->id))
		return us_call_invalid(call);
	Usher__V1__SetWebhookEndpointEnabledReply *out = US_ARENA_NEW(
	        us_call_arena(call), Usher__V1__SetWebhookEndpointEnabledReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__set_webhook_endpoint_enabled_reply__init(out);
	us_err rc = notification_webhooks_set_enabled(us_call_db(call), us_call_arena(call), account,
	                                              req->id, req->enabled, &out->endpoint);
	if (rc != US_OK)
		return not_found(call, rc, "webhook endpoint");
	*reply = &out->base;
	return US_OK;
}

us_err notification_webhooks_rotate_rpc(us_call *call, const ProtobufCMessage *request,
                                        ProtobufCMessage **reply)
{
	const Usher__V1__RotateWebhookSecretRequest *req =
	        (const Usher__V1__RotateWebhookSecretRequest *)request;
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	bool ok = check_id(call, "id", req->id);
	if (req->overlap_seconds > OVERLAP_MAX_S) {
		us_call_violation(call, "overlap_seconds", "must be at most %d (7 days)", OVERLAP_MAX_S);
		ok = false;
	}
	if (!ok)
		return us_call_invalid(call);
	Usher__V1__RotateWebhookSecretReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                        Usher__V1__RotateWebhookSecretReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__rotate_webhook_secret_reply__init(out);
	char *sealed;
	us_err rc = new_secret(call, req->id, &out->secret, &sealed);
	if (rc == US_OK)
		rc = notification_webhooks_rotate(us_call_db(call), us_call_arena(call), account, req->id,
		                                  sealed,
		                                  req->overlap_set ? req->overlap_seconds
		                                                   : OVERLAP_DEFAULT_S,
		                                  &out->endpoint);
	if (rc != US_OK)
		return not_found(call, rc, "webhook endpoint");
	*reply = &out->base;
	return US_OK;
}

us_err notification_webhooks_deliveries_rpc(us_call *call, const ProtobufCMessage *request,
                                            ProtobufCMessage **reply)
{
	const Usher__V1__ListWebhookDeliveriesRequest *req =
	        (const Usher__V1__ListWebhookDeliveriesRequest *)request;
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	bool ok = check_id(call, "endpoint_id", req->endpoint_id);
	ok = check_limit(call, req->limit) && ok;
	if (!ok)
		return us_call_invalid(call);
	Usher__V1__ListWebhookDeliveriesReply *out = US_ARENA_NEW(
	        us_call_arena(call), Usher__V1__ListWebhookDeliveriesReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_webhook_deliveries_reply__init(out);
	us_err rc = notification_webhooks_deliveries(
	        us_call_db(call), us_call_arena(call), account, req->endpoint_id,
	        req->limit ? req->limit : LIMIT_DEFAULT, &out->deliveries, &out->n_deliveries);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err notification_webhooks_redeliver_rpc(us_call *call, const ProtobufCMessage *request,
                                           ProtobufCMessage **reply)
{
	const Usher__V1__RedeliverWebhookRequest *req =
	        (const Usher__V1__RedeliverWebhookRequest *)request;
	const notification_ctx *ctx = us_call_service_ctx(call);
	const char *account;
	us_err refused = notification_access_account(call, req->account_id, &account);
	if (refused != US_OK)
		return refused;
	if (!check_id(call, "delivery_id", req->delivery_id))
		return us_call_invalid(call);
	Usher__V1__RedeliverWebhookReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                     Usher__V1__RedeliverWebhookReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__redeliver_webhook_reply__init(out);
	us_err rc = notification_webhooks_redeliver(us_call_db(call), us_call_arena(call), account,
	                                            req->delivery_id, &out->delivery);
	if (rc != US_OK)
		return not_found(call, rc, "webhook delivery");
	notification_webhooks_wake(ctx->webhooks);
	*reply = &out->base;
	return US_OK;
}

/* --- replies holding a secret --- */

/* The secret never goes into the stored reply of an idempotent call. */
static void strip_created(ProtobufCMessage *reply)
{
	((Usher__V1__CreateWebhookEndpointReply *)reply)->secret = "";
}

static void strip_rotated(ProtobufCMessage *reply)
{
	((Usher__V1__RotateWebhookSecretReply *)reply)->secret = "";
}

/* A repeat gets the endpoint's signing secret as it is now (the caller may see it: it
 * manages the endpoint); "" once the endpoint is deleted. */
static us_err current_secret(us_call *call, const char *account_id, const char *id,
                             char **secret)
{
	const notification_ctx *ctx = us_call_service_ctx(call);
	const char *account;
	us_err refused = notification_access_account(call, account_id, &account);
	if (refused != US_OK)
		return refused;
	char *sealed;
	us_err rc = notification_webhooks_sealed_secret(us_call_db(call), us_call_arena(call),
	                                                account, id, &sealed);
	if (rc == US_ENOTFOUND) {
		*secret = "";
		return US_OK;
	}
	if (rc != US_OK)
		return rc;
	*secret = notification_unseal(us_call_arena(call), ctx->seal_key, sealed, "webhook_secret",
	                              id);
	return *secret != NULL ? US_OK : US_EINTERNAL;
}

static us_err replay_created(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage *stored, ProtobufCMessage **reply)
{
	const Usher__V1__CreateWebhookEndpointRequest *req =
	        (const Usher__V1__CreateWebhookEndpointRequest *)request;
	Usher__V1__CreateWebhookEndpointReply *kept = (Usher__V1__CreateWebhookEndpointReply *)stored;
	if (kept->endpoint == NULL)
		return US_EINTERNAL;
	us_err rc = current_secret(call, req->account_id, kept->endpoint->id, &kept->secret);
	if (rc == US_OK)
		*reply = stored;
	return rc;
}

static us_err replay_rotated(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage *stored, ProtobufCMessage **reply)
{
	const Usher__V1__RotateWebhookSecretRequest *req =
	        (const Usher__V1__RotateWebhookSecretRequest *)request;
	Usher__V1__RotateWebhookSecretReply *kept = (Usher__V1__RotateWebhookSecretReply *)stored;
	us_err rc = current_secret(call, req->account_id, req->id, &kept->secret);
	if (rc == US_OK)
		*reply = stored;
	return rc;
}

const us_rpc_reply_secret notification_events_reply_secrets[] = {
	{"usher.v1.EventService/CreateWebhookEndpoint", strip_created, replay_created},
	{"usher.v1.EventService/RotateWebhookSecret", strip_rotated, replay_rotated},
};
const size_t notification_events_n_reply_secrets =
        sizeof(notification_events_reply_secrets) / sizeof(notification_events_reply_secrets[0]);
