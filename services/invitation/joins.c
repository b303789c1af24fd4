#include "joins.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/db.h"
#include "common/fault.h"
#include "common/limits.h"
#include "links.h"
#include "common/log.h"
#include "peers.h"
#include "permalink.h"
#include "settings.h"
#include "store.h"
#include "upstream.h"
#include "common/validate.h"

#define RECOVERY_CALL_MS 10000

/* --- what a joiner is told; in the recovery loop (call NULL), only the code --- */

static us_err refuse(us_call *call, us_err code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static us_err refuse(us_call *call, us_err code, const char *fmt, ...)
{
	if (call == NULL)
		return code;
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return us_call_error(call, code, "%s", message);
}

static us_err failed(us_call *call, const invitation_peer *p, us_err rc, const char *doing)
{
	if (call != NULL)
		return invitation_upstream_error(call, p, rc, doing);
	us_log_fields(US_LOG_WARN, "a dependency failed", "doing", doing, "code", us_err_name(rc),
	              "message", p->status.message, NULL);
	return rc;
}

/* The claim went while this session worked on it (taken over after ACCEPT_STALE_S). */
static us_err claim_lost(us_call *call)
{
	return refuse(call, US_EABORTED, "your join was interrupted; try again");
}

/* --- the address --- */

/* Is email's domain among domains (none listed: any)? */
static bool domain_among(char *const *domains, size_t n, const char *email)
{
	if (n == 0)
		return true;
	const char *domain = us_email_domain(email);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(domains[i], domain) == 0)
			return true;
	}
	return false;
}

/* The link's domain limit and the account's allowed_email_domains, both, for email. */
static us_err admit_address(us_call *call, const invitation_link_row *link,
                            const Usher__V1__Account *account, const char *email)
{
	if (!domain_among(link->domains, link->n_domains, email))
		return us_call_error(call, US_EDENIED, "this invitation link is only for some email domains");
	if (!domain_among(account->allowed_email_domains, account->n_allowed_email_domains, email))
		return us_call_error(call, US_EDENIED,
		                     "%s only admits email addresses at some domains", account->name);
	return US_OK;
}

static void validate_accept(us_call *call, const Usher__V1__AcceptLinkRequest *req, char *email,
                            size_t email_size)
{
	bool has_profile = req->new_user != NULL;
	bool has_session = req->session_token[0] != '\0';
	if (has_profile == has_session)
		us_call_violation(call, "new_user",
		                  "give either a new user's profile or an existing user's session");
	if (has_session && strlen(req->session_token) > US_SESSION_TOKEN_MAX)
		us_call_violation(call, "session_token", "is too long");
	if (!has_profile)
		return;
	const Usher__V1__LinkNewUser *u = req->new_user;
	const char *why;
	if (strlen(u->email) >= email_size || us_email_normalize(u->email, email, email_size) != 0)
		us_call_violation(call, "new_user.email", "must be at most %d characters", US_EMAIL_MAX);
	else if ((why = us_email_check(email)) != NULL)
		us_call_violation(call, "new_user.email", "%s", why);
	if ((why = us_name_check(u->name, US_NAME_MAX_BYTES)) != NULL)
		us_call_violation(call, "new_user.name", "%s", why);
	if (u->phone[0] != '\0' && (why = us_phone_check(u->phone)) != NULL)
		us_call_violation(call, "new_user.phone", "%s", why);
	/* The password is identityd's to judge (CreateUser): its word comes back as
	 * new_user.password. */
}

/* What knows this request again when it is retried: the token and the new user's profile,
 * or the session. */
static void join_request_hash(const invitation_ctx *ctx, const Usher__V1__AcceptLinkRequest *req,
                              const char *email,
                              char out[INVITATION_REQUEST_HASH_HEX])
{
	const Usher__V1__LinkNewUser *u = req->new_user;
	const char *fields[] = {"join", req->token, u ? "new" : "session", u ? email : "",
	                        u ? u->name : "", u ? u->phone : "",
	                        u ? u->password : req->session_token};
	invitation_request_hash(ctx, fields, sizeof(fields) / sizeof(fields[0]), out);
}

/* "link:<link id>:<hash of what>": idempotency keys of a join's steps, bounded in length.
 * The hash is keyed (a sign-up's key covers its password), so the stored key tells
 * nothing. */
static char *join_key(const invitation_ctx *ctx, us_arena *a, const char *link_id,
                      const char *what)
{
	if (what == NULL)
		return NULL;
	uint8_t h[16];
	char hex[33];
	crypto_generichash(h, sizeof(h), (const uint8_t *)what, strlen(what), ctx->token_keys.current,
	                   sizeof(ctx->token_keys.current));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return us_arena_printf(a, "link:%s:%s", link_id, hex);
}

/* --- the steps, each keyed: a retry, the confirmation and the recovery loop repeat none --- */

/* The new joiner's user with the address they gave, unverified: a shared link proves
 * nothing about it. Keyed by the sign-up: the same one resent gets the same user. */
