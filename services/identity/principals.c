#include "principals.h"

#include <string.h>

#include "common/audit.h"
#include "common/db.h"
#include "common/limits.h"
#include "common/log.h"
#include "store_principals.h"
#include "common/validate.h"

bool identity_principals_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > IDENTITY_PRINCIPAL_NAME_MAX || us_uuid_check(name) == NULL ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

static void check_public_key(us_call *call, const char *field, const char *hex, uint8_t out[32])
{
	if (us_public_key_parse(hex, out) != 0)
		us_call_violation(call, field, "must be an Ed25519 public key: 64 hex digits");
}

static void check_scope(us_call *call, const Usher__V1__CreatePrincipalRequest *req)
{
	if (req->all_accounts && req->n_account_ids > 0)
		us_call_violation(call, "account_ids", "must be empty when all_accounts is set");
	if (!req->all_accounts && req->n_account_ids == 0)
		us_call_violation(call, "account_ids", "must list the accounts, or set all_accounts");
	if (req->n_account_ids > IDENTITY_PRINCIPAL_ACCOUNTS_MAX) {
		us_call_violation(call, "account_ids", "must list at most %d accounts",
		                  IDENTITY_PRINCIPAL_ACCOUNTS_MAX);
	} else {
		for (size_t i = 0; i < req->n_account_ids; i++) {
			if (us_uuid_check(req->account_ids[i]) != NULL)
				us_call_violation(call, us_arena_printf(us_call_arena(call), "account_ids[%zu]", i),
				                  "must be a UUID");
		}
	}
	if (req->n_methods == 0 || req->n_methods > IDENTITY_PRINCIPAL_METHODS_MAX) {
		us_call_violation(call, "methods", "must list 1 to %d methods",
		                  IDENTITY_PRINCIPAL_METHODS_MAX);
	} else {
		for (size_t i = 0; i < req->n_methods; i++) {
			const char *why = us_method_pattern_check(req->methods[i]);
			if (why != NULL)
				us_call_violation(call, us_arena_printf(us_call_arena(call), "methods[%zu]", i),
				                  "%s", why);
		}
	}
	if ((int)req->max_role < 0 || (int)req->max_role > USHER__V1__ROLE__ROLE_OWNER)
		us_call_violation(call, "max_role", "must be a role, or unspecified to invite nobody");
}

static us_err reply_with(us_call *call, Usher__V1__Principal *p, ProtobufCMessage **reply)
{
	Usher__V1__PrincipalReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__PrincipalReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__principal_reply__init(out);
	out->principal = p;
	*reply = &out->base;
	return US_OK;
}

/* A change to p in the audit log: one row in each account of its scope, or one
 * platform-wide row (no account) for a principal over all accounts. */
static us_err audit(us_call *call, const Usher__V1__Principal *p, const char *action)
{
	const char *detail = us_arena_printf(us_call_arena(call), "principal \"%s\"", p->name);
	us_audit_entry e = {.action = action, .subject_type = "principal", .subject_id = p->id,
	                    .detail = detail};
	if (p->all_accounts || p->n_account_ids == 0)
		return us_audit_record(call, &e);
	us_err rc = US_OK;
	for (size_t i = 0; rc == US_OK && i < p->n_account_ids; i++) {
		e.account_id = p->account_ids[i];
		rc = us_audit_record(call, &e);
	}
	return rc;
}

/* The principal a request names by id or name. */
static us_err named(us_call *call, const char *ref, Usher__V1__Principal **out)
{
	if (ref[0] == '\0' || strlen(ref) > IDENTITY_PRINCIPAL_REF_MAX) {
		us_call_violation(call, "principal", "must be a principal's id or name");
		return us_call_invalid(call);
	}
	us_err rc = identity_store_principal_get(us_call_db(call), us_call_arena(call), ref, out);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "no service principal \"%s\"", ref);
	return rc;
}

us_err identity_create_principal(us_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **reply)
{
	const Usher__V1__CreatePrincipalRequest *req =
	        (const Usher__V1__CreatePrincipalRequest *)request;
	uint8_t key[US_PUBLIC_KEY_BYTES];
	if (!identity_principals_name_ok(req->name))
		us_call_violation(call, "name",
		                  "must be 1 to " US_LIMIT_TEXT(IDENTITY_PRINCIPAL_NAME_MAX)
		                  " characters of a-z, 0-9, _ . -, starting with a letter or digit, "
		                  "and not a UUID");
	check_scope(call, req);
	check_public_key(call, "public_key", req->public_key, key);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	identity_new_principal p = {
		.name = req->name,
		.all_accounts = req->all_accounts,
		.account_ids = req->account_ids,
		.n_account_ids = req->n_account_ids,
		.methods = req->methods,
		.n_methods = req->n_methods,
		.max_role = (int)req->max_role,
		.created_by = us_call_caller_name(call),
		.public_key = key,
	};
	Usher__V1__Principal *out;
	us_err rc = identity_store_principal_create(us_call_db(call), us_call_arena(call), &p, &out);
	if (rc == US_EEXISTS)
		return us_call_error(call, rc, "a service principal named \"%s\" or with this key exists",
		                     req->name);
	if (rc == US_OK)
		rc = audit(call, out, "principal.create");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "service principal created", "principal_id", out->id, "name",
	              out->name, "by", p.created_by, NULL);
	return reply_with(call, out, reply);
}

