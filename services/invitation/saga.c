#include "saga.h"

#include "common/fault.h"
#include "common/log.h"
#include "view.h"

char *invitation_saga_key(us_arena *a, const char *invitation_id)
{
	return us_arena_printf(a, "accept:%s", invitation_id);
}

us_err invitation_saga_finish(PGconn *db, invitation_peer *p, const invitation_row *row, const char *user_id,
                       invitation_saga_result *result, Usher__V1__Membership **membership,
                       char **decided_at, char **home_url)
{
	Usher__V1__GrantMembershipRequest grant = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	grant.account_id = row->account_id;
	grant.user_id = (char *)user_id;
	grant.role = (Usher__V1__Role)row->role;
	grant.scope = invitation_view_scope(p->arena, row);
	grant.products = row->products;
	grant.n_products = row->n_products;
	grant.flags = row->flags;
	grant.n_flags = row->n_flags;
	grant.source = us_arena_printf(p->arena, "invitation:%s", row->id);
	/* tenancyd checks again that the inviter (a person or a service principal) may still
	 * grant this. */
	grant.granted_by = row->invited_by;
	grant.granted_by_principal = row->invited_by_principal;
	char *key = invitation_saga_key(p->arena, row->id);
	if (grant.scope == NULL || grant.source == NULL || key == NULL)
		return US_EEXHAUSTED;

	/* The finish runs while tenancyd grants, in a transaction committed only once the
	 * membership is granted: the commit is all that is left to wait for after. An open
	 * transaction (a retried accept's) finishes as before, in it. */
	bool ahead = PQtransactionStatus(db) == PQTRANS_IDLE &&
	             invitation_store_finish_accept_send(db, row->id, user_id) == US_OK;
	us_err rc = invitation_peer_grant_membership(p, key, &grant, membership);
	/* Not granted: the finish is undone (whatever became of it). */
	if (ahead && rc != US_OK && rc != US_EEXISTS &&
	    invitation_store_finish_accept_end(db, p->arena, false, NULL, NULL) != US_OK)
		us_debug("the finish sent ahead of a failed grant did not run");
	switch (rc) {
	case US_OK:
		*result = INVITATION_SAGA_ACCEPTED;
		break;
	case US_EEXISTS:
		*result = INVITATION_SAGA_ALREADY_MEMBER;
		break;
	case US_EDENIED:
	case US_EPRECONDITION:
	case US_EINVAL:
		us_log_fields(US_LOG_INFO, "accept can no longer succeed; revoking the invitation",
		              "invitation_id", row->id, "reason", p->status.message, NULL);
		*result = INVITATION_SAGA_REVOKED;
		return invitation_store_fail_accept(db, row->id, p->status.message);
	default:
		us_log_fields(US_LOG_WARN, "membership step failed; the accept will be resumed",
		              "invitation_id", row->id, "code", us_err_name(rc), NULL);
		*result = INVITATION_SAGA_RETRY;
		return US_OK;
	}
	us_fault_point("accept.after_membership");
	rc = ahead ? invitation_store_finish_accept_end(db, p->arena, true, decided_at, home_url)
	           : invitation_store_finish_accept(db, p->arena, row->id, user_id, decided_at,
	                                            home_url);
	if (rc == US_OK)
		us_log_fields(US_LOG_INFO, "invitation accepted", "invitation_id", row->id, "user_id",
		              user_id, NULL);
	return rc;
}
