#include "common/audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/housekeeping.h"
#include "common/limits.h"
#include "common/page_token.h"
#include "common/row.h"
#include "common/timestamp.h"
#include "common/validate.h"
#include "usher/v1/audit.pb-c.h"

#define ACTION_MAX_BYTES 100

static const char *or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

us_err us_audit_record_as(PGconn *db, const char *actor_user_id, const char *caller,
                          const us_audit_entry *e)
{
	return us_audit_record_full(db, actor_user_id, NULL, caller, e);
}

#define AUDIT_INSERT                                                                        \
	"INSERT INTO audit_log (account_id, actor_user_id, actor_principal_id,"             \
	" actor_caller, action, subject_type, subject_id, subject_email, detail)"           \
	" VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7::uuid, $8, $9)"
#define AUDIT_NPARAMS 9

static void audit_params(const char *actor_user_id, const char *actor_principal_id,
                         const char *caller, const us_audit_entry *e,
                         const char *params[AUDIT_NPARAMS])
{
	params[0] = or_null(e->account_id);
	params[1] = or_null(actor_user_id);
	params[2] = or_null(actor_principal_id);
	params[3] = caller;
	params[4] = e->action;
	params[5] = e->subject_type;
	params[6] = or_null(e->subject_id);
	params[7] = or_null(e->subject_email);
	params[8] = e->detail != NULL ? e->detail : "";
}

us_err us_audit_record_full(PGconn *db, const char *actor_user_id, const char *actor_principal_id,
                            const char *caller, const us_audit_entry *e)
{
	const char *params[AUDIT_NPARAMS];
	audit_params(actor_user_id, actor_principal_id, caller, e, params);
	return us_db_exec(db, AUDIT_INSERT, AUDIT_NPARAMS, params, NULL);
}

us_err us_audit_record(us_call *call, const us_audit_entry *e)
{
	const us_principal *principal = us_call_principal(call);
	return us_audit_record_full(us_call_db(call), us_call_actor_user_id(call),
	                            principal != NULL ? principal->id : NULL,
	                            us_call_caller_name(call), e);
}

us_err us_audit_stmt(us_call *call, const us_audit_entry *e, us_db_stmt *out)
{
	const char **params = US_ARENA_ARRAY(us_call_arena(call), const char *, AUDIT_NPARAMS);
	if (params == NULL)
		return US_EEXHAUSTED;
	const us_principal *principal = us_call_principal(call);
	audit_params(us_call_actor_user_id(call), principal != NULL ? principal->id : NULL,
	             us_call_caller_name(call), e, params);
	*out = (us_db_stmt){AUDIT_INSERT, AUDIT_NPARAMS, params, NULL, NULL};
	return US_OK;
}

/* --- ListAudit --- */

static bool action_ok(const char *a)
{
	size_t n = strlen(a);
	if (n == 0 || n > ACTION_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || a[i] == '_' || a[i] == '.'))
			return false;
	return true;
}

