/* The maxima more than one process checks: the daemon that owns a rule and the callers
 * that check it again before a round trip (the gateway, usherctl, another daemon). One
 * number each, here, so that they never disagree. A limit that only one daemon checks
 * stays in that daemon (e.g. TENANCY_SCOPE_SUBACCOUNTS_MAX in services/tenancy/input.h). */
#ifndef US_LIMITS_H
#define US_LIMITS_H

/* Items in one batch: the addresses of an invitation batch (CreateInvitations, a typed
 * list or a CSV's rows, through the gateway or usherctl), and what a batch's handling
 * passes on in one request: emails to LookupEmails (identityd), user ids to MembersAmong
 * (tenancyd), emails to SendEmails (notificationd). */
#define US_BATCH_MAX 50000

/* A new password, in bytes. identityd owns the rule; a caller that collects a password
 * (invitationd's accepts and joins, usherctl, the gateway's forms) may check it early with
 * us_password_check() (validate.h), which words it as identityd does. */
#define US_PASSWORD_MIN_BYTES 8
#define US_PASSWORD_MAX_BYTES 1024

/* A person's, an account's or a subaccount's name: bytes of UTF-8 (us_name_check()). */
#define US_NAME_MAX_BYTES 200

/* A product's name: 1 to this many of [a-z0-9_.-]; a membership holds at most
 * US_PRODUCTS_MAX of them. */
#define US_PRODUCT_NAME_MAX_BYTES 40
#define US_PRODUCTS_MAX 32

/* A list method's page_size: 0 means the default; no list method takes more than the
 * maximum. */
#define US_PAGE_SIZE_DEFAULT 100
#define US_PAGE_SIZE_MAX 500

/* Ids in one IdentityService/GetUsers. */
#define US_GET_USERS_MAX 1000

/* A session token as a caller passes it on: a longer one is refused without a lookup. */
#define US_SESSION_TOKEN_MAX 100

/* The largest RPC message by default (RPC_MAX_MESSAGE_BYTES): 16 MiB, so that a batch of
 * US_BATCH_MAX addresses fits. */
#define US_RPC_MESSAGE_MAX 16777216

/* A limit as a string literal, for settings' defaults and HTML attributes:
 * US_LIMIT_TEXT(US_PASSWORD_MIN_BYTES) is "8". */
#define US_LIMIT_TEXT(limit) US_LIMIT_TEXT_(limit)
#define US_LIMIT_TEXT_(limit) #limit

#endif