static us_err create_user(invitation_peer *p, const invitation_link_row *link, const Usher__V1__LinkNewUser *profile,
                          const char *email, Usher__V1__User **user)
{
	Usher__V1__CreateUserRequest create = USHER__V1__CREATE_USER_REQUEST__INIT;
	create.email = (char *)email;
	create.name = profile->name;
	create.phone = profile->phone;
	create.password = profile->password;
	char *what = us_arena_printf(p->arena, "%s\n%s\n%s\n%s", email, profile->name,
	                             profile->phone, profile->password);
	char *key = join_key(p->ctx, p->arena, link->id, what);
	if (what != NULL)
		sodium_memzero(what, strlen(what));
	return key != NULL ? invitation_peer_create_user(p, key, &create, user) : US_EEXHAUSTED;
}

/* The refusal a joiner reads when the link's creator may no longer grant through it. */
static us_err link_lapsed(us_call *call, const invitation_peer *p)
{
	us_log_fields(US_LOG_INFO, "link's creator may no longer grant through it", "reason",
	              p->status.message, NULL);
	return refuse(call, US_EPRECONDITION,
	              "this invitation link no longer works; ask whoever shared it for a new one");
}

/* Grants member on the link's scope, with the account's products its creator holds, as
 * the link's creator (whose right to grant it tenancyd checks again), keyed by the user
 * and the use of the link the join holds: a member who left and comes back is granted
 * anew. ALREADY_EXISTS for a member, FAILED_PRECONDITION when the link lapsed: both mean
 * the join can never happen; any other error, that a service failed. */
static us_err grant(us_call *call, invitation_peer *p, const invitation_link_row *link, const char *user_id,
                    unsigned use, Usher__V1__Membership **membership)
{
	Usher__V1__Scope *scope = invitation_permalink_scope(p->arena, link->subaccount_id);
	char *key = join_key(p->ctx, p->arena, link->id, us_arena_printf(p->arena, "%s:%u", user_id, use));
	if (scope == NULL || key == NULL)
		return US_EEXHAUSTED;
	Usher__V1__CheckGrantReply *answer;
	us_err rc = invitation_peer_check_grant(p, link->created_by, "", link->account_id,
	                             USHER__V1__ROLE__ROLE_MEMBER, scope, NULL, 0, NULL, 0, &answer);
	if (rc == US_EINVAL || (rc == US_OK && !answer->allowed))
		return link_lapsed(call, p);
	if (rc != US_OK)
		return failed(call, p, rc, "checking the link's creator");
	Usher__V1__GrantMembershipRequest g = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	g.account_id = link->account_id;
	g.user_id = (char *)user_id;
	g.role = USHER__V1__ROLE__ROLE_MEMBER;
	g.scope = scope;
	g.products = answer->grantable_products;
	g.n_products = answer->n_grantable_products;
	g.source = us_arena_printf(p->arena, "link:%s", link->id);
	g.granted_by = link->created_by;
	rc = invitation_peer_grant_membership(p, key, &g, membership);
	if (rc == US_EEXISTS)
		return refuse(call, US_EEXISTS, "you are already a member of %s", link->account_name);
	if (rc == US_EDENIED || rc == US_EPRECONDITION || rc == US_EINVAL)
		return link_lapsed(call, p);
	if (rc != US_OK)
		return failed(call, p, rc, "granting the membership");
	return US_OK;
}

static bool grant_refused(us_err rc)
{
	return rc == US_EEXISTS || rc == US_EPRECONDITION;
}

static bool is_member(invitation_peer *p, const char *account_id, const char *user_id, us_err *rc)
{
	Usher__V1__MembersAmongReply *members;
	*rc = invitation_peer_members_among(p, account_id, (char **)&user_id, 1, &members);
	return *rc == US_OK && members->n_user_ids > 0;
}

/* The confirmation request of the claim (locked here while it is written), and the claim
 * now holds it. Nothing is mailed yet: the email goes once the request is committed. */
static us_err open_request(us_call *call, const invitation_ctx *ctx, PGconn *db, us_arena *a, const invitation_link_row *link,
                           invitation_link_claim_row *claim, const Usher__V1__User *user)
{
	invitation_link_secret secret;
	us_err rc = invitation_link_new(ctx, a, &secret);
	sodium_memzero(secret.token, sizeof(secret.token)); /* kept sealed until mailed */
	if (rc == US_OK)
		rc = us_db_begin(db);
	if (rc != US_OK)
		return rc;
	invitation_link_claim_row now;
	invitation_join_request_row req;
	rc = invitation_store_link_claim_get(db, a, link->id, claim->email, true, &now);
	bool mine = rc == US_OK && now.working && now.join_request_id[0] == '\0' &&
	            now.use_number == claim->use_number;
	if (rc == US_OK && mine)
		rc = invitation_store_join_request_open(db, a, link->id, claim->email, user->id, secret.hash_hex,
		                             secret.sealed, (unsigned)ctx->settings.link_join_confirm_hours,
		                             &req);
	if (rc == US_OK && mine)
		rc = us_db_commit(db);
	else
		us_db_rollback(db);
	if (rc == US_ENOTFOUND || (rc == US_OK && !mine))
		return claim_lost(call);
	if (rc != US_OK)
		return rc;
	claim->join_request_id = req.id;
	return US_OK;
}

