#include "calls.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/token.h"

us_err ut_call(ut_system *sys, int daemon, const char *method, const char *actor,
               const char *key, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type,
               us_arena *arena, ProtobufCMessage **reply, us_status *status)
{
	char err[256], urls[UT_REPLICAS_MAX * 160];
	us_rpc_client *c;
	ut_system_urls(sys, daemon, urls, sizeof(urls));
	us_rpc_client_opts opts = {.url = urls, .caller = "test"};
	if (us_rpc_client_open(&opts, &c, err, sizeof(err)) != US_OK)
		fail_msg("could not reach %s: %s", sys->daemons[daemon].name, err);
	us_rpc_call_opts call = {.timeout_ms = 20000, .idempotency_key = key, .actor_user_id = actor};
	ProtobufCMessage *ignored;
	us_err rc = us_rpc_call(c, method, &call, req, type, arena, reply ? reply : &ignored, status);
	us_rpc_client_close(c);
	return rc;
}

char *ut_key(us_arena *arena)
{
	unsigned char raw[12];
	randombytes_buf(raw, sizeof(raw));
	char hex[25];
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	return us_arena_printf(arena, "test-%s", hex);
}

/* Calls and fails the test unless it succeeds. */
static ProtobufCMessage *must(ut_system *sys, int daemon, const char *method, const char *actor,
                              bool keyed, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *type, us_arena *a)
{
	ProtobufCMessage *reply = NULL;
	us_status st;
	us_err rc = ut_call(sys, daemon, method, actor, keyed ? ut_key(a) : NULL, req, type, a,
	                    &reply, &st);
	if (rc != US_OK)
		fail_msg("%s: %s: %s", method, us_err_name(rc), st.message);
	us_status_clear(&st);
	return reply;
}

char *ut_create_user(ut_system *sys, us_arena *a, const char *email, const char *name,
                     const char *password)
{
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = (char *)email;
	req.name = (char *)name;
	req.password = (char *)password;
	req.email_verified = true;
	Usher__V1__CreateUserReply *r = (Usher__V1__CreateUserReply *)must(
	        sys, UT_IDENTITY, "usher.v1.IdentityService/CreateUser", NULL, true, &req.base,
	        &usher__v1__create_user_reply__descriptor, a);
	return r->user->id;
}

char *ut_login(ut_system *sys, us_arena *a, const char *email, const char *password)
{
	Usher__V1__LoginRequest req = USHER__V1__LOGIN_REQUEST__INIT;
	req.email = (char *)email;
	req.password = (char *)password;
	Usher__V1__LoginReply *r = (Usher__V1__LoginReply *)must(
	        sys, UT_IDENTITY, "usher.v1.IdentityService/Login", NULL, false, &req.base,
	        &usher__v1__login_reply__descriptor, a);
	return r->session_token;
}

char *ut_create_account(ut_system *sys, us_arena *a, const char *owner, const char *name,
                        const char *products)
{
	Usher__V1__CreateAccountRequest req = USHER__V1__CREATE_ACCOUNT_REQUEST__INIT;
	req.name = (char *)name;
	char *list[8];
	char *copy = us_arena_strdup(a, products);
	for (char *tok = strtok(copy, ","); tok != NULL && req.n_products < 8; tok = strtok(NULL, ","))
		list[req.n_products++] = tok;
	req.products = list;
	Usher__V1__CreateAccountReply *r = (Usher__V1__CreateAccountReply *)must(
	        sys, UT_TENANCY, "usher.v1.TenancyService/CreateAccount", owner, true, &req.base,
	        &usher__v1__create_account_reply__descriptor, a);
	return r->account->id;
}

char *ut_create_subaccount(ut_system *sys, us_arena *a, const char *actor, const char *account,
                           const char *name)
{
	Usher__V1__CreateSubaccountRequest req = USHER__V1__CREATE_SUBACCOUNT_REQUEST__INIT;
	req.account_id = (char *)account;
	req.name = (char *)name;
	Usher__V1__CreateSubaccountReply *r = (Usher__V1__CreateSubaccountReply *)must(
	        sys, UT_TENANCY, "usher.v1.TenancyService/CreateSubaccount", actor, true, &req.base,
	        &usher__v1__create_subaccount_reply__descriptor, a);
	return r->subaccount->id;
}

