/* usherctl users: create a user (usher.v1.IdentityService), for the first owner of an
 * account, who has nobody to invite them. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/limits.h"
#include "common/validate.h"
#include "ctl.h"
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

static const ctl_command commands[] = {
	{.name = "create", .summary = "create a user, such as an account's first owner",
	 .detail = "Users normally arrive through invitations; the first owner of an account has\n"
	           "nobody to invite them. Example:\n"
	           "  printf '%s\\n' \"$PASSWORD\" | usherctl users create ann@example.com \\\n"
	           "      --name 'Ann Owner' --password-stdin",
	 .args = create_args, .n_args = CTL_COUNT(create_args), .params_size = sizeof(create_params),
	 .flags = CTL_NO_ACTOR, .run = run_create},
};

const ctl_group ctl_users_group = {"users", "create users", commands, CTL_COUNT(commands)};
