/* Checks of request fields. Each records a violation naming the field on the call
 * (us_call_violation) and returns nothing: a handler runs all its checks, then answers
 * us_call_invalid() when any failed, before doing any work. */
#ifndef TENANCY_INPUT_H
#define TENANCY_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/limits.h"
#include "common/rpc_server.h"
#include "usher/v1/tenancy.pb-c.h"

#define TENANCY_FLAG_MAX 64
#define TENANCY_FLAGS_MAX 32
#define TENANCY_SOURCE_MAX 100
#define TENANCY_DOMAINS_MAX 100
#define TENANCY_DOMAIN_MAX 252        /* so that an address at it fits in 254 bytes */
#define TENANCY_SCOPE_SUBACCOUNTS_MAX 1000
#define TENANCY_EXPIRY_HOURS_DEFAULT 168
#define TENANCY_EXPIRY_HOURS_MAX 720

/* A canonical lowercase UUID; required. */
void tenancy_input_uuid(us_call *call, const char *field, const char *value);

/* "" or a UUID. */
void tenancy_input_optional_uuid(us_call *call, const char *field, const char *value);

/* At most US_BATCH_MAX user ids, each a UUID (field[i] named only for a bad one). */
void tenancy_input_user_ids(us_call *call, const char *field, char *const *ids, size_t n);

/* A non-empty name of at most US_NAME_MAX_BYTES bytes. */
void tenancy_input_name(us_call *call, const char *field, const char *value);

/* member, moderator, admin or owner. */
void tenancy_input_role(us_call *call, const char *field, int role);

/* Exactly one of organization or 1 to TENANCY_SCOPE_SUBACCOUNTS_MAX distinct UUIDs. */
void tenancy_input_scope(us_call *call, const char *field, const Usher__V1__Scope *scope);

/* At most max_items distinct names of 1 to max_len of [a-z0-9_.-] (products, flags). */
void tenancy_input_names(us_call *call, const char *field, char *const *items, size_t n,
                         size_t max_items, size_t max_len);

/* One product name: 1 to US_PRODUCT_NAME_MAX_BYTES of [a-z0-9_.-]. */
void tenancy_input_product(us_call *call, const char *field, const char *value);

/* 0 (the default) or 1 to TENANCY_EXPIRY_HOURS_MAX. */
void tenancy_input_expiry(us_call *call, const char *field, uint32_t hours);

/* At most TENANCY_DOMAINS_MAX distinct domains. Trims and lowercases them in place
 * (request strings live in the call's arena), so they are stored as compared. */
void tenancy_input_domains(us_call *call, const char *field, char **items, size_t n);

/* A membership's source: 1 to TENANCY_SOURCE_MAX of [A-Za-z0-9_.:-]. */
void tenancy_input_source(us_call *call, const char *field, const char *value);

/* Why domain (already normalised) is not an allowed email domain, or NULL. A domain is
 * acceptable exactly when an address at it would pass the email check that invitations
 * use, so an allowed domain can never reject every address. */
const char *tenancy_input_domain_check(const char *domain);

/* True for 1 to max_len of [a-z0-9_.-] (a product or flag name). */
bool tenancy_input_name_ok(const char *s, size_t max_len);

/* The actor's user id: "" when the request names none. A malformed one is recorded as
 * a violation of "actor.user_id". */
const char *tenancy_input_actor(us_call *call);

#endif
