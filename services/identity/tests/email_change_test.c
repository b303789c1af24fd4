/* An email change end to end, through real usher-identityd and usher-notificationd
 * processes: the link arrives at the new address (read from notificationd's spool
 * directory, MAIL_SPOOL_DIR/<message_id>.eml), and the address changes only when the
 * link's token is confirmed. Registered DISABLED until usher-notificationd is merged. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "client.h"
#include "common/token.h"

#define BASE_URL "https://usher.example"
#define LINK_PREFIX BASE_URL "/email-change/"

static ut_system *sys;
static us_rpc_client *client;
static char spool[192];
static char spool_setting[256];

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf != NULL && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (cap - len < 1024)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

/* Undoes quoted-printable soft line breaks, which may split a long link. */
static void unfold(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '=' && r[1] == '\r' && r[2] == '\n')
			r += 3;
		else if (r[0] == '=' && r[1] == '\n')
			r += 2;
		else
			*w++ = *r++;
	}
	*w = '\0';
}

/* The messages in the spool addressed to recipient. */
static int count_messages(const char *recipient, char *token_out)
{
	int found = 0;
	DIR *d = opendir(spool);
	if (d == NULL)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".eml") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", spool, e->d_name);
		char *msg = read_all(path);
		if (msg == NULL)
			continue;
		unfold(msg);
		const char *link = strstr(msg, LINK_PREFIX);
		if (strstr(msg, recipient) != NULL && link != NULL) {
			found++;
			if (token_out != NULL)
				snprintf(token_out, US_TOKEN_TEXT_LEN + 1, "%s", link + strlen(LINK_PREFIX));
		}
		free(msg);
	}
	closedir(d);
	return found;
}

/* Waits for the verification email to recipient and returns its link's token. */
static char *await_token(us_arena *a, const char *recipient)
{
	char *token = us_arena_alloc(a, US_TOKEN_TEXT_LEN + 1);
	int64_t deadline = us_monotonic_ms() + 30000;
	while (us_monotonic_ms() < deadline) {
		if (count_messages(recipient, token) > 0)
			return token;
		usleep(50 * 1000);
	}
	fail_msg("no verification email to %s in %s within 30 s", recipient, spool);
	return NULL;
}

static us_err request_change(us_arena *a, const char *actor, const char *email, const char *key)
{
	Usher__V1__RequestEmailChangeRequest req = USHER__V1__REQUEST_EMAIL_CHANGE_REQUEST__INIT;
	req.new_email = (char *)email;
	req.current_password = IDT_PASSWORD;
	idt_opts o = {.actor = actor, .key = key};
	us_status st;
	us_err rc = idt_call(client, IDT("RequestEmailChange"), &o, &req.base,
	                     &usher__v1__request_email_change_reply__descriptor, a, NULL, &st);
	if (rc != US_OK)
		fail_msg("RequestEmailChange: %s \"%s\"", us_err_name(rc), st.message);
	us_status_clear(&st);
	return rc;
}

static us_err confirm(us_arena *a, const char *token, Usher__V1__User **user)
{
	Usher__V1__ConfirmEmailChangeRequest req = USHER__V1__CONFIRM_EMAIL_CHANGE_REQUEST__INIT;
	req.token = (char *)token;
	idt_opts o = {.key = idt_key(a)};
	ProtobufCMessage *reply = NULL;
	us_err rc = idt_call(client, IDT("ConfirmEmailChange"), &o, &req.base,
	                     &usher__v1__confirm_email_change_reply__descriptor, a, &reply, NULL);
	if (rc == US_OK && user != NULL)
		*user = ((Usher__V1__ConfirmEmailChangeReply *)reply)->user;
	return rc;
}

static size_t lookup(us_arena *a, const char *email)
{
	char *emails[] = {(char *)email};
	Usher__V1__LookupEmailsRequest req = USHER__V1__LOOKUP_EMAILS_REQUEST__INIT;
	req.emails = emails;
	req.n_emails = 1;
	ProtobufCMessage *reply = NULL;
	assert_int_equal(idt_call(client, IDT("LookupEmails"), NULL, &req.base,
	                          &usher__v1__lookup_emails_reply__descriptor, a, &reply, NULL),
	                 US_OK);
	return ((Usher__V1__LookupEmailsReply *)reply)->n_matches;
}

static void test_the_address_changes_when_the_emailed_link_is_confirmed(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "old.address@example.com");
	request_change(a, u->id, "New.Address@Example.com", idt_key(a));
	char *token = await_token(a, "new.address@example.com");

	assert_int_equal(lookup(a, "new.address@example.com"), 0);
	assert_int_equal(lookup(a, "old.address@example.com"), 1);

	Usher__V1__User *changed = NULL;
	assert_int_equal(confirm(a, token, &changed), US_OK);
	assert_string_equal(changed->id, u->id);
	assert_string_equal(changed->email, "new.address@example.com");
	assert_true(changed->email_verified);
	assert_int_equal(lookup(a, "new.address@example.com"), 1);
	assert_int_equal(lookup(a, "old.address@example.com"), 0);
	assert_int_equal(idt_login(client, a, "new.address@example.com", IDT_PASSWORD, NULL, NULL,
	                           NULL),
	                 US_OK);
	/* The link is single use. */
	assert_int_equal(confirm(a, token, NULL), US_ENOTFOUND);
	us_arena_free(a);
}

static void test_a_newer_request_replaces_an_older_one(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__V1__User *u = idt_create_user(client, a, "undecided@example.com");
	const char *key = idt_key(a);
	request_change(a, u->id, "first.choice@example.com", key);
	char *first = await_token(a, "first.choice@example.com");
	/* A resend of the same request queues no second email. */
	request_change(a, u->id, "first.choice@example.com", key);
	request_change(a, u->id, "second.choice@example.com", idt_key(a));
	char *second = await_token(a, "second.choice@example.com");
	assert_int_equal(count_messages("first.choice@example.com", NULL), 1);

	assert_int_equal(confirm(a, first, NULL), US_ENOTFOUND);
	Usher__V1__User *changed = NULL;
	assert_int_equal(confirm(a, second, &changed), US_OK);
	assert_string_equal(changed->email, "second.choice@example.com");
	us_arena_free(a);
}

static int setup(void **state)
{
	(void)state;
	sys = calloc(1, sizeof(*sys));
	ut_system_init(sys, "identity_email_change");
	snprintf(spool, sizeof(spool), "%s/mail", sys->dir);
	if (mkdir(spool, 0700) != 0)
		fail_msg("mkdir %s: %s", spool, strerror(errno));
	snprintf(spool_setting, sizeof(spool_setting), "MAIL_SPOOL_DIR=%s", spool);
	sys->extra_env[0] = spool_setting;
	sys->extra_env[1] = "PUBLIC_BASE_URL=" BASE_URL;
	ut_system_start(sys, UT_NOTIFICATION);
	ut_system_start(sys, UT_IDENTITY);
	client = idt_connect(sys);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_rpc_client_close(client);
	ut_system_teardown(sys);
	if (getenv("UT_KEEP") == NULL) {
		DIR *d = opendir(spool);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", spool, e->d_name);
			unlink(path);
		}
		if (d != NULL)
			closedir(d);
		rmdir(spool);
		rmdir(sys->dir);
	}
	free(sys);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_address_changes_when_the_emailed_link_is_confirmed),
		cmocka_unit_test(test_a_newer_request_replaces_an_older_one),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
