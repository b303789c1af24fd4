#include "common/pbjson.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/validate.h"

#define NAME_MAX_BYTES 128
#define BYTES_MAX (16u * 1024 * 1024)

void us_pbjson_name(const char *proto_name, char *out, size_t size)
{
	size_t n = 0;
	bool upper = false;
	for (const char *p = proto_name; *p && n + 1 < size; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		out[n++] = (char)(upper && *p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		upper = false;
	}
	out[n] = '\0';
}

static size_t size_of(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM: return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return 8;
	case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* --- encoding --- */

static json_t *encode_message(const ProtobufCMessage *msg, int depth);

/* JSON has no NaN or infinities: proto3 spells them as strings. */
static json_t *encode_real(double d)
{
	if (isnan(d))
		return json_string("NaN");
	if (isinf(d))
		return json_string(d > 0 ? "Infinity" : "-Infinity");
	return json_real(d);
}

static json_t *encode_value(const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
	char text[32];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(text, sizeof(text), "%" PRId64, *(const int64_t *)p);
		return json_string(text);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(text, sizeof(text), "%" PRIu64, *(const uint64_t *)p);
		return json_string(text);
	case PROTOBUF_C_TYPE_FLOAT: return encode_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE: return encode_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		int value = *(const int *)p;
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(f->descriptor, value);
		return v != NULL ? json_string(v->name) : json_integer(value);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return json_string(s != NULL ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		size_t len = sodium_base64_ENCODED_LEN(b->len, sodium_base64_VARIANT_ORIGINAL);
		char *buf = malloc(len);
		if (buf == NULL)
			return NULL;
		sodium_bin2base64(buf, len, b->data, b->len, sodium_base64_VARIANT_ORIGINAL);
		json_t *s = json_string(buf);
		free(buf);
		return s;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		return m != NULL ? encode_message(m, depth + 1) : json_object();
	}
	}
	return NULL;
}

static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)p == NULL;
	case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p == 0;
	case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0;
	default: {
		static const uint8_t zero[8];
		return memcmp(p, zero, size_of(f->type)) == 0;
	}
	}
}

static json_t *encode_message(const ProtobufCMessage *msg, int depth)
{
	if (depth > US_PBJSON_DEPTH_MAX)
		return NULL;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	json_t *obj = json_object();
	for (unsigned i = 0; obj != NULL && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char name[NAME_MAX_BYTES];
		us_pbjson_name(f->name, name, sizeof(name));
		json_t *value = NULL;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *items = *(char *const *)(base + f->offset);
			if (n == 0)
				continue;
			value = json_array();
			for (size_t k = 0; value != NULL && k < n; k++) {
				json_t *item = encode_value(f, items + k * size_of(f->type), depth);
				if (item == NULL || json_array_append_new(value, item) != 0) {
					json_decref(value);
					value = NULL;
				}
			}
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
			value = encode_value(f, base + f->offset, depth);
		} else {
			if (is_default(f, base + f->offset))
				continue;
			value = encode_value(f, base + f->offset, depth);
		}
		if (value == NULL || json_object_set_new(obj, name, value) != 0) {
			json_decref(obj);
			obj = NULL;
		}
	}
	return obj;
}

json_t *us_pbjson_encode(const ProtobufCMessage *msg)
{
	return encode_message(msg, 0);
}

/* --- decoding --- */

typedef struct decoder {
	us_arena *arena;
	char *path;
	size_t path_size;
	char *reason;
	size_t reason_size;
} decoder;

static us_err fail(decoder *dc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static us_err fail(decoder *dc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dc->reason, dc->reason_size, fmt, ap);
	va_end(ap);
	return US_EINVAL;
}

/* Appends ".name" or "[i]" to the path; returns the old length to restore. */
static size_t push_name(decoder *dc, const char *name)
{
	size_t len = strlen(dc->path);
	snprintf(dc->path + len, dc->path_size - len, "%s%s", len ? "." : "", name);
	return len;
}

static size_t push_index(decoder *dc, size_t i)
{
	size_t len = strlen(dc->path);
	snprintf(dc->path + len, dc->path_size - len, "[%zu]", i);
	return len;
}

static void pop(decoder *dc, size_t len)
{
	dc->path[len] = '\0';
}

static us_err decode_message(decoder *dc, const ProtobufCMessageDescriptor *d, const json_t *j,
                             void *mem, int depth);

