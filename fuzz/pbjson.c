/* The proto3 JSON codec the gateway puts in front of every /rpc/ method: the input's first
 * byte picks a message type (every input type of the services the gateway serves, and a
 * test message with every field shape), the rest is a JSON body, parsed as the gateway
 * parses one. Properties: decoding either succeeds with a message protobuf-c accepts or
 * fails with a reason; what decoded encodes to JSON that decodes again to the same
 * message (the same bytes once packed), and encodes again to the same JSON. */
#include "fuzz.h"

#include <jansson.h>

#include "common/arena.h"
#include "common/pbjson.h"
#include "usher/testing/json.pb-c.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"
#include "usher/v1/tenancy.pb-c.h"

#define TYPES_MAX 128

static const ProtobufCMessageDescriptor *types[TYPES_MAX];
static size_t n_types;

static void add_type(const ProtobufCMessageDescriptor *d)
{
	for (size_t i = 0; i < n_types; i++) {
		if (types[i] == d)
			return;
	}
	FUZZ_CHECK(n_types < TYPES_MAX);
	types[n_types++] = d;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	add_type(&usher__testing__all_types__descriptor);
	const ProtobufCServiceDescriptor *services[] = {
		&usher__v1__identity_service__descriptor,
		&usher__v1__tenancy_service__descriptor,
		&usher__v1__invitation_service__descriptor,
	};
	for (size_t s = 0; s < 3; s++) {
		for (unsigned m = 0; m < services[s]->n_methods; m++)
			add_type(services[s]->methods[m].input);
	}
	return 0;
}

/* The message packed into the arena; *len its size. */
static uint8_t *packed(us_arena *a, const ProtobufCMessage *msg, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = us_arena_alloc(a, *len + 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(protobuf_c_message_pack(msg, buf) == *len);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *type = types[data[0] % n_types];
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return 0;
	if (!json_is_object(doc)) {
		json_decref(doc);
		return 0;
	}
	us_arena *a = us_arena_new();
	FUZZ_CHECK(a != NULL);
	ProtobufCMessage *msg;
	char path[256], reason[256];
	us_err rc = us_pbjson_decode(type, doc, a, &msg, path, sizeof(path), reason, sizeof(reason));
	if (rc != US_OK) {
		FUZZ_CHECK(rc == US_EINVAL && reason[0] != '\0');
	} else {
		FUZZ_CHECK(msg->descriptor == type && protobuf_c_message_check(msg));
		json_t *encoded = us_pbjson_encode(msg);
		FUZZ_CHECK(encoded != NULL);
		ProtobufCMessage *again;
		rc = us_pbjson_decode(type, encoded, a, &again, path, sizeof(path), reason,
		                      sizeof(reason));
		if (rc != US_OK)
			fprintf(stderr, "%s: %s\n", path, reason);
		FUZZ_CHECK(rc == US_OK);
		size_t len1, len2;
		uint8_t *bytes1 = packed(a, msg, &len1);
		uint8_t *bytes2 = packed(a, again, &len2);
		FUZZ_CHECK(len1 == len2 && memcmp(bytes1, bytes2, len1) == 0);
		json_t *reencoded = us_pbjson_encode(again);
		FUZZ_CHECK(reencoded != NULL && json_equal(encoded, reencoded));
		json_decref(reencoded);
		json_decref(encoded);
	}
	json_decref(doc);
	us_arena_free(a);
	return 0;
}
