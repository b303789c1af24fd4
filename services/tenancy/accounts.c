#include "accounts.h"

#include <string.h>

#include "common/audit.h"
#include "guard.h"
#include "common/log.h"
#include "input.h"
#include "permissions.h"
#include "products.h"
#include "store.h"
#include "usher/v1/tenancy.pb-c.h"

us_err tenancy_create_account(us_call *call, const ProtobufCMessage *request,
                              ProtobufCMessage **reply)
{
	const Usher__V1__CreateAccountRequest *req = (const Usher__V1__CreateAccountRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	tenancy_input_name(call, "name", req->name);
	tenancy_input_names(call, "products", req->products, req->n_products, US_PRODUCTS_MAX,
	                    US_PRODUCT_NAME_MAX_BYTES);
	tenancy_input_expiry(call, "invitation_expiry_hours", req->invitation_expiry_hours);
	tenancy_input_domains(call, "allowed_email_domains", req->allowed_email_domains,
	                      req->n_allowed_email_domains);
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	/* Products are the platform's, not whatever a signed-in user types. */
	tenancy_ctx *ctx = us_call_service_ctx(call);
	for (size_t i = 0; i < req->n_products; i++) {
		if (!tenancy_products_offered(ctx, req->products[i]))
			us_call_violation(call, us_arena_printf(us_call_arena(call), "products[%zu]", i),
			                  "is not a product of this platform");
	}
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	tenancy_store_new_account in = {
		.owner_id = actor,
		.name = req->name,
		.products = req->products,
		.n_products = req->n_products,
		.invitation_expiry_hours = req->invitation_expiry_hours ? req->invitation_expiry_hours
		                                                        : TENANCY_EXPIRY_HOURS_DEFAULT,
		.domains = req->allowed_email_domains,
		.n_domains = req->n_allowed_email_domains,
	};
	Usher__V1__CreateAccountReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                  Usher__V1__CreateAccountReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__create_account_reply__init(out);
	rc = tenancy_store_account_create(us_call_db(call), us_call_arena(call), &in, &out->account,
	                                  &out->owner);
	if (rc == US_OK)
		rc = us_audit_record(call, &(us_audit_entry){
		        .account_id = out->account->id, .action = "account.create",
		        .subject_type = "account", .subject_id = out->account->id,
		        .detail = us_arena_printf(us_call_arena(call), "name \"%s\"", out->account->name)});
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_get_account(us_call *call, const ProtobufCMessage *request,
                           ProtobufCMessage **reply)
{
	const Usher__V1__GetAccountRequest *req = (const Usher__V1__GetAccountRequest *)request;
	const char *actor = tenancy_input_actor(call);
	tenancy_input_uuid(call, "account_id", req->account_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__GetAccountReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__GetAccountReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__get_account_reply__init(out);
	Usher__V1__Membership *member;
	us_err rc = tenancy_guard_read(call, actor, req->account_id, &out->account, &member);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

/* Loads the account locked for a change and checks that actor may do an account-wide
 * action. */
static us_err account_action(us_call *call, const char *actor, const char *account_id,
                             const char *action, Usher__V1__Account **account)
{
	Usher__V1__Membership *member;
	int min_role;
	us_err rc = tenancy_guard_change(call, actor, account_id, TENANCY_STORE_UPDATE, account,
	                                 &member);
	if (rc == US_OK)
		rc = tenancy_guard_min_role(call, action, &min_role);
	if (rc != US_OK)
		return rc;
	return tenancy_guard_allowed(call, tenancy_access_check(us_call_arena(call), *account, member,
	                                                        min_role, "", true, ""));
}

us_err tenancy_update_account_settings(us_call *call, const ProtobufCMessage *request,
                                       ProtobufCMessage **reply)
{
	const Usher__V1__UpdateAccountSettingsRequest *req =
	        (const Usher__V1__UpdateAccountSettingsRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	tenancy_input_uuid(call, "account_id", req->account_id);
	tenancy_input_name(call, "name", req->name);
	tenancy_input_expiry(call, "invitation_expiry_hours", req->invitation_expiry_hours);
	tenancy_input_domains(call, "allowed_email_domains", req->allowed_email_domains,
	                      req->n_allowed_email_domains);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__Account *account;
	rc = account_action(call, actor, req->account_id, TENANCY_ACTION_SETTINGS_UPDATE, &account);
	if (rc != US_OK)
		return rc;
	Usher__V1__UpdateAccountSettingsReply *out =
	        US_ARENA_NEW(us_call_arena(call), Usher__V1__UpdateAccountSettingsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__update_account_settings_reply__init(out);
	uint32_t hours = req->invitation_expiry_hours ? req->invitation_expiry_hours
	                                              : TENANCY_EXPIRY_HOURS_DEFAULT;
	rc = tenancy_store_account_update(us_call_db(call), us_call_arena(call), req->account_id,
	                                  req->name, hours, req->allowed_email_domains,
	                                  req->n_allowed_email_domains, &out->account);
	if (rc == US_OK)
		rc = us_audit_record(call, &(us_audit_entry){
		        .account_id = req->account_id, .action = "settings.update",
		        .subject_type = "account", .subject_id = req->account_id,
		        .detail = us_arena_printf(us_call_arena(call),
		                                  "name \"%s\" (was \"%s\"); invitation expiry %u hours "
		                                  "(was %u); allowed domains %zu (was %zu)",
		                                  out->account->name, account->name, hours,
		                                  account->invitation_expiry_hours,
		                                  req->n_allowed_email_domains,
		                                  account->n_allowed_email_domains)});
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

static bool active_owner(const Usher__V1__Membership *m)
{
	return m != NULL && m->role == USHER__V1__ROLE__ROLE_OWNER &&
	       m->status == USHER__V1__MEMBERSHIP_STATUS__MEMBERSHIP_ACTIVE;
}

us_err tenancy_transfer_primary_ownership(us_call *call, const ProtobufCMessage *request,
                                          ProtobufCMessage **reply)
{
	const Usher__V1__TransferPrimaryOwnershipRequest *req =
	        (const Usher__V1__TransferPrimaryOwnershipRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	tenancy_input_uuid(call, "account_id", req->account_id);
	tenancy_input_uuid(call, "user_id", req->user_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__Account *account;
	Usher__V1__Membership *member, *current, *next;
	rc = tenancy_guard_change(call, actor, req->account_id, TENANCY_STORE_UPDATE, &account,
	                          &member);
	if (rc == US_OK)
		rc = tenancy_guard_membership(call, req->account_id, account->primary_owner_id, &current);
	if (rc == US_OK)
		rc = tenancy_guard_membership(call, req->account_id, req->user_id, &next);
	if (rc != US_OK)
		return rc;
	/* The primary owner hands it over; once they are no longer an active owner (they
	 * stepped down), any active owner may take it, so billing is never left ownerless. */
	bool is_primary = strcmp(actor, account->primary_owner_id) == 0;
	if (!active_owner(member) || (!is_primary && active_owner(current)))
		return us_call_error(call, US_EDENIED,
		                     "only the primary owner can hand over primary ownership");
	if (!active_owner(next))
		return us_call_error(call, US_EPRECONDITION,
		                     "primary ownership goes only to an active owner of the account");
	Usher__V1__TransferPrimaryOwnershipReply *out =
	        US_ARENA_NEW(us_call_arena(call), Usher__V1__TransferPrimaryOwnershipReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__transfer_primary_ownership_reply__init(out);
	if (strcmp(req->user_id, account->primary_owner_id) == 0)
		out->account = account;
	else
		rc = tenancy_store_account_set_primary_owner(us_call_db(call), us_call_arena(call),
		                                     req->account_id, req->user_id, &out->account);
	if (rc == US_OK && strcmp(req->user_id, account->primary_owner_id) != 0)
		rc = us_audit_record(call, &(us_audit_entry){
		        .account_id = req->account_id, .action = "account.primary_owner.transfer",
		        .subject_type = "user", .subject_id = req->user_id,
		        .detail = us_arena_printf(us_call_arena(call), "from %s",
		                                  account->primary_owner_id)});
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "primary ownership handed over", "account_id", req->account_id,
	              "user_id", req->user_id, NULL);
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_create_subaccount(us_call *call, const ProtobufCMessage *request,
                                 ProtobufCMessage **reply)
{
	const Usher__V1__CreateSubaccountRequest *req =
	        (const Usher__V1__CreateSubaccountRequest *)request;
	const char *actor = tenancy_input_actor(call);
	us_err rc = tenancy_guard_actor(call, actor);
	if (rc != US_OK)
		return rc;
	tenancy_input_uuid(call, "account_id", req->account_id);
	tenancy_input_name(call, "name", req->name);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	/* The lock makes the count of subaccounts exact under concurrent creation. */
	Usher__V1__Account *account;
	rc = account_action(call, actor, req->account_id, TENANCY_ACTION_SUBACCOUNT_CREATE, &account);
	if (rc != US_OK)
		return rc;
	Usher__V1__CreateSubaccountReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                     Usher__V1__CreateSubaccountReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__create_subaccount_reply__init(out);
	rc = tenancy_store_subaccount_create(us_call_db(call), us_call_arena(call), req->account_id,
	                                     req->name, TENANCY_SUBACCOUNTS_MAX, &out->subaccount);
	if (rc == US_EEXISTS)
		return us_call_error(call, rc, "the account already has a subaccount with this name");
	if (rc == US_EEXHAUSTED)
		return us_call_error(call, rc, "the account already has %d subaccounts, the most allowed",
		                     TENANCY_SUBACCOUNTS_MAX);
	if (rc == US_OK)
		rc = us_audit_record(call, &(us_audit_entry){
		        .account_id = req->account_id, .action = "subaccount.create",
		        .subject_type = "account", .subject_id = out->subaccount->id,
		        .detail = us_arena_printf(us_call_arena(call), "subaccount \"%s\"",
		                                  out->subaccount->name)});
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}

us_err tenancy_list_subaccounts(us_call *call, const ProtobufCMessage *request,
                                ProtobufCMessage **reply)
{
	const Usher__V1__ListSubaccountsRequest *req =
	        (const Usher__V1__ListSubaccountsRequest *)request;
	const char *actor = tenancy_input_actor(call);
	tenancy_input_uuid(call, "account_id", req->account_id);
	if (us_call_has_violations(call))
		return us_call_invalid(call);

	Usher__V1__Account *account;
	Usher__V1__Membership *member;
	us_err rc = tenancy_guard_read(call, actor, req->account_id, &account, &member);
	if (rc != US_OK)
		return rc;
	Usher__V1__ListSubaccountsReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                    Usher__V1__ListSubaccountsReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__list_subaccounts_reply__init(out);
	/* A subaccount-level member sees only the subaccounts they were added to. */
	rc = tenancy_store_subaccounts_list(us_call_db(call), us_call_arena(call), req->account_id,
	                            member != NULL ? member->scope : NULL, &out->subaccounts,
	                            &out->n_subaccounts);
	if (rc != US_OK)
		return rc;
	*reply = &out->base;
	return US_OK;
}
