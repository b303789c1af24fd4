/* Protobuf ↔ JSON for any protobuf-c message, driven by its descriptor, following the
 * proto3 JSON mapping: lowerCamelCase names (the proto names are accepted too on input),
 * 64-bit integers as strings (numbers accepted on input), enums by name (numbers
 * accepted on input), bytes as base64, repeated fields as arrays, nested messages as
 * objects, oneofs as their one set member. Fields at their default value are left out.
 * Unknown fields and wrong types are refused with the field's path. */
#ifndef US_PBJSON_H
#define US_PBJSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "common/arena.h"
#include "common/err.h"

#define US_PBJSON_DEPTH_MAX 32

/* The JSON object for msg (a new reference), or NULL when out of memory. */
json_t *us_pbjson_encode(const ProtobufCMessage *msg);

/* Reads json (an object) into a new message of type, allocated in arena. On failure
 * returns INVALID_ARGUMENT with the offending field's path ("emails[3]", "scope.organization")
 * in path and the problem in reason. */
US_MUST_USE us_err us_pbjson_decode(const ProtobufCMessageDescriptor *type, const json_t *json,
                                    us_arena *arena, ProtobufCMessage **out, char *path,
                                    size_t path_size, char *reason, size_t reason_size);

/* The lowerCamelCase JSON name of a proto field name, into out. */
void us_pbjson_name(const char *proto_name, char *out, size_t size);

#endif
