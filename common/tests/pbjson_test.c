/* The protobuf ↔ JSON codec: every message type of our protos round-trips, the proto3
 * JSON mapping's forms are produced and accepted, and bad input names its field. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/arena.h"
#include "common/pbjson.h"
#include "usher/testing/json.pb-c.h"
#include "usher/v1/health.pb-c.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/notification.pb-c.h"
#include "usher/v1/rpc.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define MAX_TYPES 256

/* Every message type reachable from our services and the RPC envelope. */
static const ProtobufCMessageDescriptor *types[MAX_TYPES];
static size_t n_types;

static void collect(const ProtobufCMessageDescriptor *d)
{
	for (size_t i = 0; i < n_types; i++) {
		if (types[i] == d)
			return;
	}
	assert_true(n_types < MAX_TYPES);
	types[n_types++] = d;
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			collect(d->fields[i].descriptor);
	}
}

static void collect_all(void)
{
	const ProtobufCServiceDescriptor *services[] = {
		&usher__v1__health__descriptor, &usher__v1__identity_service__descriptor,
		&usher__v1__tenancy_service__descriptor, &usher__v1__invitation_service__descriptor,
		&usher__v1__notification_service__descriptor,
	};
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
		for (unsigned m = 0; m < services[s]->n_methods; m++) {
			collect(services[s]->methods[m].input);
			collect(services[s]->methods[m].output);
		}
	}
	collect(&usher__v1__rpc_request__descriptor);
	collect(&usher__v1__rpc_reply__descriptor);
	collect(&usher__testing__all_types__descriptor);
}

/* Sets one value of field f at p to something other than its default. */
static void fill_value(us_arena *a, const ProtobufCFieldDescriptor *f, void *p, int k, int depth);

static void fill_message(us_arena *a, const ProtobufCMessageDescriptor *d, void *mem, int depth)
{
	protobuf_c_message_init(d, mem);
	char *base = mem;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		/* Nested messages stop a few levels down so recursive types end. */
		if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
			if (*which != 0)
				continue; /* one member per oneof */
			*which = f->id;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t size = f->type == PROTOBUF_C_TYPE_MESSAGE ? sizeof(void *)
			              : f->type == PROTOBUF_C_TYPE_STRING ? sizeof(char *)
			              : f->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
			              : (f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_UINT64 ||
			                 f->type == PROTOBUF_C_TYPE_SINT64 || f->type == PROTOBUF_C_TYPE_FIXED64 ||
			                 f->type == PROTOBUF_C_TYPE_SFIXED64 || f->type == PROTOBUF_C_TYPE_DOUBLE)
			                      ? 8
			                      : 4;
			char *items = us_arena_alloc(a, 2 * size);
			fill_value(a, f, items, 0, depth);
			fill_value(a, f, items + size, 1, depth);
			*(size_t *)(base + f->quantifier_offset) = 2;
			*(void **)(base + f->offset) = items;
		} else {
			fill_value(a, f, base + f->offset, 0, depth);
		}
	}
}

static void fill_value(us_arena *a, const ProtobufCFieldDescriptor *f, void *p, int k, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: *(int32_t *)p = -7 - k; break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: *(uint32_t *)p = 4000000000u + (uint32_t)k; break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: *(int64_t *)p = -9007199254740993LL - k; break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: *(uint64_t *)p = 18446744073709551615ULL - (uint64_t)k; break;
	case PROTOBUF_C_TYPE_FLOAT: *(float *)p = 1.5f + (float)k; break;
	case PROTOBUF_C_TYPE_DOUBLE: *(double *)p = 2.25 + k; break;
	case PROTOBUF_C_TYPE_BOOL: *(protobuf_c_boolean *)p = 1; break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;
		*(int *)p = e->values[e->n_values - 1 - (unsigned)k % e->n_values].value;
		if (*(int *)p == 0)
			*(int *)p = e->values[e->n_values - 1].value;
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		*(char **)p = us_arena_printf(a, "%s-%d \"ünï\\cødé\"\n", f->name, k);
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = p;
		b->data = us_arena_alloc(a, 4);
		memcpy(b->data, "\x00\xff\x10\x80", 4);
		b->len = (size_t)(3 + k);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *d = f->descriptor;
		void *mem = us_arena_alloc(a, d->sizeof_message);
		fill_message(a, d, mem, depth + 1);
		*(void **)p = mem;
		break;
	}
	}
}