static Usher__V1__Scope *scope_of(us_arena *a, const char *subaccount)
{
	Usher__V1__Scope *scope = US_ARENA_NEW(a, Usher__V1__Scope);
	usher__v1__scope__init(scope);
	if (subaccount == NULL) {
		scope->organization = true;
	} else {
		scope->subaccount_ids = US_ARENA_ARRAY(a, char *, 1);
		scope->subaccount_ids[0] = (char *)subaccount;
		scope->n_subaccount_ids = 1;
	}
	return scope;
}

void ut_grant(ut_system *sys, us_arena *a, const char *account, const char *user,
              Usher__V1__Role role, const char *subaccount)
{
	Usher__V1__GrantMembershipRequest req = USHER__V1__GRANT_MEMBERSHIP_REQUEST__INIT;
	req.account_id = (char *)account;
	req.user_id = (char *)user;
	req.role = role;
	req.scope = scope_of(a, subaccount);
	req.source = "admin";
	req.system_reason = "test set-up";
	must(sys, UT_TENANCY, "usher.v1.TenancyService/GrantMembership", NULL, true, &req.base,
	     &usher__v1__grant_membership_reply__descriptor, a);
}

us_err ut_invite(ut_system *sys, us_arena *a, const char *actor, const char *account,
                 Usher__V1__Role role, const char *subaccount, const char *const *emails,
                 size_t n, Usher__V1__CreateInvitationsReply **reply, us_status *status)
{
	Usher__V1__CreateInvitationsRequest req = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	req.account_id = (char *)account;
	req.role = role;
	req.scope = scope_of(a, subaccount);
	req.emails = (char **)emails;
	req.n_emails = n;
	return ut_call(sys, UT_INVITATION, "usher.v1.InvitationService/CreateInvitations", actor,
	               ut_key(a), &req.base, &usher__v1__create_invitations_reply__descriptor, a,
	               (ProtobufCMessage **)reply, status);
}

size_t ut_count_memberships(ut_system *sys, us_arena *a, const char *account, const char *user)
{
	Usher__V1__MembersAmongRequest req = USHER__V1__MEMBERS_AMONG_REQUEST__INIT;
	req.account_id = (char *)account;
	req.user_ids = (char **)&user;
	req.n_user_ids = 1;
	Usher__V1__MembersAmongReply *r = (Usher__V1__MembersAmongReply *)must(
	        sys, UT_TENANCY, "usher.v1.TenancyService/MembersAmong", NULL, false, &req.base,
	        &usher__v1__members_among_reply__descriptor, a);
	return r->n_user_ids;
}

/* --- the spool --- */