/* Hands the confirmation email to notificationd (keyed by the request: sent again, it is
 * one email), then the claim awaits the confirmation and the sealed token goes. */
static us_err mail_request(us_call *call, invitation_peer *p, PGconn *db, const invitation_link_claim_row *claim)
{
	us_arena *a = p->arena;
	invitation_join_request_row req;
	us_err rc = invitation_store_join_request_get(db, a, claim->join_request_id, &req);
	if (rc != US_OK)
		return rc;
	if (req.sealed_token[0] != '\0') {
		char *token = invitation_link_unseal(p->ctx, a, req.sealed_token);
		if (token == NULL) {
			us_log_fields(US_LOG_ERROR, "join confirmation token does not open; was the key changed?",
			              "link_id", claim->link_id, NULL);
			return US_EINTERNAL;
		}
		Usher__V1__TemplateVariable vars[3], *var_ptrs[3];
		const char *values[3][2] = {{"account_name", req.link.account_name},
		                            {"link", invitation_link_url(p->ctx, a, "j", token)},
		                            {"expires_at", req.expires_text}};
		for (int i = 0; i < 3; i++) {
			usher__v1__template_variable__init(&vars[i]);
			vars[i].name = (char *)values[i][0];
			vars[i].value = (char *)values[i][1];
			var_ptrs[i] = &vars[i];
		}
		Usher__V1__Email email = USHER__V1__EMAIL__INIT;
		email.idempotency_key = us_arena_printf(a, "join:%s", req.id);
		email.template_ = "link_join_confirmation";
		email.recipient = req.email;
		email.variables = var_ptrs;
		email.n_variables = 3;
		email.reference = us_arena_printf(a, "link:%s", claim->link_id);
		if (email.idempotency_key == NULL || email.reference == NULL || values[1][1] == NULL)
			rc = US_EEXHAUSTED;
		if (rc == US_OK && (rc = invitation_peer_send_email(p, &email)) != US_OK)
			rc = failed(call, p, rc, "sending the confirmation email");
		sodium_memzero(token, strlen(token));
		if (rc != US_OK)
			return rc;
		us_fault_point("link.after_mail");
	}
	return invitation_store_join_request_mailed(db, claim->link_id, claim->email, claim->join_request_id);
}

/* How a join's steps ended. */
typedef enum join_end {
	JOIN_UNFINISHED, /* a service failed: the claim waits for a retry or the recovery loop */
	JOIN_JOINED,     /* the membership exists; *membership is set */
	JOIN_AWAITING,   /* the address's owner was asked to confirm it */
	JOIN_RELEASED,   /* it can never happen: its use was given back */
} join_end;

/* Takes the remaining steps of a claim this session works on (docs/invitations.md): the
 * joiner (created, for a new user, with profile: NULL in the recovery loop, which cannot
 * create one), then the membership for a proven address or the confirmation request and
 * its email for any other. A refusal gives the use back; a failed service leaves the
 * claim to the request's retry or the recovery loop (let go, so they need not wait). */