static uint8_t *pack(us_arena *a, const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = us_arena_alloc(a, *len);
	protobuf_c_message_pack(m, buf);
	return buf;
}

static void test_every_message_type_round_trips(void **state)
{
	(void)state;
	collect_all();
	assert_true(n_types > 60);
	for (size_t i = 0; i < n_types; i++) {
		us_arena *a = us_arena_new();
		void *msg = us_arena_alloc(a, types[i]->sizeof_message);
		fill_message(a, types[i], msg, 0);

		json_t *json = us_pbjson_encode(msg);
		if (json == NULL)
			fail_msg("%s did not encode", types[i]->name);
		/* Through text, as it travels. */
		char *text = json_dumps(json, JSON_COMPACT);
		json_decref(json);
		json_t *parsed = json_loads(text, 0, NULL);
		assert_non_null(parsed);

		ProtobufCMessage *back;
		char path[256], reason[256];
		us_err rc = us_pbjson_decode(types[i], parsed, a, &back, path, sizeof(path), reason,
		                             sizeof(reason));
		if (rc != US_OK)
			fail_msg("%s: %s %s\n%s", types[i]->name, path, reason, text);
		size_t len1, len2;
		uint8_t *b1 = pack(a, msg, &len1);
		uint8_t *b2 = pack(a, back, &len2);
		if (len1 != len2 || memcmp(b1, b2, len1) != 0)
			fail_msg("%s changed in the round trip:\n%s", types[i]->name, text);
		json_decref(parsed);
		free(text);
		us_arena_free(a);
	}
}

static json_t *encode_all_types(us_arena *a, Usher__Testing__AllTypes **out)
{
	Usher__Testing__AllTypes *m = US_ARENA_NEW(a, Usher__Testing__AllTypes);
	usher__testing__all_types__init(m);
	m->an_int64 = 9007199254740993LL;
	m->an_uint32 = 7;
	m->colour = USHER__TESTING__COLOUR__GREEN;
	m->some_bytes.data = (uint8_t *)"hi!";
	m->some_bytes.len = 3;
	m->choice_case = USHER__TESTING__ALL_TYPES__CHOICE_CHOICE_TEXT;
	m->choice_text = "";
	*out = m;
	return us_pbjson_encode(&m->base);
}

static void test_output_follows_the_proto3_mapping(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	Usher__Testing__AllTypes *m;
	json_t *j = encode_all_types(a, &m);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	/* lowerCamelCase, int64 as a string, enum by name, bytes as base64, defaults left out
	 * except a oneof's set member. */
	assert_string_equal(text, "{\"anInt64\":\"9007199254740993\",\"anUint32\":7,"
	                          "\"choiceText\":\"\",\"colour\":\"GREEN\",\"someBytes\":\"aGkh\"}");
	free(text);
	json_decref(j);
	us_arena_free(a);
}

static us_err decode_text(us_arena *a, const char *text, Usher__Testing__AllTypes **out,
                          char *path, char *reason)
{
	/* JSON_ALLOW_NUL: the codec itself must refuse NUL inside strings. */
	json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	ProtobufCMessage *m = NULL;
	us_err rc = us_pbjson_decode(&usher__testing__all_types__descriptor, j, a, &m, path, 256,
	                             reason, 256);
	json_decref(j);
	*out = (Usher__Testing__AllTypes *)m;
	return rc;
}

static void test_input_accepts_both_spellings_and_forms(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char path[256], reason[256];
	Usher__Testing__AllTypes *m;
	assert_int_equal(decode_text(a,
	                             "{\"an_int64\": 12, \"anSint64\": \"-5\", \"colour\": 1,"
	                             " \"colours\": [\"GREEN\", 1], \"some_bytes\": \"aGk_\","
	                             " \"inner\": {\"label\": \"x\", \"numbers\": [1, \"2\"]},"
	                             " \"a_string\": null, \"aDouble\": \"NaN\", \"choiceInner\": {}}",
	                             &m, path, reason),
	                 US_OK);
	assert_int_equal(m->an_int64, 12);
	assert_int_equal(m->an_sint64, -5);
	assert_int_equal(m->colour, USHER__TESTING__COLOUR__RED);
	assert_int_equal(m->n_colours, 2);
	assert_int_equal(m->colours[0], USHER__TESTING__COLOUR__GREEN);
	assert_int_equal(m->some_bytes.len, 3);
	assert_memory_equal(m->some_bytes.data, "hi?", 3);
	assert_string_equal(m->inner->label, "x");
	assert_int_equal(m->inner->numbers[1], 2);
	assert_int_equal(m->choice_case, USHER__TESTING__ALL_TYPES__CHOICE_CHOICE_INNER);
	us_arena_free(a);
}