static char *read_all(us_arena *a, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = us_arena_alloc(a, (size_t)len + 1);
	size_t got = fread(buf, 1, (size_t)len, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

/* A header's unfolded value from the message's header block, in arena. */
static char *header(us_arena *a, const char *msg, const char *name)
{
	size_t name_len = strlen(name);
	for (const char *line = msg; line && *line && *line != '\r' && *line != '\n';) {
		const char *end = strchr(line, '\n');
		if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
			const char *v = line + name_len + 1;
			while (*v == ' ')
				v++;
			/* Join folded continuation lines. */
			const char *stop = end;
			while (stop && (stop[1] == ' ' || stop[1] == '\t'))
				stop = strchr(stop + 1, '\n');
			size_t len = stop ? (size_t)(stop - v) : strlen(v);
			char *out = us_arena_strndup(a, v, len);
			char *w = out;
			for (char *r = out; *r; r++) {
				if (*r != '\r' && *r != '\n')
					*w++ = *r;
			}
			*w = '\0';
			return out;
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

/* Decodes an RFC 2047 "=?UTF-8?B?...?=" or "?Q?" subject; other text is kept. */
static char *decode_subject(us_arena *a, char *s)
{
	if (s == NULL || strncasecmp(s, "=?utf-8?", 8) != 0)
		return s;
	char kind = (char)(s[8] | 0x20);
	char *body = s + 10;
	char *end = strstr(body, "?=");
	if (end == NULL)
		return s;
	size_t len = (size_t)(end - body);
	char *out = us_arena_alloc(a, len + 1);
	if (kind == 'b') {
		size_t n = 0;
		if (sodium_base642bin((unsigned char *)out, len, body, len, NULL, &n, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) != 0)
			return s;
		out[n] = '\0';
	} else {
		char *w = out;
		for (char *r = body; r < end; r++) {
			if (*r == '_') {
				*w++ = ' ';
			} else if (*r == '=' && r + 2 < end) {
				char hex[3] = {r[1], r[2], 0};
				*w++ = (char)strtol(hex, NULL, 16);
				r += 2;
			} else {
				*w++ = *r;
			}
		}
		*w = '\0';
	}
	return out;
}

/* The first /i/<token> (an invitation) or /j/<token> (a link join's confirmation) in the
 * message, with quoted-printable soft breaks removed. */
static char *find_token(us_arena *a, const char *text)
{
	char *flat = us_arena_strdup(a, text);
	char *w = flat;
	for (const char *r = text; *r; r++) {
		if (r[0] == '=' && r[1] == '\r' && r[2] == '\n') {
			r += 2;
		} else if (r[0] == '=' && r[1] == '\n') {
			r += 1;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	for (char *p = flat; (p = strchr(p, '/')) != NULL; p++) {
		if ((p[1] != 'i' && p[1] != 'j') || p[2] != '/')
			continue;
		size_t len = strspn(p + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
		if (len == US_TOKEN_TEXT_LEN)
			return us_arena_strndup(a, p + 3, len);
	}
	return NULL;
}

typedef struct spooled {
	char path[512];
	struct timespec mtime;
} spooled;

static int by_mtime(const void *x, const void *y)
{
	const spooled *a = x, *b = y;
	if (a->mtime.tv_sec != b->mtime.tv_sec)
		return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
	if (a->mtime.tv_nsec != b->mtime.tv_nsec)
		return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* The spooled emails to recipient (subject prefix optional), oldest first. */
static size_t scan(const char *dir, us_arena *a, const char *recipient, const char *prefix,
                   ut_email *out, size_t max)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	size_t cap = 64, n = 0;
	spooled *files = malloc(cap * sizeof(spooled));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".eml") != 0)
			continue;
		if (n == cap)
			files = realloc(files, (cap *= 2) * sizeof(spooled));
		snprintf(files[n].path, sizeof(files[n].path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(files[n].path, &st) == 0) {
			files[n].mtime = st.st_mtim;
			n++;
		}
	}
	closedir(d);
	qsort(files, n, sizeof(spooled), by_mtime);
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		us_arena *scratch = us_arena_new();
		char *text = read_all(scratch, files[i].path);
		char *to = text ? header(scratch, text, "To") : NULL;
		char *subject = text ? decode_subject(scratch, header(scratch, text, "Subject")) : NULL;
		bool match = to != NULL && strstr(to, recipient) != NULL &&
		             (prefix == NULL || (subject && strncmp(subject, prefix, strlen(prefix)) == 0));
		if (match && found < max && out != NULL) {
			ut_email *m = &out[found];
			m->text = us_arena_strdup(a, text);
			m->to = us_arena_strdup(a, to);
			m->subject = subject ? us_arena_strdup(a, subject) : NULL;
			char *id = header(scratch, text, "Message-ID");
			m->message_id = id ? us_arena_strdup(a, id) : NULL;
			m->token = find_token(a, text);
		}
		found += match;
		us_arena_free(scratch);
	}
	free(files);
	return found;
}

bool ut_wait_email(const char *spool_dir, us_arena *a, const char *recipient,
                   const char *subject_prefix, size_t nth, int timeout_ms, ut_email *out)
{
	int64_t deadline = us_monotonic_ms() + timeout_ms;
	ut_email *all = US_ARENA_ARRAY(a, ut_email, nth + 1);
	do {
		if (scan(spool_dir, a, recipient, subject_prefix, all, nth + 1) > nth) {
			*out = all[nth];
			return true;
		}
		usleep(50 * 1000);
	} while (us_monotonic_ms() < deadline);
	return false;
}

size_t ut_count_emails(const char *spool_dir, const char *recipient)
{
	return scan(spool_dir, NULL, recipient, NULL, NULL, 0);
}

size_t ut_list_emails(const char *spool_dir, us_arena *a, const char *recipient,
                      const char *subject_prefix, ut_email *out, size_t max)
{
	return scan(spool_dir, a, recipient, subject_prefix, out, max);
}