static us_err advance(us_call *call, invitation_peer *p, PGconn *db, const invitation_link_row *link,
                      invitation_link_claim_row *claim, const Usher__V1__LinkNewUser *profile,
                      Usher__V1__User **user, Usher__V1__Membership **membership, join_end *end)
{
	us_err rc = US_OK;
	bool release = false;
	*end = JOIN_UNFINISHED;
	if (claim->user_id[0] == '\0' && profile == NULL) {
		/* Whether a user was made is unknown; the request's retry makes or finds it. */
		release = true;
	} else if (claim->user_id[0] == '\0') {
		rc = create_user(p, link, profile, claim->email, user);
		if (rc == US_EEXISTS || rc == US_EINVAL) {
			release = true;
			rc = rc == US_EEXISTS
			             ? refuse(call, US_EPRECONDITION,
			                      "an account already exists for %s; sign in to join", claim->email)
			             : call != NULL ? invitation_upstream_invalid(call, p, "new_user.")
			                            : US_EINVAL;
		} else if (rc != US_OK) {
			rc = failed(call, p, rc, "creating the user");
		} else {
			bool kept;
			rc = invitation_store_link_claim_user(db, link->id, claim->email, (*user)->id, &kept);
			if (rc == US_OK && !kept)
				return claim_lost(call);
			claim->user_id = (*user)->id;
			if (rc == US_OK)
				us_fault_point("link.after_user");
		}
	} else if (*user == NULL) {
		rc = invitation_peer_get_user(p, claim->user_id, user);
		if (rc == US_ENOTFOUND) {
			release = true;
			rc = refuse(call, US_EABORTED, "your join was interrupted; try again");
		} else if (rc != US_OK)
			rc = failed(call, p, rc, "looking up the joiner");
	}
	/* A proven owner of the address may have taken it from an unverified joiner. */
	if (rc == US_OK && !release && strcmp((*user)->email, claim->email) != 0) {
		release = true;
		rc = refuse(call, US_EPRECONDITION,
		            "%s now belongs to another account; join again from the invitation link",
		            claim->email);
	}
	if (rc == US_OK && !release && claim->join_request_id[0] == '\0' && (*user)->email_verified) {
		rc = grant(call, p, link, (*user)->id, claim->use_number, membership);
		release = grant_refused(rc);
		if (rc == US_OK) {
			us_fault_point("link.after_membership");
			bool done;
			rc = invitation_store_link_complete(db, link->id, claim->email, (*user)->id, (*membership)->id,
			                         &done);
			if (rc == US_OK && !done)
				return claim_lost(call);
			if (rc == US_OK)
				*end = JOIN_JOINED;
			return rc;
		}
	} else if (rc == US_OK && !release) {
		if (claim->join_request_id[0] == '\0') {
			rc = open_request(call, p->ctx, db, p->arena, link, claim, *user);
			if (rc == US_OK)
				us_fault_point("link.after_request");
		}
		if (rc == US_OK)
			rc = mail_request(call, p, db, claim);
		if (rc == US_OK) {
			*end = JOIN_AWAITING;
			return US_OK;
		}
	}
	if (release) {
		us_log_fields(US_LOG_INFO, "join through a link ended; its use given back", "link_id",
		              link->id, "reason", call != NULL ? "refused" : "abandoned", NULL);
		us_err released = invitation_store_link_release(db, link->id, claim->email);
		if (released != US_OK)
			return released;
		*end = JOIN_RELEASED;
		return rc;
	}
	if (rc != US_OK && rc != US_EABORTED && invitation_store_link_claim_let_go(db, link->id, claim->email) != US_OK)
		us_warn("could not let go of a join's claim; it waits for ACCEPT_STALE_S");
	return rc;
}

/* --- AcceptLink --- */

/* Where a request to join starts from. */
typedef enum join_start {
	START_NEW,      /* a use was taken for it now */
	START_RESUME,   /* it took one before, and this session now takes its remaining steps */
	START_AWAITING, /* it took one before and awaits the confirmation */
	START_DONE,     /* it joined before (its answer was lost) */
} join_start;

/* Whether a new join can start: a new user's address has no proven owner (who must sign
 * in instead; a mere claim does not stop anyone, identityd moves it to the newest
 * claimant); a signed-in user is not a member yet (a member changes nothing, and spends
 * no use). */
static us_err may_join(us_call *call, invitation_peer *p, const invitation_link_row *link, const char *email,
                       const Usher__V1__User *user)
{
	us_err rc;
	if (user != NULL) {
		bool member = is_member(p, link->account_id, user->id, &rc);
		if (rc != US_OK)
			return invitation_upstream_error(call, p, rc, "looking up members");
		return member ? us_call_error(call, US_EEXISTS, "you are already a member of %s",
		                              link->account_name)
		              : US_OK;
	}
	Usher__V1__LookupEmailsReply *users;
	rc = invitation_peer_lookup_emails(p, (char **)&email, 1, &users);
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "looking up the address");
	if (users->n_matches > 0 && users->matches[0]->email_verified)
		return us_call_error(call, US_EPRECONDITION,
		                     "an account already exists for %s; sign in to join", email);
	return US_OK;
}

/* The link is turned off or has expired (its uses are for the claim to judge). */
static us_err refuse_closed_link(us_call *call, const invitation_link_row *link)
{
	if (!link->active || link->expired)
		return invitation_permalink_usable(call, link);
	return US_OK;
}

/* Finds this request's join, or takes a use for it, in one transaction that holds the
 * address's claim on the link. The same request goes on from where it was (a retry whose
 * answer was lost, say when invitationd died); another request waits while one is being
 * worked on, and replaces one awaiting its confirmation (a newer sign-up, or the same
 * person signed in: the older link stops working and its use comes back). */
