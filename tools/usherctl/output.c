#include "args.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/pbjson.h"
#include "usher/v1/tenancy.pb-c.h"

const ProtobufCFieldDescriptor *ctl_field_of(const ProtobufCMessageDescriptor *d,
                                             const char *name)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
	assert(f != NULL);
	return f;
}

void ctl_print_json(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	if (text == NULL)
		fputs("usherctl: out of memory\n", stderr);
	else
		printf("%s\n", text);
	free(text);
	json_decref(doc);
}

void ctl_print_message_json(const ProtobufCMessage *msg)
{
	ctl_print_json(us_pbjson_encode(msg));
}

const char *ctl_enum_label(ctl_ctx *ctx, const ProtobufCEnumDescriptor *e, int value)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(e, value);
	if (v == NULL || value == 0)
		return "-";
	/* Our enums prefix every value with their kind: ROLE_MEMBER, INVITATION_PENDING. */
	const char *underscore = strchr(v->name, '_');
	char *label = us_arena_strdup(ctx->arena, underscore ? underscore + 1 : v->name);
	if (label == NULL)
		return "-";
	ctl_args_lowercase(label);
	return label;
}

static const char *scope_text(ctl_ctx *ctx, const Usher__V1__Scope *s)
{
	if (s == NULL)
		return "-";
	if (s->organization)
		return "organization";
	if (s->n_subaccount_ids == 0)
		return "-";
	char *out = "subaccounts";
	for (size_t i = 0; i < s->n_subaccount_ids; i++)
		out = us_arena_printf(ctx->arena, "%s%s%s", out, i ? "," : " ", s->subaccount_ids[i]);
	return out;
}

/* The text of one value of f stored at p. */
static const char *value_text(ctl_ctx *ctx, const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return s != NULL && s[0] != '\0' ? s : "-";
	}
	case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p ? "yes" : "no";
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return us_arena_printf(ctx->arena, "%u", *(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return us_arena_printf(ctx->arena, "%d", *(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return us_arena_printf(ctx->arena, "%llu", (unsigned long long)*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return us_arena_printf(ctx->arena, "%lld", (long long)*(const int64_t *)p);
	case PROTOBUF_C_TYPE_ENUM: return ctl_enum_label(ctx, f->descriptor, *(const int *)p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		if (m == NULL)
			return "-";
		if (m->descriptor == &usher__v1__scope__descriptor)
			return scope_text(ctx, (const Usher__V1__Scope *)m);
		json_t *doc = us_pbjson_encode(m);
		char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		const char *out = text ? us_arena_strdup(ctx->arena, text) : "-";
		free(text);
		json_decref(doc);
		return out;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return us_arena_printf(ctx->arena, "(%zu bytes)", ((const ProtobufCBinaryData *)p)->len);
	default: return "?";
	}
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64: return 8;
	case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
	default: return 4;
	}
}

static const char *field_text(ctl_ctx *ctx, const ProtobufCMessage *msg,
                              const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return value_text(ctx, f, (const char *)msg + f->offset);
	size_t n = *CTL_REPEATED_N(msg, f);
	const char *items = *(char *const *)((const char *)msg + f->offset);
	if (n == 0)
		return "-";
	char *out = "";
	for (size_t i = 0; i < n; i++)
		out = us_arena_printf(ctx->arena, "%s%s%s", out, i ? "," : "",
		                      value_text(ctx, f, items + i * value_size(f)));
	return out;
}

const char *ctl_field_text(ctl_ctx *ctx, const ProtobufCMessage *msg, const char *field)
{
	return field_text(ctx, msg, ctl_field_of(msg->descriptor, field));
}

void ctl_print_record(ctl_ctx *ctx, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	int width = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		int len = (int)strlen(d->fields[i].name);
		width = len > width ? len : width;
	}
	for (unsigned i = 0; i < d->n_fields; i++)
		printf("%-*s  %s\n", width, d->fields[i].name, field_text(ctx, msg, &d->fields[i]));
}

struct ctl_table {
	ctl_ctx *ctx;
	size_t n_cols;
	const char *const *headers;
	const char ***rows;
	size_t n_rows, cap;
	bool failed;
};

ctl_table *ctl_table_new(ctl_ctx *ctx, size_t n_cols, const char *const *headers)
{
	ctl_table *t = US_ARENA_NEW(ctx->arena, ctl_table);
	if (t == NULL)
		return NULL;
	t->ctx = ctx;
	t->n_cols = n_cols;
	t->headers = headers;
	return t;
}

void ctl_table_add(ctl_table *t, const char *const *cells)
{
	if (t == NULL)
		return;
	if (t->n_rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		const char ***rows = US_ARENA_ARRAY(t->ctx->arena, const char **, cap);
		if (rows == NULL) {
			t->failed = true;
			return;
		}
		if (t->n_rows > 0)
			memcpy(rows, t->rows, t->n_rows * sizeof(*rows));
		t->rows = rows;
		t->cap = cap;
	}
	const char **row = US_ARENA_ARRAY(t->ctx->arena, const char *, t->n_cols);
	if (row == NULL) {
		t->failed = true;
		return;
	}
	memcpy(row, cells, t->n_cols * sizeof(*row));
	t->rows[t->n_rows++] = row;
}

/* Columns a cell takes on a terminal: UTF-8 characters, not bytes. */
static size_t columns(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* An empty cell shows as "-", so columns stay readable. */
static const char *cell_text(const char *cell)
{
	return cell != NULL && cell[0] != '\0' ? cell : "-";
}

static void print_row(const ctl_table *t, const char *const *cells, const size_t *widths)
{
	for (size_t c = 0; c < t->n_cols; c++) {
		const char *cell = cell_text(cells[c]);
		fputs(cell, stdout);
		if (c + 1 < t->n_cols)
			printf("%*s", (int)(widths[c] - columns(cell) + 2), "");
	}
	putchar('\n');
}

void ctl_table_print(const ctl_table *t)
{
	if (t == NULL || t->failed) {
		fputs("usherctl: out of memory\n", stderr);
		return;
	}
	size_t *widths = US_ARENA_ARRAY(t->ctx->arena, size_t, t->n_cols);
	if (widths == NULL)
		return;
	for (size_t c = 0; c < t->n_cols; c++) {
		widths[c] = columns(t->headers[c]);
		for (size_t r = 0; r < t->n_rows; r++) {
			size_t w = columns(cell_text(t->rows[r][c]));
			widths[c] = w > widths[c] ? w : widths[c];
		}
	}
	print_row(t, t->headers, widths);
	for (size_t r = 0; r < t->n_rows; r++)
		print_row(t, t->rows[r], widths);
}

void ctl_print_messages(ctl_ctx *ctx, size_t n_cols, const char *const *headers,
                        const char *const *fields, ProtobufCMessage *const *msgs, size_t n)
{
	ctl_table *t = ctl_table_new(ctx, n_cols, headers);
	const char **cells = US_ARENA_ARRAY(ctx->arena, const char *, n_cols);
	for (size_t r = 0; t != NULL && cells != NULL && r < n; r++) {
		for (size_t c = 0; c < n_cols; c++)
			cells[c] = ctl_field_text(ctx, msgs[r], fields[c]);
		ctl_table_add(t, cells);
	}
	ctl_table_print(t);
}
