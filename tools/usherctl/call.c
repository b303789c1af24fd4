#include "ctl.h"

#include <assert.h>
#include <string.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/limits.h"
#include "usher/v1/identity.pb-c.h"

#define DEFAULT_TIMEOUT_MS 2000

uint32_t ctl_timeout_ms(const ctl_ctx *ctx)
{
	if (ctx->opts.timeout_ms != 0)
		return ctx->opts.timeout_ms;
	return ctx->cmd != NULL && ctx->cmd->timeout_ms != 0 ? ctx->cmd->timeout_ms : DEFAULT_TIMEOUT_MS;
}

static char *random_hex(ctl_ctx *ctx, const char *prefix)
{
	unsigned char raw[16];
	char hex[2 * sizeof(raw) + 1];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	return us_arena_printf(ctx->arena, "%s%s", prefix, hex);
}

us_err ctl_client(ctl_ctx *ctx, const ctl_target *target, us_rpc_client **out, us_status *st)
{
	size_t t = (size_t)(target - ctl_targets);
	const char *url = ctl_target_url(target);
	if (url == NULL)
		return us_status_set(st, US_EUNAVAILABLE, "%s is not set (the address of %s)",
		                     target->env, target->daemon);
	if (ctx->clients[t] == NULL) {
		char err[256];
		us_rpc_client_opts copts = {.url = url, .caller = "usherctl",
		                            .connect_timeout_ms = ctl_timeout_ms(ctx)};
		us_err rc = us_rpc_client_open(&copts, &ctx->clients[t], err, sizeof(err));
		if (rc != US_OK)
			return us_status_set(st, rc, "%s", err);
	}
	if (!us_rpc_client_signs(ctx->clients[t]))
		return us_status_set(st, US_EUNAUTHENTICATED, "no caller key: set USHER_CALLER_KEY_FILE "
		                                              "to an operator's key");
	*out = ctx->clients[t];
	return US_OK;
}

us_err ctl_try_call(ctl_ctx *ctx, const ctl_target *target, const ProtobufCServiceDescriptor *svc,
                    const char *method, unsigned flags, const ProtobufCMessage *req,
                    ProtobufCMessage **reply, us_status *st)
{
	us_status_init(st);
	const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(svc, method);
	assert(md != NULL && md->input == req->descriptor);
	const char *url = ctl_target_url(target);
	/* The deadline covers connecting too. */
	int64_t deadline = us_monotonic_ms() + ctl_timeout_ms(ctx);
	us_rpc_client *client;
	us_err rc = ctl_client(ctx, target, &client, st);
	if (rc != US_OK)
		return rc;
	int64_t left = deadline - us_monotonic_ms();
	us_rpc_call_opts call = {
		.timeout_ms = left > 0 ? (uint32_t)left : 1,
		.request_id = random_hex(ctx, ""),
		.actor_user_id = ctx->actor_id,
	};
	if (flags & CTL_KEYED) {
		if (ctx->key == NULL)
			ctx->key = ctx->opts.idempotency_key ? ctx->opts.idempotency_key
			                                     : random_hex(ctx, "usherctl-");
		call.idempotency_key = ctx->key;
	}
	const char *full = us_arena_printf(ctx->arena, "%s/%s", svc->name, method);
	if (ctx->opts.verbose)
		fprintf(stderr, "usherctl: calling %s at %s (request id %s%s%s%s%s)\n", full, url,
		        call.request_id, ctx->actor_id ? ", as " : "", ctx->actor_id ? ctx->actor_id : "",
		        call.idempotency_key ? ", idempotency key " : "",
		        call.idempotency_key ? call.idempotency_key : "");
	return us_rpc_call(client, full, &call, req, md->output, ctx->arena, reply, st);
}

int ctl_report(ctl_ctx *ctx, us_err code, const us_status *st)
{
	/* The daemon's words, and the code for whoever greps for it. */
	fprintf(stderr, "usherctl: %s (%s)\n", st->message[0] ? st->message : us_strerror(code),
	        us_err_name(code));
	for (size_t i = 0; i < st->n_violations; i++)
		fprintf(stderr, "  %s: %s\n", st->violations[i].field, st->violations[i].description);
	if (ctx->opts.json) {
		/* The HTTP API's error document, so scripts read one shape from both. */
		json_t *violations = json_array();
		for (size_t i = 0; i < st->n_violations; i++)
			json_array_append_new(violations,
			                      json_pack("{s:s, s:s}", "field", st->violations[i].field,
			                                "description", st->violations[i].description));
		ctl_print_json(json_pack("{s:s, s:s, s:o}", "code", us_err_name(code), "message",
		                         st->message, "violations", violations));
	}
	return ctl_exit_code(code);
}