static us_err start_join(us_call *call, invitation_peer *p, const invitation_link_row *link, const char *email,
                         const char *hash, const Usher__V1__User *user, invitation_link_claim_row *claim,
                         join_start *how)
{
	PGconn *db = us_call_db(call);
	us_arena *a = us_call_arena(call);
	us_err rc = us_db_begin(db);
	if (rc == US_OK)
		rc = us_db_set_local_timeout(db, us_call_remaining_ms(call));
	if (rc == US_OK)
		rc = invitation_store_link_claim_get(db, a, link->id, email, true, claim);
	bool replace = false;
	if (rc == US_OK && invitation_request_hash_equal(claim->request_hash, hash)) {
		bool taken = false;
		if (claim->working)
			rc = invitation_store_link_claim_take_over(db, link->id, email,
			                                           p->ctx->settings.accept_stale_s, &taken);
		if (rc == US_OK)
			rc = us_db_commit(db);
		else
			us_db_rollback(db);
		if (rc == US_OK && claim->working && !taken)
			return us_call_error(call, US_EABORTED,
			                     "your request to join is still being handled; try again in a "
			                     "moment");
		*how = claim->working ? START_RESUME : START_AWAITING;
		return rc;
	}
	if (rc == US_OK && claim->working) {
		us_db_rollback(db);
		return us_call_error(call, US_EABORTED,
		                     "someone is joining with %s right now; try again in a moment", email);
	}
	if (rc == US_OK) {
		replace = true;
	} else if (rc == US_ENOTFOUND) {
		rc = invitation_store_link_join_get(db, a, link->id, email, claim);
		if (rc == US_OK && invitation_request_hash_equal(claim->request_hash, hash)) {
			/* Replayed only while the membership it made lasts. */
			bool member = is_member(p, link->account_id, claim->user_id, &rc);
			if (rc != US_OK)
				rc = invitation_upstream_error(call, p, rc, "looking up members");
			if (rc == US_OK && member) {
				us_db_rollback(db);
				*how = START_DONE;
				return US_OK;
			}
		}
		if (rc == US_ENOTFOUND || rc == US_OK)
			rc = US_OK;
	}
	if (rc == US_OK)
		rc = refuse_closed_link(call, link);
	if (rc == US_OK)
		rc = may_join(call, p, link, email, user);
	/* The use comes back and goes again in this transaction: a link used up by the older
	 * request is not used up for its replacement. */
	if (rc == US_OK && replace)
		rc = invitation_store_link_release(db, link->id, email);
	bool taken = false;
	unsigned use = 0;
	if (rc == US_OK) {
		rc = invitation_store_link_claim(db, link->id, email, user != NULL ? user->id : NULL, hash, NULL,
		                      &taken, &use);
		if (rc == US_EEXISTS)
			rc = us_call_error(call, US_EABORTED,
			                   "someone is joining with %s right now; try again in a moment",
			                   email);
	}
	if (rc == US_OK && taken)
		rc = us_db_commit(db);
	else
		us_db_rollback(db);
	if (rc == US_OK && !taken) {
		/* Used up, expired or turned off since it was read: say which. */
		invitation_link_row now;
		rc = invitation_store_link_by_id(db, a, link->id, &now);
		if (rc == US_OK && (rc = invitation_permalink_usable(call, &now)) == US_OK)
			rc = us_call_error(call, US_EPRECONDITION, "this invitation link is no longer usable");
	}
	if (rc != US_OK)
		return rc;
	if (replace)
		us_log_fields(US_LOG_INFO, "a newer join replaced one awaiting its confirmation",
		              "link_id", link->id, NULL);
	*claim = (invitation_link_claim_row){.link_id = link->id, .email = (char *)email,
	                          .user_id = user != NULL ? user->id : "", .use_number = use,
	                          .request_hash = (char *)hash, .join_request_id = "", .working = true};
	*how = START_NEW;
	return US_OK;
}