/* An integer from a JSON number or a decimal string, within [min, max]. */
static us_err read_signed(decoder *dc, const json_t *j, int64_t min, int64_t max, int64_t *out)
{
	if (json_is_integer(j)) {
		*out = json_integer_value(j);
	} else if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end;
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (errno != 0 || end == s || *end != '\0')
			return fail(dc, "must be an integer");
		*out = v;
	} else {
		return fail(dc, "must be an integer");
	}
	if (*out < min || *out > max)
		return fail(dc, "is out of range");
	return US_OK;
}

static us_err read_unsigned(decoder *dc, const json_t *j, uint64_t max, uint64_t *out)
{
	if (json_is_integer(j)) {
		if (json_integer_value(j) < 0)
			return fail(dc, "must not be negative");
		*out = (uint64_t)json_integer_value(j);
	} else if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end;
		errno = 0;
		if (s[0] == '-')
			return fail(dc, "must not be negative");
		unsigned long long v = strtoull(s, &end, 10);
		if (errno != 0 || end == s || *end != '\0')
			return fail(dc, "must be an integer");
		*out = v;
	} else {
		return fail(dc, "must be an integer");
	}
	if (*out > max)
		return fail(dc, "is out of range");
	return US_OK;
}

static us_err read_double(decoder *dc, const json_t *j, double *out)
{
	if (json_is_number(j)) {
		*out = json_number_value(j);
		return US_OK;
	}
	const char *s = json_is_string(j) ? json_string_value(j) : "";
	if (strcmp(s, "NaN") == 0)
		*out = NAN;
	else if (strcmp(s, "Infinity") == 0)
		*out = INFINITY;
	else if (strcmp(s, "-Infinity") == 0)
		*out = -INFINITY;
	else
		return fail(dc, "must be a number");
	return US_OK;
}

static us_err read_enum(decoder *dc, const ProtobufCEnumDescriptor *e, const json_t *j, int *out)
{
	const ProtobufCEnumValue *v = NULL;
	if (json_is_string(j))
		v = protobuf_c_enum_descriptor_get_value_by_name(e, json_string_value(j));
	else if (json_is_integer(j) && json_integer_value(j) >= INT32_MIN &&
	         json_integer_value(j) <= INT32_MAX)
		v = protobuf_c_enum_descriptor_get_value(e, (int)json_integer_value(j));
	if (v == NULL) {
		char names[512] = "";
		for (unsigned i = 0; i < e->n_values; i++) {
			size_t len = strlen(names);
			snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "", e->values[i].name);
		}
		return fail(dc, "must be one of %s", names);
	}
	*out = v->value;
	return US_OK;
}

static us_err read_bytes(decoder *dc, const json_t *j, ProtobufCBinaryData *out)
{
	if (!json_is_string(j))
		return fail(dc, "must be a base64 string");
	const char *s = json_string_value(j);
	size_t len = json_string_length(j);
	if (len / 4 * 3 > BYTES_MAX)
		return fail(dc, "is too large");
	if (!us_base64_chars(s, len))
		return fail(dc, "must be a base64 string");
	uint8_t *buf = us_arena_alloc(dc->arena, len / 4 * 3 + 3);
	if (buf == NULL)
		return US_EEXHAUSTED;
	static const int variants[] = {
		sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
		sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
	};
	for (size_t i = 0; i < 4; i++) {
		size_t n = 0;
		if (sodium_base642bin(buf, len / 4 * 3 + 3, s, len, NULL, &n, NULL, variants[i]) == 0) {
			out->data = buf;
			out->len = n;
			return US_OK;
		}
	}
	return fail(dc, "must be a base64 string");
}

