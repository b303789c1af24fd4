/* All of tenancyd's SQL. Each function runs on the caller's connection (for a mutating
 * method, inside its idempotency transaction), builds what it returns in the arena as
 * usher.v1 messages, and returns NOT_FOUND or ALREADY_EXISTS for the expected misses. */
#ifndef TENANCY_STORE_H
#define TENANCY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "usher/v1/erasure.pb-c.h"
#include "common/arena.h"
#include "common/db.h"
#include "common/err.h"
#include "common/page_token.h"
#include "usher/v1/tenancy.pb-c.h"

/* How tenancy_store_account_get() locks the account's row until the transaction ends. */
typedef enum tenancy_store_lock {
	TENANCY_STORE_NO_LOCK,
	TENANCY_STORE_SHARE,  /* grants: many at once, none while memberships are managed */
	TENANCY_STORE_UPDATE, /* managing memberships: one at a time per account */
} tenancy_store_lock;

typedef struct tenancy_store_new_account {
	const char *owner_id;
	const char *name;
	char *const *products;
	size_t n_products;
	uint32_t invitation_expiry_hours;
	char *const *domains;
	size_t n_domains;
} tenancy_store_new_account;

/* The account and its primary owner's membership, organization-wide with every
 * product. */
US_MUST_USE us_err tenancy_store_account_create(PGconn *db, us_arena *a,
                                                const tenancy_store_new_account *in,
                                                Usher__V1__Account **account,
                                                Usher__V1__Membership **owner);

US_MUST_USE us_err tenancy_store_account_get(PGconn *db, us_arena *a, const char *account_id,
                                             tenancy_store_lock lock, Usher__V1__Account **out);

US_MUST_USE us_err tenancy_store_account_update(PGconn *db, us_arena *a, const char *account_id,
                                                const char *name, uint32_t invitation_expiry_hours,
                                                char *const *domains, size_t n_domains,
                                                Usher__V1__Account **out);

US_MUST_USE us_err tenancy_store_account_set_primary_owner(PGconn *db, us_arena *a,
                                                   const char *account_id, const char *user_id,
                                                   Usher__V1__Account **out);

/* RESOURCE_EXHAUSTED when the account already has max subaccounts; ALREADY_EXISTS when
 * one has this name. */
US_MUST_USE us_err tenancy_store_subaccount_create(PGconn *db, us_arena *a, const char *account_id,
                                                   const char *name, size_t max,
                                                   Usher__V1__Subaccount **out);

/* The account's subaccounts by name; only those within scope unless it is NULL. */
US_MUST_USE us_err tenancy_store_subaccounts_list(PGconn *db, us_arena *a, const char *account_id,
                                                  const Usher__V1__Scope *within,
                                                  Usher__V1__Subaccount ***out, size_t *n);

/* The indexes (ascending) of the ids that are not subaccounts of the account. */
US_MUST_USE us_err tenancy_store_subaccounts_missing(PGconn *db, us_arena *a,
                                                     const char *account_id, char *const *ids,
                                                     size_t n, size_t **missing, size_t *n_missing);

US_MUST_USE us_err tenancy_store_membership_get(PGconn *db, us_arena *a, const char *account_id,
                                                const char *user_id, Usher__V1__Membership **out);

/* What Check needs, in one round trip: the account, user_id's membership in it (NULL
 * when none) and whether subaccount_id ("" for none) is one of its subaccounts.
 * NOT_FOUND when the account does not exist. */
US_MUST_USE us_err tenancy_store_check_facts(PGconn *db, us_arena *a, const char *account_id,
                                             const char *user_id, const char *subaccount_id,
                                             Usher__V1__Account **account,
                                             Usher__V1__Membership **member,
                                             bool *subaccount_in_account);

typedef struct tenancy_store_new_membership {
	const char *account_id;
	const char *user_id;
	int role;
	const Usher__V1__Scope *scope;
	char *const *products;
	size_t n_products;
	char *const *flags;
	size_t n_flags;
	const char *source;
} tenancy_store_new_membership;