static us_err reply_join(us_call *call, Usher__V1__Membership *membership, Usher__V1__User *user,
                         bool created, ProtobufCMessage **reply)
{
	Usher__V1__AcceptLinkReply *out = US_ARENA_NEW(us_call_arena(call), Usher__V1__AcceptLinkReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__accept_link_reply__init(out);
	out->membership = membership;
	out->user = user;
	out->user_created = created;
	out->awaiting_confirmation = membership == NULL;
	if (membership != NULL) {
		us_err rc = invitation_next_url(call, membership->account_id, "", &out->next_url);
		if (rc != US_OK)
			return rc;
	}
	*reply = &out->base;
	return US_OK;
}

us_err invitation_accept_link(us_call *call, const ProtobufCMessage *request, ProtobufCMessage **reply)
{
	const Usher__V1__AcceptLinkRequest *req = (const Usher__V1__AcceptLinkRequest *)request;
	char email[US_EMAIL_MAX + 1] = "";
	validate_accept(call, req, email, sizeof(email));
	if (us_call_has_violations(call))
		return us_call_invalid(call);
	invitation_link_row link;
	us_err rc = invitation_permalink_load(call, req->token, &link);
	if (rc != US_OK)
		return rc;

	invitation_peer p;
	invitation_peer_from_call(&p, call);
	Usher__V1__Account *account = NULL;
	Usher__V1__User *user = NULL;
	Usher__V1__Membership *membership = NULL;
	bool created = req->new_user != NULL;
	if ((rc = invitation_peer_get_account(&p, link.account_id, &account)) != US_OK)
		rc = invitation_upstream_error(call, &p, rc, "reading the account");
	if (rc == US_OK && !created) {
		rc = invitation_peer_resolve_session(&p, req->session_token, &user);
		if (rc == US_EUNAUTHENTICATED)
			rc = us_call_error(call, US_EUNAUTHENTICATED, "your session has ended; sign in again");
		else if (rc != US_OK)
			rc = invitation_upstream_error(call, &p, rc, "checking the session");
		if (rc == US_OK && user->email[0] == '\0')
			rc = us_call_error(call, US_EPRECONDITION,
			                   "your account has no email address any more; sign up again");
		if (rc == US_OK)
			snprintf(email, sizeof(email), "%s", user->email);
	}
	if (rc == US_OK)
		rc = admit_address(call, &link, account, email);
	char hash[INVITATION_REQUEST_HASH_HEX];
	join_request_hash(us_call_service_ctx(call), req, email, hash);
	invitation_link_claim_row claim;
	join_start how = START_NEW;
	if (rc == US_OK)
		rc = start_join(call, &p, &link, email, hash, user, &claim, &how);
	join_end end = JOIN_AWAITING;
	if (rc == US_OK && (how == START_NEW || how == START_RESUME)) {
		if (how == START_NEW)
			us_fault_point("link.after_use");
		rc = advance(call, &p, us_call_db(call), &link, &claim, req->new_user, &user, &membership,
		             &end);
		if (rc == US_OK && end == JOIN_RELEASED)
			rc = us_call_error(call, US_EABORTED, "your join was interrupted; try again");
	} else if (rc == US_OK) {
		/* Answered again: awaiting the confirmation, or joined (the membership replayed
		 * from its keyed grant). */
		if (user == NULL && (rc = invitation_peer_get_user(&p, claim.user_id, &user)) != US_OK)
			rc = invitation_upstream_error(call, &p, rc, "looking up the joiner");
		if (rc == US_OK && how == START_DONE)
			rc = grant(call, &p, &link, user->id, claim.use_number, &membership);
		if (rc == US_OK)
			us_log_fields(US_LOG_INFO, "retried join answered", "link_id", link.id, NULL);
	}
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	if (membership != NULL)
		us_log_fields(US_LOG_INFO, "joined through an invitation link", "link_id", link.id,
		              "user_id", user->id, NULL);
	else
		us_log_fields(US_LOG_INFO, "link join waits for its address to be confirmed", "link_id",
		              link.id, "user_id", user->id, NULL);
	return reply_join(call, membership, user, created, reply);
}

/* --- PreviewLinkJoin, ConfirmLinkJoin --- */

/* The join request a confirmation token opens: NOT_FOUND alike for a malformed and an
 * unknown one. */
static us_err load_request(us_call *call, const char *token, invitation_join_request_row *out)
{
	us_token_hashes hashes;
	if (strlen(token) > INVITATION_TOKEN_MAX ||
	    invitation_link_hashes(us_call_service_ctx(call), token, &hashes) != US_OK)
		return us_call_error(call, US_ENOTFOUND, "this confirmation link is unknown");
	/* Under the current key, else a previous one still in its time (a rotation). */
	us_err rc = US_ENOTFOUND;
	for (size_t i = 0; i < hashes.n && rc == US_ENOTFOUND; i++)
		rc = invitation_store_join_request_by_token(us_call_db(call), us_call_arena(call),
		                                            hashes.hash[i], out);
	if (rc == US_ENOTFOUND)
		return us_call_error(call, US_ENOTFOUND, "this confirmation link is unknown");
	return rc;
}

static us_err used_or_expired(us_call *call)
{
	return us_call_error(call, US_ENOTFOUND, "this confirmation link is unknown, used or expired");
}

us_err invitation_preview_link_join(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__PreviewLinkJoinRequest *req = (const Usher__V1__PreviewLinkJoinRequest *)request;
	invitation_join_request_row r;
	us_err rc = load_request(call, req->token, &r);
	if (rc != US_OK)
		return rc;
	Usher__V1__PreviewLinkJoinReply *out = US_ARENA_NEW(us_call_arena(call),
	                                                    Usher__V1__PreviewLinkJoinReply);
	if (out == NULL)
		return US_EEXHAUSTED;
	usher__v1__preview_link_join_reply__init(out);
	out->account_name = r.link.account_name;
	out->email = r.email;
	out->pending = strcmp(r.state, "pending") == 0 && !r.expired;
	out->expires_at = r.expires_at;
	*reply = &out->base;
	return US_OK;
}

/* The steps of a confirmation, inside the transaction that holds the join's claim. *closed
 * says the join ended for good (its use given back), so the transaction keeps that even
 * when the reply is a refusal; any other failure leaves the request as it was, to be
 * followed again. */
static us_err confirm(us_call *call, invitation_peer *p, const invitation_join_request_row *r,
                      const invitation_link_claim_row *claim, bool *closed, Usher__V1__User **user,
                      Usher__V1__Membership **membership)
{
	PGconn *db = us_call_db(call);
	const invitation_link_row *link = &r->link;
	/* The use is the claim's: a link used up since still lets this join in. */
	us_err rc = refuse_closed_link(call, link);
	if (rc != US_OK) {
		*closed = true;
		us_err released = invitation_store_link_release(db, link->id, r->email);
		return released != US_OK ? released : rc;
	}
	Usher__V1__Account *account;
	if ((rc = invitation_peer_get_account(p, link->account_id, &account)) != US_OK)
		return invitation_upstream_error(call, p, rc, "reading the account");
	if ((rc = admit_address(call, link, account, r->email)) != US_OK)
		return rc;
	/* The proof: identityd marks the address verified, if it is still the user's. */
	char *key = us_arena_printf(p->arena, "join:%s:verify", r->id);
	rc = key != NULL ? invitation_peer_confirm_email_ownership(p, key, r->user_id, r->email, user)
	                 : US_EEXHAUSTED;
	if (rc == US_EPRECONDITION) {
		*closed = true;
		rc = invitation_store_link_release(db, link->id, r->email);
		return rc != US_OK ? rc
		                   : us_call_error(call, US_EPRECONDITION,
		                                   "this confirmation link no longer works: %s now "
		                                   "belongs to another account; join again from the "
		                                   "invitation link",
		                                   r->email);
	}
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "confirming the address");
	us_fault_point("link.after_verify");
	rc = grant(call, p, link, r->user_id, claim->use_number, membership);
	if (rc == US_EEXISTS) { /* a member already: the join is done with, its use unspent */
		*closed = true;
		us_err released = invitation_store_link_release(db, link->id, r->email);
		return released != US_OK ? released : rc;
	}
	if (rc != US_OK)
		return rc;
	us_fault_point("link.after_membership");
	bool done;
	rc = invitation_store_link_complete(db, link->id, r->email, r->user_id, (*membership)->id, &done);
	return rc == US_OK && !done ? US_EINTERNAL : rc;
}