/* Reads one value of field f into p. */
static us_err decode_value(decoder *dc, const ProtobufCFieldDescriptor *f, const json_t *j,
                           void *p, int depth)
{
	int64_t i64;
	uint64_t u64;
	double dbl;
	us_err rc;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if ((rc = read_signed(dc, j, INT32_MIN, INT32_MAX, &i64)) == US_OK)
			*(int32_t *)p = (int32_t)i64;
		return rc;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if ((rc = read_unsigned(dc, j, UINT32_MAX, &u64)) == US_OK)
			*(uint32_t *)p = (uint32_t)u64;
		return rc;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if ((rc = read_signed(dc, j, INT64_MIN, INT64_MAX, &i64)) == US_OK)
			*(int64_t *)p = i64;
		return rc;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if ((rc = read_unsigned(dc, j, UINT64_MAX, &u64)) == US_OK)
			*(uint64_t *)p = u64;
		return rc;
	case PROTOBUF_C_TYPE_FLOAT:
		if ((rc = read_double(dc, j, &dbl)) != US_OK)
			return rc;
		if (isfinite(dbl) && fabs(dbl) > FLT_MAX)
			return fail(dc, "is out of range");
		*(float *)p = (float)dbl;
		return US_OK;
	case PROTOBUF_C_TYPE_DOUBLE:
		if ((rc = read_double(dc, j, &dbl)) == US_OK)
			*(double *)p = dbl;
		return rc;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j))
			return fail(dc, "must be true or false");
		*(protobuf_c_boolean *)p = json_is_true(j);
		return US_OK;
	case PROTOBUF_C_TYPE_ENUM:
		return read_enum(dc, f->descriptor, j, (int *)p);
	case PROTOBUF_C_TYPE_STRING: {
		if (!json_is_string(j))
			return fail(dc, "must be a string");
		size_t len = json_string_length(j);
		if (strlen(json_string_value(j)) != len)
			return fail(dc, "must not contain NUL characters");
		*(char **)p = us_arena_strndup(dc->arena, json_string_value(j), len);
		return *(char **)p != NULL ? US_OK : US_EEXHAUSTED;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return read_bytes(dc, j, p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *md = f->descriptor;
		void *mem = us_arena_alloc(dc->arena, md->sizeof_message);
		if (mem == NULL)
			return US_EEXHAUSTED;
		rc = decode_message(dc, md, j, mem, depth + 1);
		if (rc == US_OK)
			*(ProtobufCMessage **)p = mem;
		return rc;
	}
	}
	return fail(dc, "has an unsupported type");
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		char name[NAME_MAX_BYTES];
		us_pbjson_name(d->fields[i].name, name, sizeof(name));
		if (strcmp(key, name) == 0 || strcmp(key, d->fields[i].name) == 0)
			return &d->fields[i];
	}
	return NULL;
}

static us_err decode_field(decoder *dc, const ProtobufCFieldDescriptor *f, const json_t *value,
                           char *base, int depth)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		if (!json_is_array(value))
			return fail(dc, "must be an array");
		size_t n = json_array_size(value);
		char *items = us_arena_alloc(dc->arena, (n ? n : 1) * size_of(f->type));
		if (items == NULL)
			return US_EEXHAUSTED;
		for (size_t k = 0; k < n; k++) {
			size_t mark = push_index(dc, k);
			us_err rc = decode_value(dc, f, json_array_get(value, k), items + k * size_of(f->type),
			                         depth);
			if (rc != US_OK)
				return rc;
			pop(dc, mark);
		}
		*(size_t *)(base + f->quantifier_offset) = n;
		*(void **)(base + f->offset) = items;
		return US_OK;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
		if (*which != 0 && *which != f->id)
			return fail(dc, "is part of a oneof that already has a member set");
		*which = f->id;
	}
	return decode_value(dc, f, value, base + f->offset, depth);
}

static us_err decode_message(decoder *dc, const ProtobufCMessageDescriptor *d, const json_t *j,
                             void *mem, int depth)
{
	if (depth > US_PBJSON_DEPTH_MAX)
		return fail(dc, "is nested too deeply");
	if (!json_is_object(j))
		return fail(dc, "must be an object");
	protobuf_c_message_init(d, mem);
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)j, key, value) {
		size_t mark = push_name(dc, key);
		const ProtobufCFieldDescriptor *f = find_field(d, key);
		if (f == NULL)
			return fail(dc, "is not a field of %s", d->name);
		/* proto3: null stands for the default value. */
		if (!json_is_null(value)) {
			us_err rc = decode_field(dc, f, value, mem, depth);
			if (rc != US_OK)
				return rc;
		}
		pop(dc, mark);
	}
	return US_OK;
}

us_err us_pbjson_decode(const ProtobufCMessageDescriptor *type, const json_t *json, us_arena *arena,
                        ProtobufCMessage **out, char *path, size_t path_size, char *reason,
                        size_t reason_size)
{
	decoder dc = {arena, path, path_size, reason, reason_size};
	path[0] = '\0';
	reason[0] = '\0';
	void *mem = us_arena_alloc(arena, type->sizeof_message);
	if (mem == NULL)
		return US_EEXHAUSTED;
	us_err rc = decode_message(&dc, type, json, mem, 0);
	if (rc != US_OK)
		return rc;
	*out = mem;
	return US_OK;
}
