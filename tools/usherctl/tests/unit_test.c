/* usherctl without a daemon: how a command's arguments are parsed and checked (nothing
 * runs before every one has passed), and how replies are worded for people (enum labels,
 * fields as text, aligned tables). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/limits.h"
#include "ctl.h"
#include "usher/v1/tenancy.pb-c.h"

/* --- a command to parse into --- */

typedef struct test_params {
	char *account;
	ctl_list emails;
	int role;
	uint32_t limit;
	ctl_list products;
	char *name;
	bool dry_run;
	char *owner;
} test_params;

static test_params parsed;
static int runs;

static int run_try(ctl_ctx *ctx, void *params)
{
	(void)ctx;
	parsed = *(test_params *)params;
	runs++;
	return CTL_OK;
}

static const ctl_arg test_args[] = {
	{.name = "ACCOUNT", .kind = CTL_UUID, .offset = offsetof(test_params, account), .help = "a"},
	{.name = "EMAIL", .kind = CTL_EMAIL, .offset = offsetof(test_params, emails), .help = "e",
	 .flags = CTL_MANY | CTL_OPTIONAL, .max = 3},
	{.name = "--role", .kind = CTL_ENUM, .offset = offsetof(test_params, role), .help = "r",
	 .choices = &usher__v1__role__descriptor},
	{.name = "--limit", .kind = CTL_UINT, .offset = offsetof(test_params, limit), .help = "l",
	 .min = 1, .max = US_PAGE_SIZE_MAX},
	{.name = "--products", .kind = CTL_PRODUCTS, .offset = offsetof(test_params, products),
	 .help = "p", .max = US_PRODUCTS_MAX},
	{.name = "--name", .kind = CTL_NAME, .offset = offsetof(test_params, name), .help = "n"},
	{.name = "--dry-run", .kind = CTL_FLAG, .offset = offsetof(test_params, dry_run), .help = "d"},
	{.name = "--owner", .kind = CTL_USER, .offset = offsetof(test_params, owner), .help = "o",
	 .flags = CTL_REQUIRED},
};
static const ctl_command test_command = {
	.name = "try", .summary = "try it", .args = test_args, .n_args = CTL_COUNT(test_args),
	.params_size = sizeof(test_params), .run = run_try,
};
static const ctl_group test_group = {"tests", "test things", &test_command, 1};

#define ACCOUNT "0b9a8c3e-1d2f-4a5b-8c7d-6e5f4a3b2c1d"
#define OWNER "--owner", "Ann@Example.COM"

/* Runs "tests try" with the words given; returns the exit code, the params in parsed.
 * The words are copied: parsing normalises values in place, as in a real argv. */
static int try_with(ctl_ctx *ctx, int argc, char **words)
{
	memset(&parsed, 0, sizeof(parsed));
	runs = 0;
	char **argv = US_ARENA_ARRAY(ctx->arena, char *, (size_t)argc);
	for (int i = 0; i < argc; i++)
		argv[i] = us_arena_strdup(ctx->arena, words[i]);
	return ctl_run(ctx, &test_group, &test_command, argc, argv);
}
#define TRY(ctx, ...)                                                                        \
	try_with(ctx, (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)), (char *[]){__VA_ARGS__})

static int setup(void **state)
{
	ctl_ctx *ctx = calloc(1, sizeof(*ctx));
	ctx->arena = us_arena_new();
	*state = ctx;
	return 0;
}

static int teardown(void **state)
{
	ctl_ctx *ctx = *state;
	ctl_finish(ctx);
	free(ctx);
	return 0;
}