/* A confirmation followed again after it joined (its answer was lost, or the person
 * clicked twice): the same success, while the request has not expired and the membership
 * lasts. */
static us_err confirm_again(us_call *call, invitation_peer *p, const invitation_join_request_row *r,
                            Usher__V1__User **user, Usher__V1__Membership **membership)
{
	invitation_link_claim_row joined;
	us_err rc = invitation_store_link_join_of_user(us_call_db(call), us_call_arena(call), r->link.id,
	                                    r->user_id, &joined);
	if (rc == US_ENOTFOUND)
		return used_or_expired(call);
	if (rc != US_OK)
		return rc;
	bool member = is_member(p, r->link.account_id, r->user_id, &rc);
	if (rc != US_OK)
		return invitation_upstream_error(call, p, rc, "looking up members");
	if (!member)
		return used_or_expired(call);
	if ((rc = invitation_peer_get_user(p, r->user_id, user)) != US_OK)
		return invitation_upstream_error(call, p, rc, "looking up the joiner");
	return grant(call, p, &r->link, r->user_id, joined.use_number, membership);
}

us_err invitation_confirm_link_join(us_call *call, const ProtobufCMessage *request,
                             ProtobufCMessage **reply)
{
	const Usher__V1__ConfirmLinkJoinRequest *req = (const Usher__V1__ConfirmLinkJoinRequest *)request;
	PGconn *db = us_call_db(call);
	us_arena *a = us_call_arena(call);
	invitation_join_request_row r;
	us_err rc = load_request(call, req->token, &r);
	if (rc != US_OK)
		return rc;
	invitation_peer p;
	invitation_peer_from_call(&p, call);
	Usher__V1__User *user = NULL;
	Usher__V1__Membership *membership = NULL;
	bool pending = strcmp(r.state, "pending") == 0 && !r.expired;
	if (strcmp(r.state, "joined") == 0 && !r.expired) {
		rc = confirm_again(call, &p, &r, &user, &membership);
		invitation_peer_clear(&p);
		return rc != US_OK ? rc : reply_join(call, membership, user, false, reply);
	}
	if (!pending) {
		invitation_peer_clear(&p);
		return used_or_expired(call);
	}

	rc = us_db_begin(db);
	if (rc == US_OK)
		rc = us_db_set_local_timeout(db, us_call_remaining_ms(call));
	invitation_link_claim_row claim;
	if (rc == US_OK)
		rc = invitation_store_link_claim_get(db, a, r.link.id, r.email, true, &claim);
	if (rc == US_ENOTFOUND) {
		/* A request made before joins held their use from the start takes one now. */
		bool taken = false;
		unsigned use = 0;
		rc = invitation_store_link_claim(db, r.link.id, r.email, r.user_id, "", r.id, &taken, &use);
		if (rc == US_EEXISTS)
			rc = us_call_error(call, US_EABORTED, "this join is being confirmed; try again");
		if (rc == US_OK && !taken && (rc = invitation_permalink_usable(call, &r.link)) == US_OK)
			rc = us_call_error(call, US_EPRECONDITION, "this invitation link is no longer usable");
		claim = (invitation_link_claim_row){.use_number = use, .join_request_id = r.id};
	} else if (rc == US_OK && strcmp(claim.join_request_id, r.id) != 0) {
		rc = used_or_expired(call); /* replaced by a newer request */
	}
	bool closed = false;
	if (rc == US_OK)
		rc = confirm(call, &p, &r, &claim, &closed, &user, &membership);
	if (rc == US_OK || closed) {
		us_err committed = us_db_commit(db);
		if (committed != US_OK)
			rc = us_call_error(call, US_EUNAVAILABLE, "could not save the join; try again");
	} else {
		us_db_rollback(db);
	}
	invitation_peer_clear(&p);
	if (rc != US_OK)
		return rc;
	us_log_fields(US_LOG_INFO, "joined through an invitation link, address confirmed", "link_id",
	              r.link.id, "user_id", r.user_id, NULL);
	return reply_join(call, membership, user, false, reply);
}

