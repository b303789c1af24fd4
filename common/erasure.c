#include "common/erasure.h"

#include <stdlib.h>
#include <string.h>

#include "common/audit.h"
#include "common/db.h"
#include "common/limits.h"
#include "common/validate.h"

static us_err check(us_call *call, const Usher__V1__EraseUserRequest *req)
{
	if (us_uuid_check(req->user_id) != NULL)
		us_call_violation(call, "user_id", "must be a UUID");
	if (us_uuid_check(req->pseudonym_id) != NULL)
		us_call_violation(call, "pseudonym_id", "must be a UUID");
	if (strlen(req->email) > 254)
		us_call_violation(call, "email", "must be at most 254 bytes");
	if (strlen(req->name) > US_NAME_MAX_BYTES)
		us_call_violation(call, "name", "must be at most " US_LIMIT_TEXT(US_NAME_MAX_BYTES) " bytes");
	if (req->pseudonym_email[0] == '\0' || strlen(req->pseudonym_email) > 254)
		us_call_violation(call, "pseudonym_email", "must be 1 to 254 bytes");
	return us_call_has_violations(call) ? us_call_invalid(call) : US_OK;
}

us_err us_erasure_common(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows)
{
	long changed = 0;
	us_err rc = us_audit_pseudonymise(db, req->user_id, req->email, req->pseudonym_id,
	                                  req->pseudonym_email, &changed);
	if (rc != US_OK)
		return rc;
	*rows += changed;
	/* A reply is bytes (protobuf): the person's strings appear in it as they are. */
	const char *params[] = {req->email[0] ? req->email : NULL, req->name[0] ? req->name : NULL,
	                        req->user_id};
	PGresult *res;
	rc = us_db_exec(db,
	                "DELETE FROM idempotency_keys WHERE reply IS NOT NULL AND"
	                " (position(convert_to($1::text, 'UTF8') IN reply) > 0"
	                "  OR position(convert_to($2::text, 'UTF8') IN reply) > 0"
	                "  OR position(convert_to($3::text, 'UTF8') IN reply) > 0"
	                "  OR actor = $3)",
	                3, params, &res);
	if (rc != US_OK)
		return rc;
	*rows += atol(PQcmdTuples(res));
	PQclear(res);
	return US_OK;
}

static us_err reply_rows(us_call *call, long rows, ProtobufCMessage **reply)
{
	Usher__V1__EraseUserReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__EraseUserReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__erase_user_reply__init(out);
	out->rows = rows > 0 ? (uint32_t)rows : 0;
	*reply = &out->base;
	return US_OK;
}

us_err us_erasure_step(us_call *call, const ProtobufCMessage *request, us_erase_own_rows *erase_own,
                       ProtobufCMessage **reply)
{
	const Usher__V1__EraseUserRequest *req = (const Usher__V1__EraseUserRequest *)request;
	us_err rc = check(call, req);
	if (rc != US_OK)
		return rc;
	PGconn *db = us_call_db(call);
	long rows = 0;
	rc = us_db_begin(db);
	if (rc == US_OK)
		rc = erase_own(db, req, &rows);
	if (rc == US_OK)
		rc = us_erasure_common(db, req, &rows);
	if (rc == US_OK)
		rc = us_db_commit(db);
	if (rc != US_OK) {
		us_db_rollback(db);
		return rc;
	}
	return reply_rows(call, rows, reply);
}
