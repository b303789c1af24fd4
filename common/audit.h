/* The audit log (docs/audit.md): who did what to whom and when. Every schema has an
 * audit_log table (common migration 0003); a daemon records a change there in the same
 * transaction as the change, with one us_audit_record() call at the site, and serves its
 * own rows with usher.v1.AuditService/ListAudit. Readers merge the services' lists by
 * time (audit_merge.h). */
#ifndef US_AUDIT_H
#define US_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/db.h"
#include "common/err.h"
#include "common/rpc_server.h"

/* One change. Strings are borrowed; NULL and "" are the same (no value). */
typedef struct us_audit_entry {
	const char *account_id;    /* a UUID; none for a platform-wide change */
	const char *action;        /* "member.remove": the permission-matrix name where one exists */
	const char *subject_type;  /* "user", "invitation", "link", "account", "principal" */
	const char *subject_id;    /* a UUID */
	const char *subject_email; /* an address the change names (an invitation's) */
	const char *detail;        /* a short summary: "role member -> admin"; at most 2000 bytes */
} us_audit_entry;

/* Records e on the call's connection, so inside the transaction of an idempotent method;
 * the actor is the call's: its person, its service principal and its caller's name. */
US_MUST_USE us_err us_audit_record(us_call *call, const us_audit_entry *e);

/* As us_audit_record(), as a statement to send with others in one round trip
 * (us_db_pipeline); its parameters live in the call's arena. */
US_MUST_USE us_err us_audit_stmt(us_call *call, const us_audit_entry *e, us_db_stmt *out);

/* As us_audit_record() for work done outside a call (a saga's step, an upkeep job):
 * actor_user_id may be NULL; caller names who did it ("usher-invitationd"). */
US_MUST_USE us_err us_audit_record_as(PGconn *db, const char *actor_user_id,
                                      const char *caller, const us_audit_entry *e);

/* The same with a service principal as actor (actor_principal_id may be NULL). */
US_MUST_USE us_err us_audit_record_full(PGconn *db, const char *actor_user_id,
                                        const char *actor_principal_id, const char *caller,
                                        const us_audit_entry *e);

/* May the call's actor read account_id's audit log? US_OK, or the error to answer. The
 * daemon's own state is us_call_service_ctx(call), as in its other handlers. */
typedef us_err us_audit_authorize(us_call *call, const char *account_id);

/* The body of a daemon's usher.v1.AuditService/ListAudit handler over its audit_log:
 * checks the request, then who asks (an actor: authorize, which may be NULL when only
 * operators read this log; no actor: the "system" right), then lists. service names the
 * daemon in the entries ("tenancy"). */
US_MUST_USE us_err us_audit_list(us_call *call, const ProtobufCMessage *request,
                                 const char *service, us_audit_authorize *authorize,
                                 ProtobufCMessage **reply);

/* Replaces user_id (as actor or subject) and email (as subject_email) in every audit row
 * with pseudonym_id (a UUID) and pseudonym_email, so the log still shows that one person
 * did these things but no longer who. email may be NULL. *changed (may be NULL) gets the
 * number of rows changed. */
US_MUST_USE us_err us_audit_pseudonymise(PGconn *db, const char *user_id, const char *email,
                                         const char *pseudonym_id, const char *pseudonym_email,
                                         long *changed);

/* The retention statement of audit_log (retention.h): rows older than $1 days. */
extern const char us_audit_purge_sql[];

#endif