/* --- the recovery loop's part --- */

/* A claim whose confirmation lapsed, inside the transaction that locked it. A join whose
 * confirmation was cut off after its grant (the person never followed the link again) is
 * recorded: its keyed grant answers as before. Any other gives its use back. */
static us_err end_lapsed(PGconn *db, invitation_peer *p, const invitation_link_claim_row *claim, bool unconfirmed)
{
	invitation_link_row link;
	us_err rc = invitation_store_link_by_id(db, p->arena, claim->link_id, &link);
	if (rc != US_OK)
		return rc;
	bool member = false;
	if (unconfirmed && claim->user_id[0] != '\0')
		member = is_member(p, link.account_id, claim->user_id, &rc);
	if (rc != US_OK)
		return rc;
	if (member) {
		Usher__V1__Membership *membership;
		rc = grant(NULL, p, &link, claim->user_id, claim->use_number, &membership);
		if (rc == US_OK) {
			bool done;
			rc = invitation_store_link_complete(db, link.id, claim->email, claim->user_id, membership->id,
			                         &done);
			us_log_fields(US_LOG_INFO, "interrupted join confirmation recorded", "link_id",
			              link.id, NULL);
			return rc;
		}
		if (!grant_refused(rc))
			return rc;
	}
	us_log_fields(US_LOG_INFO, "unconfirmed join ended; its use given back", "link_id", link.id,
	              NULL);
	return invitation_store_link_release(db, link.id, claim->email);
}

us_err invitation_join_recover_one(const invitation_ctx *ctx, PGconn *db, us_arena *a,
                                   bool *found)
{
	*found = false;
	invitation_peer p = {.ctx = ctx, .arena = a};
	us_status_init(&p.status);
	p.opts.timeout_ms = RECOVERY_CALL_MS;
	p.opts.request_id = "recovery-link-join";
	invitation_link_claim_row claim;
	bool unconfirmed = false;
	us_err rc = us_db_begin(db);
	if (rc == US_OK)
		rc = invitation_store_lapsed_link_claim(db, a, &claim, &unconfirmed);
	if (rc == US_OK) {
		*found = true;
		rc = end_lapsed(db, &p, &claim, unconfirmed);
	} else if (rc == US_ENOTFOUND) {
		rc = invitation_store_unattended_link_claim(db, a, ctx->settings.accept_stale_s, &claim);
		bool taken = false;
		if (rc == US_OK)
			rc = invitation_store_link_claim_take_over(db, claim.link_id, claim.email,
			                                ctx->settings.accept_stale_s, &taken);
		*found = rc == US_OK && taken;
		if (rc == US_ENOTFOUND)
			rc = US_OK;
	}
	if (rc == US_OK)
		rc = us_db_commit(db);
	else
		us_db_rollback(db);
	if (rc == US_OK && *found && claim.working) {
		/* Taken over: its steps are this loop's now, outside the transaction. */
		invitation_link_row link;
		Usher__V1__User *user = NULL;
		Usher__V1__Membership *membership = NULL;
		join_end end = JOIN_UNFINISHED;
		rc = invitation_store_link_by_id(db, a, claim.link_id, &link);
		if (rc == US_OK)
			rc = advance(NULL, &p, db, &link, &claim, NULL, &user, &membership, &end);
		if (end == JOIN_RELEASED)
			rc = US_OK; /* a refusal: its use is back */
		if (rc == US_OK)
			us_log_fields(US_LOG_INFO,
			              end == JOIN_JOINED     ? "interrupted join resumed: joined"
			              : end == JOIN_AWAITING ? "interrupted join resumed: confirmation mailed"
			                                     : "interrupted join released",
			              "link_id", link.id, NULL);
	}
	invitation_peer_clear(&p);
	return rc;
}
