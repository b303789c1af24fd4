/* usherctl users: create a user (usher.v1.IdentityService), for the first owner of an
 * account, who has nobody to invite them. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/limits.h"
#include "common/validate.h"
#include "ctl.h"
#include "usher/v1/erasure.pb-c.h"
#include "usher/v1/identity.pb-c.h"

#define IDENTITY (&usher__v1__identity_service__descriptor)

typedef struct create_params {
	char *email;
	char *name;
	char *phone;
	bool password_stdin;
} create_params;

/* The first line of standard input: the password never appears in argv or the shell's
 * history. */
static int read_password(char *buf, size_t size)
{
	if (fgets(buf, (int)size, stdin) == NULL)
		return ctl_usage_error("no password on standard input");
	size_t len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len == size - 1)
		return ctl_usage_error("invalid password: must be at most %d bytes", US_PASSWORD_MAX_BYTES);
	buf[len] = '\0';
	/* Checked before the round trip, as identityd, which owns the rule, words it. */
	const char *why = us_password_check(buf);
	if (why != NULL)
		return ctl_usage_error("invalid password: %s", why);
	return CTL_PROCEED;
}

static int run_create(ctl_ctx *ctx, void *params)
{
	const create_params *p = params;
	if (!p->password_stdin)
		return ctl_usage_error("give the password on standard input with --password-stdin");
	char password[US_PASSWORD_MAX_BYTES + 2];
	int rc = read_password(password, sizeof(password));
	if (rc != CTL_PROCEED)
		return rc;
	Usher__V1__CreateUserRequest req = USHER__V1__CREATE_USER_REQUEST__INIT;
	req.email = p->email;
	req.name = p->name;
	req.phone = p->phone != NULL ? p->phone : "";
	req.password = password;
	/* An operator vouches for the address, as an accepted invitation would. */
	req.email_verified = true;
	rc = ctl_call_show(ctx, IDENTITY, "CreateUser", CTL_KEYED, &req.base, "user");
	sodium_memzero(password, sizeof(password));
	return rc;
}

static const ctl_arg create_args[] = {
	{.name = "EMAIL", .kind = CTL_EMAIL, .offset = offsetof(create_params, email),
	 .help = "the user's email address (marked verified)"},
	{.name = "--name", .kind = CTL_NAME, .offset = offsetof(create_params, name),
	 .help = "the user's name", .flags = CTL_REQUIRED},
	{.name = "--phone", .kind = CTL_TEXT, .offset = offsetof(create_params, phone),
	 .help = "a phone number in E.164 form", .max = 16},
	{.name = "--password-stdin", .kind = CTL_FLAG,
	 .offset = offsetof(create_params, password_stdin),
	 .help = "read the password from the first line of standard input (required)"},
};

typedef struct delete_params {
	char *user;
} delete_params;

static int run_delete(ctl_ctx *ctx, void *params)
{
	const delete_params *p = params;
	char *id;
	int rc = ctl_resolve_user(ctx, p->user, &id);
	if (rc != CTL_OK)
		return rc;
	Usher__V1__DeleteUserRequest req = USHER__V1__DELETE_USER_REQUEST__INIT;
	req.user_id = id;
	ProtobufCMessage *reply;
	rc = ctl_call(ctx, &usher__v1__erasure_service__descriptor, "DeleteUser", 0, &req.base, &reply);
	if (rc != CTL_OK)
		return rc;
	const Usher__V1__DeleteUserReply *r = (const Usher__V1__DeleteUserReply *)reply;
	if (ctx->opts.json)
		ctl_print_message_json(reply);
	else
		ctl_print_record(ctx, reply);
	if (strcmp(r->state, "done") != 0)
		fprintf(stderr, "usherctl: the erasure is not finished; usher-invitationd retries it "
		                "(run this again to see its state)\n");
	return strcmp(r->state, "done") == 0 ? CTL_OK : CTL_UNAVAILABLE;
}

static const ctl_arg delete_args[] = {
	{.name = "USER", .kind = CTL_USER, .offset = offsetof(delete_params, user),
	 .help = "the user's id or email"},
};

static const ctl_command commands[] = {
	{.name = "create", .summary = "create a user, such as an account's first owner",
	 .detail = "Users normally arrive through invitations; the first owner of an account has\n"
	           "nobody to invite them. Example:\n"
	           "  printf '%s\\n' \"$PASSWORD\" | usherctl users create ann@example.com \\\n"
	           "      --name 'Ann Owner' --password-stdin",
	 .args = create_args, .n_args = CTL_COUNT(create_args), .params_size = sizeof(create_params),
	 .flags = CTL_NO_ACTOR, .run = run_create},
	{.name = "delete", .summary = "erase a user from every daemon (DeleteUser)",
	 .detail = "Deletes the user, their memberships, the invitations and emails to them; the\n"
	           "audit log keeps what they did under a pseudonym (docs/audit.md). Exit 5 when a\n"
	           "daemon did not answer: usher-invitationd finishes the erasure by itself.",
	 .args = delete_args, .n_args = CTL_COUNT(delete_args), .params_size = sizeof(delete_params),
	 .flags = CTL_NO_ACTOR, .timeout_ms = 30000, .run = run_delete},
};

const ctl_group ctl_users_group = {"users", "create and erase users", commands, CTL_COUNT(commands)};