int ctl_call(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
             unsigned flags, const ProtobufCMessage *req, ProtobufCMessage **reply)
{
	const ctl_target *target = ctl_target_serving(svc->name);
	assert(target != NULL);
	if (ctl_target_url(target) == NULL)
		return ctl_usage_error("%s is not set (the address of %s)", target->env, target->daemon);
	us_status st;
	us_err rc = ctl_try_call(ctx, target, svc, method, flags, req, reply, &st);
	int code = rc == US_OK ? CTL_OK : ctl_report(ctx, rc, &st);
	us_status_clear(&st);
	return code;
}

int ctl_call_pages(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
                   ProtobufCMessage *req, uint32_t limit, ProtobufCMessage **reply)
{
	const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(svc, method);
	assert(md != NULL);
	const ProtobufCFieldDescriptor *size_f = ctl_field_of(req->descriptor, "page_size");
	const ProtobufCFieldDescriptor *token_f = ctl_field_of(req->descriptor, "page_token");
	const ProtobufCFieldDescriptor *next_f = ctl_field_of(md->output, "next_page_token");
	const ProtobufCFieldDescriptor *items_f = NULL;
	for (unsigned i = 0; i < md->output->n_fields && items_f == NULL; i++) {
		const ProtobufCFieldDescriptor *f = &md->output->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE)
			items_f = f;
	}
	assert(items_f != NULL);

	ProtobufCMessage **all = NULL;
	size_t n = 0, cap = 0;
	ProtobufCMessage *page;
	for (;;) {
		uint32_t want = US_PAGE_SIZE_MAX;
		if (limit != 0 && limit - n < want)
			want = limit - (uint32_t)n;
		*CTL_MEMBER(req, size_f, uint32_t) = want;
		int rc = ctl_call(ctx, svc, method, 0, req, &page);
		if (rc != CTL_OK)
			return rc;
		size_t got = *CTL_REPEATED_N(page, items_f);
		ProtobufCMessage **items = *CTL_MEMBER(page, items_f, ProtobufCMessage **);
		if (n + got > cap) {
			cap = (n + got) * 2;
			ProtobufCMessage **grown = US_ARENA_ARRAY(ctx->arena, ProtobufCMessage *, cap);
			if (grown == NULL)
				return ctl_fail("out of memory");
			if (n > 0)
				memcpy(grown, all, n * sizeof(*all));
			all = grown;
		}
		if (got > 0)
			memcpy(all + n, items, got * sizeof(*items));
		n += got;
		char *next = *CTL_MEMBER(page, next_f, char *);
		*CTL_MEMBER(req, token_f, char *) = next;
		/* An empty page ends it too, whatever its token says, so a server bug cannot
		 * keep usherctl asking for ever. */
		if (next == NULL || next[0] == '\0' || got == 0 || (limit != 0 && n >= limit))
			break;
	}
	*CTL_MEMBER(page, items_f, ProtobufCMessage **) = all;
	*CTL_REPEATED_N(page, items_f) = n;
	*reply = page;
	return CTL_OK;
}

void ctl_note_more(const ProtobufCMessage *reply, const char *what, uint32_t limit)
{
	const char *next = *CTL_MEMBER(reply, ctl_field_of(reply->descriptor, "next_page_token"), char *);
	if (next != NULL && next[0] != '\0')
		fprintf(stderr, "usherctl: more than %u %s match; raise --limit to see them\n", limit,
		        what);
}

int ctl_call_show(ctl_ctx *ctx, const ProtobufCServiceDescriptor *svc, const char *method,
                  unsigned flags, const ProtobufCMessage *req, const char *field)
{
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, svc, method, flags, req, &reply);
	if (rc != CTL_OK)
		return rc;
	if (ctx->opts.json) {
		ctl_print_message_json(reply);
		return CTL_OK;
	}
	const ProtobufCMessage *m = *CTL_MEMBER(reply, ctl_field_of(reply->descriptor, field), ProtobufCMessage *);
	if (m != NULL)
		ctl_print_record(ctx, m);
	return CTL_OK;
}

int ctl_resolve_user(ctl_ctx *ctx, const char *user, char **id)
{
	if (strchr(user, '@') == NULL) {
		*id = (char *)user;
		return CTL_OK;
	}
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = (char **)&user;
	req.n_emails = 1;
	ProtobufCMessage *reply;
	int rc = ctl_call(ctx, &usher__v1__identity_service__descriptor, "LookupEmails", 0, &req.base,
	                  &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__LookupEmailsReply *r = (const Usher__V1__LookupEmailsReply *)reply;
	if (r->n_matches == 0) {
		us_status st;
		us_status_init(&st);
		us_status_set(&st, US_ENOTFOUND, "no user has the email \"%s\"", user);
		rc = ctl_report(ctx, US_ENOTFOUND, &st);
		us_status_clear(&st);
		return rc;
	}
	*id = r->matches[0]->user_id;
	return CTL_OK;
}