/* Found by fuzzing: NaN and the infinities were read but not written (json_real() takes
 * only finite numbers), so a message holding one encoded to nothing at all. */
static void test_non_finite_numbers_round_trip(void **state)
{
	(void)state;
	us_arena *a = us_arena_new();
	char path[256], reason[256];
	Usher__Testing__AllTypes *m;
	assert_int_equal(decode_text(a, "{\"aDouble\": \"NaN\", \"aFloat\": \"-Infinity\","
	                                " \"inner\": {}}",
	                             &m, path, reason),
	                 US_OK);
	json_t *j = us_pbjson_encode(&m->base);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "aDouble")), "NaN");
	assert_string_equal(json_string_value(json_object_get(j, "aFloat")), "-Infinity");
	m->a_double = INFINITY;
	json_decref(j);
	j = us_pbjson_encode(&m->base);
	assert_string_equal(json_string_value(json_object_get(j, "aDouble")), "Infinity");
	json_decref(j);
	us_arena_free(a);
}

static void test_bad_input_names_the_field(void **state)
{
	(void)state;
	const struct {
		const char *json, *path, *reason;
	} cases[] = {
		{"{\"nope\": 1}", "nope", "is not a field of usher.testing.AllTypes"},
		{"{\"inner\": {\"label\": 5}}", "inner.label", "must be a string"},
		{"{\"inner\": {\"numbers\": [1, \"x\"]}}", "inner.numbers[1]", "must be an integer"},
		{"{\"anInt32\": 4294967296}", "anInt32", "is out of range"},
		{"{\"an_uint32\": -1}", "an_uint32", "must not be negative"},
		{"{\"colour\": \"BLUE\"}", "colour", "must be one of COLOUR_UNSPECIFIED, RED, GREEN"},
		{"{\"aBool\": \"true\"}", "aBool", "must be true or false"},
		{"{\"strings\": \"one\"}", "strings", "must be an array"},
		{"{\"inner\": []}", "inner", "must be an object"},
		{"{\"someBytes\": \"***\"}", "someBytes", "must be a base64 string"},
		/* libsodium 1.0.18 read "\xc3\xa9" as two digits of base64. */
		{"{\"someBytes\": \"AA\u00e9\"}", "someBytes", "must be a base64 string"},
		{"{\"choiceText\": \"a\", \"choiceInner\": {}}", "choiceInner",
		 "is part of a oneof that already has a member set"},
		{"{\"aString\": \"a\\u0000b\"}", "aString", "must not contain NUL characters"},
		/* Found by fuzzing: read as a float, 1e39 became infinity. */
		{"{\"aFloat\": 1e39}", "aFloat", "is out of range"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		us_arena *a = us_arena_new();
		char path[256], reason[256];
		Usher__Testing__AllTypes *m;
		assert_int_equal(decode_text(a, cases[i].json, &m, path, reason), US_EINVAL);
		assert_string_equal(path, cases[i].path);
		assert_string_equal(reason, cases[i].reason);
		us_arena_free(a);
	}
	/* Not an object at the top. */
	us_arena *a = us_arena_new();
	json_t *j = json_array();
	ProtobufCMessage *m;
	char path[256], reason[256];
	assert_int_equal(us_pbjson_decode(&usher__testing__all_types__descriptor, j, a, &m, path, 256,
	                                  reason, 256),
	                 US_EINVAL);
	assert_string_equal(reason, "must be an object");
	json_decref(j);
	us_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_type_round_trips),
		cmocka_unit_test(test_output_follows_the_proto3_mapping),
		cmocka_unit_test(test_input_accepts_both_spellings_and_forms),
		cmocka_unit_test(test_bad_input_names_the_field),
		cmocka_unit_test(test_non_finite_numbers_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
