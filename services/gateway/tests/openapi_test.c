/* The OpenAPI document (openapi.c) says what the gateway serves: every method of the
 * /rpc/ allow-list with its messages, in the JSON the codec writes; GET /openapi.json
 * serves it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api.h"
#include "openapi.h"
#include "routes.h"

static json_t *doc;

static json_t *at(json_t *from, const char *const *keys)
{
	for (size_t i = 0; keys[i] != NULL && from != NULL; i++)
		from = json_object_get(from, keys[i]);
	return from;
}

static json_t *schema(const char *name)
{
	const char *keys[] = {"components", "schemas", name, NULL};
	return at(doc, keys);
}

/* The schema a {"$ref": "#/components/schemas/NAME"} points at. */
static json_t *deref(json_t *ref)
{
	const char *target = json_string_value(json_object_get(ref, "$ref"));
	assert_non_null(target);
	assert_memory_equal(target, "#/components/schemas/", 21);
	json_t *s = schema(target + 21);
	if (s == NULL)
		fail_msg("%s: no such schema", target);
	return s;
}

static void test_every_public_method_is_described(void **state)
{
	(void)state;
	const char *name;
	gateway_api_caller who;
	const ProtobufCMethodDescriptor *md;
	size_t n = 0;
	for (size_t i = 0; gateway_api_method(i, &name, &who, &md); i++, n++) {
		if (md == NULL)
			fail_msg("%s: allow-listed, but no backend serves it", name);
		char path[200];
		snprintf(path, sizeof(path), "/rpc/%s", name);
		const char *body[] = {"paths", path, "post", "requestBody", "content",
		                      "application/json", "schema", NULL};
		const char *ok[] = {"paths", path, "post", "responses", "200", "content",
		                    "application/json", "schema", NULL};
		if (at(doc, body) == NULL)
			fail_msg("%s: not in the document", path);
		assert_ptr_equal(deref(at(doc, body)), schema(md->input->name));
		assert_ptr_equal(deref(at(doc, ok)), schema(md->output->name));
		const char *security[] = {"paths", path, "post", "security", NULL};
		/* Only an API key for the service methods; anyone may try the token holders'. */
		json_t *sec = at(doc, security);
		assert_int_equal(json_array_size(sec), who == GATEWAY_API_SERVICE_KEY ? 1
		                                       : who == GATEWAY_API_TOKEN_HOLDER ? 3 : 2);
	}
	assert_true(n >= 30);
	/* Internal methods are not public. */
	const char *internal[] = {"paths", "/rpc/usher.v1.TenancyService/GrantMembership", NULL};
	assert_null(at(doc, internal));
}

/* Names and types as common/pbjson.c writes them: lowerCamelCase, repeated as arrays,
 * enums by name, nested messages by reference, unknown fields refused. */
static void test_schemas_follow_the_json_mapping(void **state)
{
	(void)state;
	json_t *req = schema("usher.v1.CreateInvitationsRequest");
	assert_non_null(req);
	json_t *props = json_object_get(req, "properties");
	assert_non_null(json_object_get(props, "accountId"));
	assert_null(json_object_get(props, "account_id"));
	assert_string_equal(json_string_value(at(props, (const char *[]){"emails", "type", NULL})),
	                    "array");
	json_t *role = deref(json_object_get(props, "role"));
	json_t *values = json_object_get(role, "enum");
	int found = 0;
	for (size_t i = 0; i < json_array_size(values); i++)
		found += strcmp(json_string_value(json_array_get(values, i)), "ROLE_MEMBER") == 0;
	assert_int_equal(found, 1);
	assert_ptr_equal(deref(json_object_get(props, "scope")), schema("usher.v1.Scope"));
	assert_false(json_is_true(json_object_get(req, "additionalProperties")));
	json_t *outcome = schema("usher.v1.AddressResult");
	assert_non_null(outcome);
	assert_string_equal(json_string_value(at(outcome, (const char *[]){"properties", "index", "type",
	                                                                 NULL})),
	                    "integer");
}

static void test_it_is_served(void **state)
{
	(void)state;
	gateway_request req = {.method = "GET", .path = "/openapi.json"};
	unsigned status;
	const gateway_route *r = gateway_routes_find(&req, &status);
	assert_non_null(r);
	assert_ptr_equal(r->handler, gateway_openapi_serve);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	const char *self[] = {"paths", "/openapi.json", "get", NULL};
	assert_non_null(at(doc, self));
}

static int setup(void **state)
{
	(void)state;
	doc = gateway_openapi_document();
	return doc == NULL;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(doc);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_public_method_is_described),
		cmocka_unit_test(test_schemas_follow_the_json_mapping),
		cmocka_unit_test(test_it_is_served),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