static void test_arguments_land_checked_and_normalised(void **state)
{
	ctl_ctx *ctx = *state;
	assert_int_equal(TRY(ctx, "0B9A8C3E-1D2F-4A5B-8C7D-6E5F4A3B2C1D", " Ada@Example.com ",
	                     "bo@example.org", "--role", "Admin", "--limit=20", "--products",
	                     "inbox,calendar", "--name", "Acme R&D", "--dry-run", OWNER, "--json"),
	                 CTL_OK);
	assert_int_equal(runs, 1);
	assert_string_equal(parsed.account, ACCOUNT);
	assert_int_equal(parsed.emails.n, 2);
	assert_string_equal(parsed.emails.items[0], "ada@example.com");
	assert_string_equal(parsed.emails.items[1], "bo@example.org");
	assert_int_equal(parsed.role, USHER__V1__ROLE__ROLE_ADMIN);
	assert_int_equal(parsed.limit, 20);
	assert_int_equal(parsed.products.n, 2);
	assert_string_equal(parsed.products.items[1], "calendar");
	assert_string_equal(parsed.name, "Acme R&D");
	assert_true(parsed.dry_run);
	assert_string_equal(parsed.owner, "ann@example.com");
	/* A global option after the command words. */
	assert_true(ctx->opts.json);
}

static void test_double_dash_ends_the_options(void **state)
{
	ctl_ctx *ctx = *state;
	assert_int_equal(TRY(ctx, OWNER, "--", ACCOUNT), CTL_OK);
	assert_string_equal(parsed.account, ACCOUNT);
	assert_int_equal(parsed.emails.n, 0);
}

static void test_bad_arguments_are_usage_errors_and_nothing_runs(void **state)
{
	ctl_ctx *ctx = *state;
	assert_int_equal(TRY(ctx, "not-a-uuid", OWNER), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT), CTL_USAGE);                 /* --owner is required */
	assert_int_equal(TRY(ctx, OWNER), CTL_USAGE);                   /* ACCOUNT is missing */
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--role", "boss"), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--limit", "0"), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--limit", "501"), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--limit", "12x"), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--limit", "5", "--limit", "6"), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--limit"), CTL_USAGE);   /* no value */
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--dry-run=yes"), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--colour", "red"), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, "not-an-email", OWNER), CTL_USAGE);
	assert_int_equal(TRY(ctx, ACCOUNT, "a@x.example", "b@x.example", "c@x.example",
	                     "d@x.example", OWNER),
	                 CTL_USAGE); /* more than max EMAILs */
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--products", "Inbox"), CTL_USAGE);
	assert_int_equal(runs, 0);
}

static void test_limits_come_from_the_limits_header(void **state)
{
	ctl_ctx *ctx = *state;
	char name[US_NAME_MAX_BYTES + 2];
	memset(name, 'n', US_NAME_MAX_BYTES);
	name[US_NAME_MAX_BYTES] = '\0';
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--name", name), CTL_OK);
	strcat(name, "n");
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--name", name), CTL_USAGE);

	char product[US_PRODUCT_NAME_MAX_BYTES + 2];
	memset(product, 'p', US_PRODUCT_NAME_MAX_BYTES);
	product[US_PRODUCT_NAME_MAX_BYTES] = '\0';
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--products", product), CTL_OK);
	strcat(product, "p");
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--products", product), CTL_USAGE);

	char products[4 * (US_PRODUCTS_MAX + 1)] = "";
	for (int i = 0; i <= US_PRODUCTS_MAX; i++)
		strcat(products, i ? ",p" : "p");
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--products", products), CTL_USAGE);
	*strrchr(products, ',') = '\0'; /* US_PRODUCTS_MAX of them */
	assert_int_equal(TRY(ctx, ACCOUNT, OWNER, "--products", products), CTL_OK);
	assert_int_equal(parsed.products.n, US_PRODUCTS_MAX);
}

static void test_global_options_before_the_command(void **state)
{
	ctl_ctx *ctx = *state;
	char *argv[] = {"usherctl", "--timeout", "1500", "--verbose", "tests", "try"};
	int i = 1;
	assert_int_equal(ctl_parse_global(ctx, 6, argv, &i), CTL_PROCEED);
	assert_int_equal(i, 4);
	assert_int_equal(ctx->opts.timeout_ms, 1500);
	assert_true(ctx->opts.verbose);
	assert_int_equal(ctl_timeout_ms(ctx), 1500);
	char *bad[] = {"usherctl", "--timeout", "0"};
	i = 1;
	assert_int_equal(ctl_parse_global(ctx, 3, bad, &i), CTL_USAGE);
}