static void check_uuid(us_call *call, const char *field, const char *value, bool required)
{
	if (value[0] == '\0') {
		if (required)
			us_call_violation(call, field, "is required");
		return;
	}
	const char *why = us_uuid_check(value);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

static void check_time(us_call *call, const char *field, const char *value)
{
	if (value[0] == '\0')
		return;
	const char *why = us_timestamp_check(value);
	if (why != NULL)
		us_call_violation(call, field, "%s", why);
}

/* Who may read: an actor the daemon's rule allows, or an operator. */
static us_err permit(us_call *call, us_audit_authorize *authorize, const char *account_id)
{
	if (us_call_actor_user_id(call)[0] != '\0') {
		if (authorize == NULL || account_id[0] == '\0')
			return us_call_error(call, US_EDENIED, "only operators read this audit log");
		return authorize(call, account_id);
	}
	if (!us_call_is_system(call))
		return us_call_error(call, US_EDENIED, "only operators read the audit log without a person");
	return US_OK;
}

us_err us_audit_list(us_call *call, const ProtobufCMessage *request, const char *service,
                     us_audit_authorize *authorize, ProtobufCMessage **reply)
{
	const Usher__V1__ListAuditRequest *req = (const Usher__V1__ListAuditRequest *)request;
	check_uuid(call, "account_id", req->account_id, false);
	check_uuid(call, "actor_id", req->actor_id, false);
	check_uuid(call, "subject_id", req->subject_id, false);
	if (req->action[0] != '\0' && !action_ok(req->action))
		us_call_violation(call, "action", "must be an action name such as member.remove or a "
		                                  "prefix such as member.");
	check_time(call, "since", req->since);
	check_time(call, "until", req->until);
	if (req->page_size > US_PAGE_SIZE_MAX)
		us_call_violation(call, "page_size", "must be at most %d", US_PAGE_SIZE_MAX);
	us_page_cursor cursor;
	bool paged = req->page_token[0] != '\0';
	if (paged && !us_page_token_decode(req->page_token, &cursor))
		us_call_violation(call, "page_token", "is not a page token of this list");
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	us_err rc = permit(call, authorize, req->account_id);
	if (rc != US_OK)
		return rc;

	us_arena *arena = us_call_arena(call);
	uint32_t size = req->page_size != 0 ? req->page_size : US_PAGE_SIZE_DEFAULT;
	char micros[24], limit[16];
	snprintf(limit, sizeof(limit), "%u", size + 1);
	if (paged)
		snprintf(micros, sizeof(micros), "%lld", (long long)cursor.created_us);
	size_t alen = strlen(req->action);
	bool prefix = alen > 0 && req->action[alen - 1] == '.';
	const char *params[] = {
		or_null(req->account_id),
		or_null(req->actor_id),
		or_null(req->subject_id),
		or_null(req->action),
		prefix ? "t" : "f",
		or_null(req->since),
		or_null(req->until),
		paged ? micros : NULL,
		paged ? cursor.id : NULL,
		limit,
	};
	PGresult *res;
	rc = us_db_exec(us_call_db(call),
	                "SELECT id, account_id, actor_user_id, actor_principal_id, actor_caller,"
	                " action, subject_type, subject_id, subject_email, detail, " US_SQL_TIMESTAMP(
	                        "created_at") ", " US_SQL_MICROS("created_at") " FROM audit_log"
	                " WHERE account_id IS NOT DISTINCT FROM $1::uuid"
	                " AND ($2::uuid IS NULL OR actor_user_id = $2::uuid"
	                "      OR actor_principal_id = $2::uuid)"
	                " AND ($3::uuid IS NULL OR subject_id = $3::uuid)"
	                " AND ($4::text IS NULL OR (NOT $5::boolean AND action = $4)"
	                "      OR ($5::boolean AND starts_with(action, $4)))"
	                " AND ($6::timestamptz IS NULL OR created_at >= $6::timestamptz)"
	                " AND ($7::timestamptz IS NULL OR created_at < $7::timestamptz)"
	                " AND ($8::bigint IS NULL OR (created_at, id) < (" US_SQL_FROM_MICROS(
	                        "$8") ", $9::uuid))"
	                " ORDER BY created_at DESC, id DESC LIMIT $10::int",
	                10, params, &res);
	if (rc != US_OK)
		return rc;
	int rows = PQntuples(res);
	int shown = rows > (int)size ? (int)size : rows;
	us_row r = us_row_at(arena, res, 0, 0);
	Usher__V1__ListAuditReply *out = US_ROW_NEW(&r, Usher__V1__ListAuditReply);
	Usher__V1__AuditEntry **items = US_ROW_ARRAY(&r, Usher__V1__AuditEntry *, shown ? shown : 1);
	if (out != NULL && items != NULL) {
		usher__v1__list_audit_reply__init(out);
		out->next_page_token = "";
		for (int i = 0; i < shown; i++) {
			r.row = i;
			Usher__V1__AuditEntry *e = US_ROW_NEW(&r, Usher__V1__AuditEntry);
			if (e == NULL)
				break;
			usher__v1__audit_entry__init(e);
			e->id = us_row_uuid(&r, 0);
			e->account_id = us_row_uuid(&r, 1);
			e->actor_user_id = us_row_uuid(&r, 2);
			e->actor_principal_id = us_row_uuid(&r, 3);
			e->actor_caller = us_row_text(&r, 4);
			e->action = us_row_text(&r, 5);
			e->subject_type = us_row_text(&r, 6);
			e->subject_id = us_row_uuid(&r, 7);
			e->subject_email = us_row_text(&r, 8);
			e->detail = us_row_text(&r, 9);
			e->created_at = us_row_timestamp(&r, 10);
			e->service = (char *)service;
			us_page_cursor at = {.created_us = us_row_int(&r, 11)};
			snprintf(at.id, sizeof(at.id), "%s", e->id);
			char *token = US_ROW_ARRAY(&r, char, US_PAGE_TOKEN_LEN + 1);
			if (token != NULL)
				us_page_token_encode(&at, token);
			e->cursor = token != NULL ? token : "";
			items[i] = e;
		}
		out->entries = items;
		out->n_entries = (size_t)shown;
		if (rows > shown && shown > 0 && items[shown - 1] != NULL)
			out->next_page_token = items[shown - 1]->cursor;
	}
	PQclear(res);
	if (us_row_failed(&r))
		return US_EEXHAUSTED;
	*reply = &out->base;
	return US_OK;
}

us_err us_audit_pseudonymise(PGconn *db, const char *user_id, const char *email,
                             const char *pseudonym_id, const char *pseudonym_email, long *changed)
{
	const char *params[] = {user_id, or_null(email), pseudonym_id, pseudonym_email};
	PGresult *res;
	us_err rc = us_db_exec(db,
	                       "UPDATE audit_log SET"
	                       " actor_user_id = CASE WHEN actor_user_id = $1::uuid THEN $3::uuid"
	                       "                 ELSE actor_user_id END,"
	                       " subject_id = CASE WHEN subject_id = $1::uuid THEN $3::uuid"
	                       "              ELSE subject_id END,"
	                       " subject_email = CASE WHEN subject_email = $2 THEN $4"
	                       "                 ELSE subject_email END"
	                       " WHERE actor_user_id = $1::uuid OR subject_id = $1::uuid"
	                       " OR ($2::text IS NOT NULL AND subject_email = $2)",
	                       4, params, &res);
	if (rc != US_OK)
		return rc;
	if (changed != NULL)
		*changed = atol(PQcmdTuples(res));
	PQclear(res);
	return US_OK;
}

const char us_audit_purge_sql[] =
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log"
        " WHERE " US_SQL_OLDER_THAN("created_at") US_SQL_RETENTION_LIMIT ")";