/* What GrantMembership learns with its insert. */
typedef struct tenancy_store_grant_facts {
	Usher__V1__Account *account;
	size_t *missing; /* indexes of the scope's subaccount ids not in the account */
	size_t n_missing;
	Usher__V1__Membership *granter;    /* NULL when none or not asked */
	Usher__V1__Membership *membership; /* as inserted; NULL when not */
} tenancy_store_grant_facts;

/* In one round trip, inside the caller's transaction: locks the account FOR SHARE
 * (NOT_FOUND when there is none), reads granter_id's membership in it as it stands after
 * the lock (none when granter_id is NULL), inserts the membership unless the user has
 * one there already or a subaccount of the scope is missing, then runs then (the audit
 * row, written whatever came of the insert). The caller judges the facts and rolls back
 * on a refusal. */
US_MUST_USE us_err tenancy_store_grant(PGconn *db, us_arena *a,
                                       const tenancy_store_new_membership *in,
                                       const char *granter_id, const us_db_stmt *then,
                                       tenancy_store_grant_facts *out);

/* Sets the role; an organization-level membership drops its subaccount list. */
US_MUST_USE us_err tenancy_store_membership_set_role(PGconn *db, us_arena *a,
                                             const Usher__V1__Membership *m, int role,
                                             bool organization, Usher__V1__Membership **out);

/* Replaces m's flags; *out is the membership as it now is. */
US_MUST_USE us_err tenancy_store_membership_set_flags(PGconn *db, us_arena *a,
                                                      const Usher__V1__Membership *m,
                                                      char *const *flags, size_t n_flags,
                                                      Usher__V1__Membership **out);

US_MUST_USE us_err tenancy_store_membership_set_scope(PGconn *db, us_arena *a,
                                                      const Usher__V1__Membership *m,
                                                      const Usher__V1__Scope *scope,
                                                      char *const *products, size_t n_products,
                                                      Usher__V1__Membership **out);

US_MUST_USE us_err tenancy_store_membership_set_status(PGconn *db, us_arena *a,
                                                       const Usher__V1__Membership *m, int status,
                                                       Usher__V1__Membership **out);

US_MUST_USE us_err tenancy_store_membership_delete(PGconn *db, const Usher__V1__Membership *m);

/* How many active owners the account has besides membership m. */
US_MUST_USE us_err tenancy_store_other_active_owners(PGconn *db, const Usher__V1__Membership *m,
                                                     long *n);

typedef struct tenancy_store_member_query {
	const char *account_id;
	int role;                  /* 0: any */
	int status;                /* 0: any */
	const char *subaccount_id; /* "": any */
	const us_page_cursor *after; /* NULL: from the start */
	size_t limit;
} tenancy_store_member_query;

/* Up to q->limit memberships after q->after; cursors[i] is the position of out[i]. */
US_MUST_USE us_err tenancy_store_members_list(PGconn *db, us_arena *a,
                                              const tenancy_store_member_query *q,
                                              Usher__V1__Membership ***out,
                                              us_page_cursor **cursors, size_t *n);

/* Up to limit accounts after the position, oldest first, whose name contains
 * name_contains (case-insensitive; NULL: any); cursors[i] is the position of out[i]. */
US_MUST_USE us_err tenancy_store_accounts_list(PGconn *db, us_arena *a, const char *name_contains,
                                               const us_page_cursor *after, size_t limit,
                                               Usher__V1__Account ***out, us_page_cursor **cursors,
                                               size_t *n);

/* The user's memberships (account_name filled), at most limit, by account name. */
US_MUST_USE us_err tenancy_store_memberships_of_user(PGconn *db, us_arena *a, const char *user_id,
                                                     size_t limit, Usher__V1__Membership ***out,
                                                     size_t *n);

/* Which of user_ids have a membership in the account, in one statement. */
US_MUST_USE us_err tenancy_store_members_among(PGconn *db, us_arena *a, const char *account_id,
                                               char *const *user_ids, size_t n, char ***out,
                                               size_t *n_out);

/* Deletes the user's memberships; an account they were primary owner of names the
 * pseudonym (it keeps a primary owner of record until another takes it). */
US_MUST_USE us_err tenancy_store_erase_user(PGconn *db, const Usher__V1__EraseUserRequest *req, long *rows);

#endif