/* --- output --- */

/* What fn prints on stdout. */
static char *stdout_of(void (*fn)(void *), void *arg)
{
	fflush(stdout);
	FILE *tmp = tmpfile();
	int saved = dup(STDOUT_FILENO);
	dup2(fileno(tmp), STDOUT_FILENO);
	fn(arg);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	long size = ftell(tmp);
	char *text = calloc(1, (size_t)size + 1);
	rewind(tmp);
	assert_int_equal(fread(text, 1, (size_t)size, tmp), (size_t)size);
	fclose(tmp);
	return text;
}

static void test_enum_labels(void **state)
{
	ctl_ctx *ctx = *state;
	assert_string_equal(ctl_enum_label(ctx, &usher__v1__role__descriptor,
	                                   USHER__V1__ROLE__ROLE_MODERATOR),
	                    "moderator");
	assert_string_equal(ctl_enum_label(ctx, &usher__v1__role__descriptor, 0), "-");
	assert_string_equal(ctl_enum_label(ctx, &usher__v1__role__descriptor, 99), "-");
}

static void test_fields_as_text(void **state)
{
	ctl_ctx *ctx = *state;
	Usher__V1__Membership m = USHER__V1__MEMBERSHIP__INIT;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	char *products[] = {"inbox", "calendar"};
	char *subs[] = {"s1", "s2"};
	m.role = USHER__V1__ROLE__ROLE_OWNER;
	m.products = products;
	m.n_products = 2;
	assert_string_equal(ctl_field_text(ctx, &m.base, "role"), "owner");
	assert_string_equal(ctl_field_text(ctx, &m.base, "products"), "inbox,calendar");
	assert_string_equal(ctl_field_text(ctx, &m.base, "flags"), "-");
	assert_string_equal(ctl_field_text(ctx, &m.base, "id"), "-");
	assert_string_equal(ctl_field_text(ctx, &m.base, "scope"), "-");
	m.scope = &scope;
	scope.organization = true;
	assert_string_equal(ctl_field_text(ctx, &m.base, "scope"), "organization");
	scope.organization = false;
	scope.subaccount_ids = subs;
	scope.n_subaccount_ids = 2;
	assert_string_equal(ctl_field_text(ctx, &m.base, "scope"), "subaccounts s1,s2");
}

static void print_table(void *arg)
{
	ctl_ctx *ctx = arg;
	static const char *const headers[] = {"NAME", "ROLE", "NOTE"};
	ctl_table *t = ctl_table_new(ctx, 3, headers);
	ctl_table_add(t, (const char *const[]){"Zoë", "owner", ""});
	ctl_table_add(t, (const char *const[]){"Al", "moderator", NULL});
	ctl_table_print(t);
}

static void test_tables_align_by_characters_not_bytes(void **state)
{
	char *text = stdout_of(print_table, *state);
	assert_string_equal(text, "NAME  ROLE       NOTE\n"
	                          "Zoë   owner      -\n"
	                          "Al    moderator  -\n");
	free(text);
}

static void print_membership(void *arg)
{
	ctl_ctx *ctx = arg;
	Usher__V1__Scope scope = USHER__V1__SCOPE__INIT;
	scope.organization = true;
	Usher__V1__Membership m = USHER__V1__MEMBERSHIP__INIT;
	m.id = "m1";
	m.role = USHER__V1__ROLE__ROLE_MEMBER;
	m.scope = &scope;
	ctl_print_record(ctx, &m.base);
}

static void test_records_show_every_field(void **state)
{
	char *text = stdout_of(print_membership, *state);
	assert_non_null(strstr(text, "id            m1\n"));
	assert_non_null(strstr(text, "role          member\n"));
	assert_non_null(strstr(text, "scope         organization\n"));
	assert_non_null(strstr(text, "account_name  -\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_arguments_land_checked_and_normalised, setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_dash_ends_the_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments_are_usage_errors_and_nothing_runs,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_come_from_the_limits_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_options_before_the_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enum_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_as_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tables_align_by_characters_not_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_show_every_field, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