us_err identity_list_principals(us_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **reply)
{
	(void)request;
	Usher__V1__ListPrincipalsReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                   Usher__V1__ListPrincipalsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_principals_reply__init(out);
	us_err rc = identity_store_principals_list(us_call_db(call), us_call_arena(call),
	                                           &out->principals, &out->n_principals);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err identity_rotate_principal_key(us_call *call, const ProtobufCMessage *request,
                                     ProtobufCMessage **reply)
{
	const Usher__V1__RotatePrincipalKeyRequest *req =
	        (const Usher__V1__RotatePrincipalKeyRequest *)request;
	uint8_t key[US_PUBLIC_KEY_BYTES];
	check_public_key(call, "public_key", req->public_key, key);
	if (req->overlap_seconds > IDENTITY_PRINCIPAL_OVERLAP_MAX_S)
		us_call_violation(call, "overlap_seconds", "must be at most %d (30 days)",
		                  IDENTITY_PRINCIPAL_OVERLAP_MAX_S);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	Usher__V1__Principal *p;
	us_err rc = named(call, req->principal, &p);
	if (rc != US_OK)
		return rc;
	if (p->revoked_at[0] != '\0')
		return us_call_error(call, US_EPRECONDITION, "service principal \"%s\" is revoked", p->name);
	rc = identity_store_principal_add_key(us_call_db(call), p->id, key, req->overlap_seconds,
	                                      IDENTITY_PRINCIPAL_LIVE_KEYS_MAX);
	if (rc == US_EEXISTS)
		return us_call_error(call, rc, "this key is already in use");
	if (rc == US_EPRECONDITION)
		return us_call_error(call, rc,
		                     "service principal \"%s\" has %d live keys: finish a rotation first",
		                     p->name, IDENTITY_PRINCIPAL_LIVE_KEYS_MAX);
	if (rc == US_OK)
		rc = identity_store_principal_get(us_call_db(call), us_call_arena(call), p->id, &p);
	if (rc == US_OK)
		rc = audit(call, p, "principal.key.add");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "service principal key added", "principal_id", p->id, "by",
	              us_call_caller_name(call), NULL);
	return reply_with(call, p, reply);
}

us_err identity_finish_key_rotation(us_call *call, const ProtobufCMessage *request,
                                    ProtobufCMessage **reply)
{
	const Usher__V1__PrincipalRef *req = (const Usher__V1__PrincipalRef *)request;
	Usher__V1__Principal *p;
	us_err rc = named(call, req->principal, &p);
	if (rc == US_OK)
		rc = identity_store_principal_retire_keys(us_call_db(call), p->id);
	if (rc == US_OK)
		rc = identity_store_principal_get(us_call_db(call), us_call_arena(call), p->id, &p);
	if (rc == US_OK)
		rc = audit(call, p, "principal.key.retire");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "service principal's older keys retired", "principal_id", p->id,
	              "by", us_call_caller_name(call), NULL);
	return reply_with(call, p, reply);
}

us_err identity_revoke_principal(us_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **reply)
{
	const Usher__V1__PrincipalRef *req = (const Usher__V1__PrincipalRef *)request;
	Usher__V1__Principal *p;
	us_err rc = named(call, req->principal, &p);
	if (rc == US_OK)
		rc = identity_store_principal_revoke(us_call_db(call), p->id);
	if (rc == US_OK)
		rc = identity_store_principal_get(us_call_db(call), us_call_arena(call), p->id, &p);
	if (rc == US_OK)
		rc = audit(call, p, "principal.revoke");
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "service principal revoked", "principal_id", p->id, "by",
	              us_call_caller_name(call), NULL);
	return reply_with(call, p, reply);
}

us_err identity_resolve_principal(us_call *call, const ProtobufCMessage *request,
                                  ProtobufCMessage **reply)
{
	const Usher__V1__ResolvePrincipalRequest *req =
	        (const Usher__V1__ResolvePrincipalRequest *)request;
	bool by_key = req->public_key.len > 0;
	if (by_key == (req->principal_id[0] != '\0'))
		us_call_violation(call, "public_key", "give either a public key or a principal id");
	else if (by_key && req->public_key.len != US_PUBLIC_KEY_BYTES)
		us_call_violation(call, "public_key", "must be 32 bytes");
	else if (!by_key && us_uuid_check(req->principal_id) != NULL)
		us_call_violation(call, "principal_id", "must be a UUID");
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	Usher__V1__ResolvePrincipalReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                     Usher__V1__ResolvePrincipalReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__resolve_principal_reply__init(out);
	us_err rc = by_key ? identity_store_principal_by_key(us_call_db(call), us_call_arena(call),
	                                                     req->public_key.data, &out->principal,
	                                                     &out->key_expires_at_ms)
	                   : identity_store_principal_by_id(us_call_db(call), us_call_arena(call),
	                                                    req->principal_id, &out->principal);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, rc, "no such active service principal");
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err identity_principal_lookup(void *ctx, PGconn *db,
                                 const uint8_t public_key[US_PUBLIC_KEY_BYTES], us_arena *arena,
                                 us_principal **out)
{
	(void)ctx;
	if (db == NULL || us_db_ensure(db, "identity") != US_OK)
		return US_EUNAVAILABLE;
	Usher__V1__Principal *p;
	int64_t expires = 0;
	us_err rc = identity_store_principal_by_key(db, arena, public_key, &p, &expires);
	if (rc != US_OK)
		return rc;
	us_principal *got = US_ARENA_NEW(arena, us_principal);
	if (got == NULL)
		return US_EEXHAUSTED;
	*got = (us_principal){
		.id = p->id,
		.name = p->name,
		.all_accounts = p->all_accounts,
		.account_ids = p->account_ids,
		.n_account_ids = p->n_account_ids,
		.methods = p->methods,
		.n_methods = p->n_methods,
		.max_role = (int)p->max_role,
		.key_expires_at_ms = expires,
	};
	*out = got;
	return US_OK;
}
