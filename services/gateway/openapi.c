#include "openapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/pbjson.h"
#include "usher/v1/identity.pb-c.h"
#include "usher/v1/invitation.pb-c.h"

#define SCHEMAS "#/components/schemas/"

static json_t *ref(const char *where, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s%s", where, name);
	return json_pack("{s:s}", "$ref", path);
}

static void add_message(json_t *schemas, const ProtobufCMessageDescriptor *d);

static void add_enum(json_t *schemas, const ProtobufCEnumDescriptor *e)
{
	if (json_object_get(schemas, e->name) != NULL)
		return;
	json_t *names = json_array();
	for (unsigned i = 0; i < e->n_values; i++)
		json_array_append_new(names, json_string(e->values[i].name));
	json_object_set_new(schemas, e->name,
	                    json_pack("{s:s, s:o, s:s}", "type", "string", "enum", names, "description",
	                              "By name (the value's number is accepted on input)."));
}

/* A field's value as the proto3 JSON mapping writes it. */
static json_t *value_schema(json_t *schemas, const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_pack("{s:s, s:i, s:I}", "type", "integer", "minimum", 0, "maximum",
		                 (json_int_t)UINT32_MAX);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_pack("{s:s, s:s}", "type", "string", "format", "int64");
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_pack("{s:s, s:s}", "type", "string", "format", "uint64");
	case PROTOBUF_C_TYPE_FLOAT:
		return json_pack("{s:s, s:s}", "type", "number", "format", "float");
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_pack("{s:s, s:s}", "type", "number", "format", "double");
	case PROTOBUF_C_TYPE_BOOL:
		return json_pack("{s:s}", "type", "boolean");
	case PROTOBUF_C_TYPE_STRING:
		return json_pack("{s:s}", "type", "string");
	case PROTOBUF_C_TYPE_BYTES:
		return json_pack("{s:s, s:s}", "type", "string", "contentEncoding", "base64");
	case PROTOBUF_C_TYPE_ENUM:
		add_enum(schemas, f->descriptor);
		return ref(SCHEMAS, ((const ProtobufCEnumDescriptor *)f->descriptor)->name);
	case PROTOBUF_C_TYPE_MESSAGE:
		add_message(schemas, f->descriptor);
		return ref(SCHEMAS, ((const ProtobufCMessageDescriptor *)f->descriptor)->name);
	}
	return json_object();
}

/* d (and every message and enum it holds) into schemas, once. */
static void add_message(json_t *schemas, const ProtobufCMessageDescriptor *d)
{
	if (json_object_get(schemas, d->name) != NULL)
		return;
	json_t *properties = json_object();
	/* In place before the fields, so a message that holds itself ends the walk. */
	json_object_set_new(schemas, d->name,
	                    json_pack("{s:s, s:o, s:b}", "type", "object", "properties", properties,
	                              "additionalProperties", 0));
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char name[128];
		us_pbjson_name(f->name, name, sizeof(name));
		json_t *value = value_schema(schemas, f);
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			value = json_pack("{s:s, s:o}", "type", "array", "items", value);
		json_object_set_new(properties, name, value);
	}
}

static json_t *json_content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *reply(const char *description, json_t *schema)
{
	return json_pack("{s:s, s:o}", "description", description, "content", json_content(schema));
}

static json_t *error_reply(void)
{
	return ref("#/components/responses/", "Error");
}

/* --- /rpc/ --- */

static const char *const who_says[] = {
	[GATEWAY_API_SIGNED_IN] = "Signed in: the session's user is the actor. A service principal's "
	                          "API key may call it too, acting as itself within its scope.",
	[GATEWAY_API_TOKEN_HOLDER] = "Whoever holds the link's token the request carries; a "
	                             "session is used when there is one.",
	[GATEWAY_API_SERVICE_KEY] = "Only with a service principal's API key, within its scope.",
};

static json_t *security_for(gateway_api_caller who)
{
	switch (who) {
	case GATEWAY_API_SIGNED_IN:
		return json_pack("[{s:[], s:[]}, {s:[]}]", "session", "csrf", "bearer");
	case GATEWAY_API_TOKEN_HOLDER:
		return json_pack("[{}, {s:[], s:[]}, {s:[]}]", "session", "csrf", "bearer");
	case GATEWAY_API_SERVICE_KEY:
		return json_pack("[{s:[]}]", "bearer");
	}
	return json_array();
}

static void add_rpc_paths(json_t *paths, json_t *schemas, json_t *tags)
{
	const char *name;
	gateway_api_caller who;
	const ProtobufCMethodDescriptor *md;
	for (size_t i = 0; gateway_api_method(i, &name, &who, &md); i++) {
		if (md == NULL)
			continue;
		add_message(schemas, md->input);
		add_message(schemas, md->output);
		char service[128], operation[160], path[200], description[600];
		snprintf(service, sizeof(service), "%.*s", (int)strcspn(name, "/"), name);
		const char *short_service = strrchr(service, '.') ? strrchr(service, '.') + 1 : service;
		snprintf(operation, sizeof(operation), "%s.%s", service, md->name);
		snprintf(path, sizeof(path), "/rpc/%s", name);
		snprintf(description, sizeof(description),
		         "%s with a %s as JSON (protos/usher/v1/). %s Mutating methods need an "
		         "Idempotency-Key.",
		         name, md->input->short_name, who_says[who]);
		json_t *op = json_pack(
		        "{s:s, s:s, s:s, s:[s], s:o, s:[o], s:{s:b, s:o}, s:{s:o, s:o}}",
		        "operationId", operation, "summary", md->name, "description", description, "tags",
		        short_service, "security", security_for(who), "parameters",
		        ref("#/components/parameters/", "IdempotencyKey"), "requestBody", "required", 1,
		        "content", json_content(ref(SCHEMAS, md->input->name)), "responses", "200",
		        reply("The method's reply.", ref(SCHEMAS, md->output->name)), "default",
		        error_reply());
		json_object_set_new(paths, path, json_pack("{s:o}", "post", op));
		if (json_object_get(tags, short_service) == NULL) {
			char about[200];
			snprintf(about, sizeof(about), "The public methods of %s, as JSON over POST.", service);
			json_object_set_new(tags, short_service, json_string(about));
		}
	}
}

/* --- the routes for people --- */

typedef struct person_route {
	const char *method;
	const char *path;
	const char *operation;
	const char *summary;
	const char *body;    /* JSON Schema of the JSON body, or NULL: none */
	unsigned status;     /* of the success reply */
	const char *reply;   /* JSON Schema of the success reply ($refs into the schemas) */
	bool needs_session;  /* else open (a link's token is the credential), a session optional */
} person_route;

#define S "#/components/schemas/usher.v1."
#define SIGN_UP(extra)                                                                      \
	"{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {" extra      \
	"\"name\": {\"type\": \"string\"}, \"phone\": {\"type\": \"string\"}, "                 \
	"\"password\": {\"type\": \"string\"}}}"

static const person_route person_routes[] = {
	{"get", "/livez", "livez", "The gateway is alive.", NULL, 200,
	 "{\"type\": \"object\", \"properties\": {\"status\": {\"const\": \"ok\"}}}", false},
	{"get", "/readyz", "readyz", "The gateway is ready to serve.", NULL, 200,
	 "{\"type\": \"object\", \"properties\": {\"status\": {\"const\": \"ok\"}}}", false},
	{"get", "/openapi.json", "openapi", "This document: the HTTP API in OpenAPI 3.1.", NULL, 200,
	 "{\"type\": \"object\"}", false},
	{"post", "/login", "login", "Signs in: the usher_session cookie and a CSRF token.",
	 "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"email\", "
	 "\"password\"], \"properties\": {\"email\": {\"type\": \"string\"}, \"password\": "
	 "{\"type\": \"string\"}}}",
	 200,
	 "{\"type\": \"object\", \"properties\": {\"user\": {\"$ref\": \"" S "User\"}, "
	 "\"csrfToken\": {\"type\": \"string\"}, \"expiresAt\": {\"type\": \"string\", "
	 "\"format\": \"date-time\"}}}",
	 false},
	{"post", "/logout", "logout", "Ends the session.", NULL, 200, "{\"type\": \"object\"}", true},
	{"get", "/me", "me", "The signed-in user, their memberships and pending invitations.", NULL,
	 200,
	 "{\"type\": \"object\", \"properties\": {\"user\": {\"$ref\": \"" S "User\"}, "
	 "\"memberships\": {\"type\": \"array\", \"items\": {\"$ref\": \"" S "Membership\"}}, "
	 "\"invitations\": {\"type\": \"array\", \"items\": {\"$ref\": \"" S "Invitation\"}}, "
	 "\"csrfToken\": {\"type\": \"string\"}}}",
	 true},
	{"get", "/i/{token}", "previewInvitation",
	 "An invitation's preview (never consumes it). A browser gets an HTML page.", NULL, 200,
	 "{\"$ref\": \"" S "PreviewReply\"}", false},
	{"post", "/i/{token}/accept", "acceptInvitation",
	 "Accepts: with a profile, signs up (and signs in); with an empty body, as the signed-in "
	 "user.",
	 SIGN_UP(""), 200,
	 "{\"type\": \"object\", \"properties\": {\"accepted\": {\"$ref\": \"" S "AcceptReply\"}}}",
	 false},
	{"post", "/i/{token}/decline", "declineInvitation", "Declines; the inviter is told.", NULL,
	 200, "{\"type\": \"object\"}", false},
	{"get", "/l/{token}", "previewLink", "A permanent link's preview.", NULL, 200,
	 "{\"$ref\": \"" S "PreviewLinkReply\"}", false},
	{"post", "/l/{token}/accept", "joinByLink",
	 "Joins by a permanent link: with a profile, signs up; with an empty body, as the "
	 "signed-in user. 202 when the address must be confirmed first.",
	 SIGN_UP("\"email\": {\"type\": \"string\"}, "), 200,
	 "{\"type\": \"object\", \"properties\": {\"joined\": {\"$ref\": \"" S
	 "AcceptLinkReply\"}}}",
	 false},
	{"get", "/j/{token}", "previewJoin", "A join confirmation's preview (never consumes it).",
	 NULL, 200, "{\"$ref\": \"" S "PreviewLinkJoinReply\"}", false},
	{"post", "/j/{token}/confirm", "confirmJoin",
	 "Follows a join confirmation: the address is verified and the join done.", NULL, 200,
	 "{\"type\": \"object\", \"properties\": {\"joined\": {\"$ref\": \"" S
	 "AcceptLinkReply\"}}}",
	 false},
	{"post", "/password-reset", "requestPasswordReset",
	 "Mails a reset link when a user has the address; the answer is the same either way.",
	 "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"email\"], "
	 "\"properties\": {\"email\": {\"type\": \"string\"}}}",
	 200, "{\"type\": \"object\", \"properties\": {\"message\": {\"type\": \"string\"}}}",
	 false},
	{"post", "/password-reset/{token}", "resetPassword",
	 "Sets the password from a reset link; every session ends.",
	 "{\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"password\"], "
	 "\"properties\": {\"password\": {\"type\": \"string\"}}}",
	 200, "{\"type\": \"object\"}", false},
};
#undef S

/* The messages the routes for people answer with, into the schemas. */
#undef SIGN_UP

static const ProtobufCMessageDescriptor *const person_messages[] = {
	&usher__v1__user__descriptor,
	&usher__v1__preview_reply__descriptor,
	&usher__v1__accept_reply__descriptor,
	&usher__v1__preview_link_reply__descriptor,
	&usher__v1__accept_link_reply__descriptor,
	&usher__v1__preview_link_join_reply__descriptor,
	&usher__v1__list_my_invitations_reply__descriptor,
};

static json_t *token_parameter(const char *name, const char *description)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:{s:s}}", "name", name, "in", "path", "required", 1,
	                 "description", description, "schema", "type", "string");
}

static void add_person_paths(json_t *paths, json_t *schemas)
{
	for (size_t i = 0; i < sizeof(person_messages) / sizeof(person_messages[0]); i++)
		add_message(schemas, person_messages[i]);
	for (size_t i = 0; i < sizeof(person_routes) / sizeof(person_routes[0]); i++) {
		const person_route *r = &person_routes[i];
		json_t *op = json_pack("{s:s, s:s, s:s, s:[s]}", "operationId", r->operation, "summary",
		                       r->summary, "description", r->summary, "tags", "People");
		json_object_set_new(op, "security",
		                    r->needs_session
		                            ? json_pack("[{s:[], s:[]}, {s:[]}]", "session", "csrf", "bearer")
		                            : json_array());
		if (strstr(r->path, "{token}") != NULL)
			json_object_set_new(op, "parameters",
			                    json_pack("[o]", token_parameter("token", "The secret of the link "
			                                                              "(as in the email).")));
		if (r->body != NULL)
			json_object_set_new(op, "requestBody",
			                    json_pack("{s:b, s:o}", "required", 1, "content",
			                              json_content(json_loads(r->body, 0, NULL))));
		char status[8];
		snprintf(status, sizeof(status), "%u", r->status);
		json_t *responses = json_pack("{s:o, s:o}", status,
		                              reply("Done.", json_loads(r->reply, 0, NULL)), "default",
		                              error_reply());
		if (strcmp(r->operation, "joinByLink") == 0)
			json_object_set_new(
			        responses, "202",
			        reply("The address must be confirmed: a link went to it; nobody is signed in.",
			              json_loads("{\"type\": \"object\", \"properties\": {\"joined\": {\"$ref\": "
			                         "\"" SCHEMAS "usher.v1.AcceptLinkReply\"}, \"message\": "
			                         "{\"type\": \"string\"}}}",
			                         0, NULL)));
		json_object_set_new(op, "responses", responses);
		json_t *item = json_object_get(paths, r->path);
		if (item == NULL)
			json_object_set_new(paths, r->path, item = json_object());
		json_object_set_new(item, r->method, op);
	}

	/* The CSV upload streams its body: text/csv, or a form with one file part. */
	json_t *upload = json_loads(
	        "{\"operationId\": \"importInvitations\", \"tags\": [\"People\"],"
	        " \"summary\": \"Invites the addresses of a CSV file.\","
	        " \"description\": \"A CSV upload (text/csv, or multipart/form-data with one file part),"
	        " with a report of every row's outcome. Options as query parameters or form fields.\","
	        " \"security\": [{\"session\": [], \"csrf\": []}, {\"bearer\": []}],"
	        " \"parameters\": ["
	        "  {\"name\": \"account\", \"in\": \"path\", \"required\": true,"
	        "   \"description\": \"The account's id.\", \"schema\": {\"type\": \"string\"}},"
	        "  {\"name\": \"role\", \"in\": \"query\", \"description\": \"The role to invite at.\","
	        "   \"schema\": {\"type\": \"string\", \"enum\": [\"member\", \"moderator\", \"admin\", \"owner\"]}},"
	        "  {\"name\": \"subaccount\", \"in\": \"query\", \"description\": \"A subaccount's id.\","
	        "   \"schema\": {\"type\": \"string\"}},"
	        "  {\"name\": \"products\", \"in\": \"query\", \"description\": \"Comma-separated.\","
	        "   \"schema\": {\"type\": \"string\"}},"
	        "  {\"name\": \"dry_run\", \"in\": \"query\", \"description\": \"Report only.\","
	        "   \"schema\": {\"type\": \"boolean\"}},"
	        "  {\"name\": \"format\", \"in\": \"query\", \"description\": \"The report's format.\","
	        "   \"schema\": {\"type\": \"string\", \"enum\": [\"json\", \"csv\"]}}],"
	        " \"requestBody\": {\"required\": true, \"content\": {"
	        "  \"text/csv\": {\"schema\": {\"type\": \"string\"}},"
	        "  \"multipart/form-data\": {\"schema\": {\"type\": \"object\","
	        "   \"properties\": {\"file\": {\"type\": \"string\", \"contentMediaType\": \"text/csv\"}}}}}},"
	        " \"responses\": {\"200\": {\"description\": \"The report: JSON, or CSV with format=csv.\","
	        "  \"content\": {\"application/json\": {\"schema\": {\"type\": \"object\"}},"
	        "   \"text/csv\": {\"schema\": {\"type\": \"string\"}}}},"
	        "  \"default\": {\"$ref\": \"#/components/responses/Error\"}}}",
	        0, NULL);
	json_object_set_new(paths, "/accounts/{account}/invitations/import",
	                    json_pack("{s:o}", "post", upload));

	/* The pending export streams its body (export.h). */
	json_t *export = json_loads(
	        "{\"operationId\": \"exportPendingInvitations\", \"tags\": [\"People\"],"
	        " \"summary\": \"Every pending invitation of an account, as CSV.\","
	        " \"description\": \"Streamed (chunked), newest first, one row per pending invitation"
	        " under the header email,role,status,sent_at,expires_at,times_sent. The same right as"
	        " ListInvitations. A cell that would start with = + - @ gets an apostrophe in front."
	        " A failure after the first rows cuts the transfer short.\","
	        " \"security\": [{\"session\": []}, {\"bearer\": []}],"
	        " \"parameters\": ["
	        "  {\"name\": \"account_id\", \"in\": \"path\", \"required\": true,"
	        "   \"description\": \"The account's id.\", \"schema\": {\"type\": \"string\","
	        "   \"format\": \"uuid\"}}],"
	        " \"responses\": {\"200\": {\"description\": \"The CSV file.\","
	        "  \"content\": {\"text/csv\": {\"schema\": {\"type\": \"string\"}}}},"
	        "  \"default\": {\"$ref\": \"#/components/responses/Error\"}}}",
	        0, NULL);
	json_object_set_new(paths, "/v1/accounts/{account_id}/invitations/pending.csv",
	                    json_pack("{s:o}", "get", export));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *gateway_openapi_document(void)
{
	json_t *paths = json_object(), *schemas = json_object(), *tags = json_object();
	add_person_paths(paths, schemas);
	add_rpc_paths(paths, schemas, tags);
	json_object_set_new(
	        schemas, "Error",
	        json_loads("{\"type\": \"object\", \"required\": [\"code\", \"message\"], \"properties\": "
	                   "{\"code\": {\"type\": \"string\", \"description\": \"gRPC's status code "
	                   "name\", \"examples\": [\"INVALID_ARGUMENT\"]}, \"message\": {\"type\": "
	                   "\"string\"}, \"violations\": {\"type\": \"array\", \"items\": {\"type\": "
	                   "\"object\", \"properties\": {\"field\": {\"type\": \"string\"}, "
	                   "\"description\": {\"type\": \"string\"}}}}}}",
	                   0, NULL));
	/* Tags in alphabetical order, as readers (and the linter) expect. */
	json_object_set_new(tags, "People", json_string("Routes for people: sessions, links, uploads."));
	const char *names[16];
	size_t n_names = 0;
	const char *tag;
	json_t *about;
	json_object_foreach(tags, tag, about) {
		if (n_names < sizeof(names) / sizeof(names[0]))
			names[n_names++] = tag;
	}
	qsort(names, n_names, sizeof(names[0]), by_name);
	json_t *tag_list = json_array();
	for (size_t i = 0; i < n_names; i++)
		json_array_append_new(tag_list, json_pack("{s:s, s:O}", "name", names[i], "description",
		                                          json_object_get(tags, names[i])));
	json_decref(tags);

	json_t *components = json_object();
	json_object_set_new(components, "schemas", schemas);
	json_object_set_new(
	        components, "parameters",
	        json_pack("{s:{s:s, s:s, s:s, s:b, s:{s:s, s:i}}}", "IdempotencyKey", "name",
	                  "Idempotency-Key", "in", "header", "description",
	                  "Makes a mutating call safe to repeat: the same key with the same request "
	                  "replays the first reply; with another request it is refused. Required by "
	                  "mutating methods.",
	                  "required", 0, "schema", "type", "string", "maxLength", 200));
	json_object_set_new(components, "responses",
	                    json_pack("{s:o}", "Error",
	                              reply("An error, with the HTTP status of its gRPC code.",
	                                    ref(SCHEMAS, "Error"))));
	json_object_set_new(
	        components, "securitySchemes",
	        json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s}}",
	                  "session", "type", "apiKey", "in", "cookie", "name", "usher_session",
	                  "description", "The session cookie POST /login sets.",
	                  "csrf", "type", "apiKey", "in", "header", "name", "X-CSRF-Token",
	                  "description",
	                  "The csrfToken of POST /login, sent with every mutating request a cookie "
	                  "authenticates.",
	                  "bearer", "type", "http", "scheme", "bearer", "description",
	                  "A session token, or a service principal's API key (usk_ and 64 hex "
	                  "digits)."));

	json_t *doc = json_object();
	json_object_set_new(doc, "openapi", json_string("3.1.0"));
	json_object_set_new(
	        doc, "info",
	        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "title", "Usher HTTP API", "version",
	                  USHER_VERSION, "description",
	                  "Invitations and memberships over HTTP/JSON (usher-gatewayd), generated from "
	                  "the protos: the /rpc/ methods take and return their messages in the proto3 "
	                  "JSON mapping. Errors are {code, message, violations} with the HTTP status of "
	                  "the gRPC code. docs/api.md explains sessions, CSRF, API keys and limits.",
	                  "license", "name", "Proprietary", "identifier", "LicenseRef-Proprietary"));
	json_object_set_new(doc, "servers",
	                    json_pack("[{s:s, s:s}]", "url", "/", "description",
	                              "The gateway, at its PUBLIC_BASE_URL"));
	json_object_set_new(doc, "tags", tag_list);
	json_object_set_new(doc, "paths", paths);
	json_object_set_new(doc, "components", components);
	return doc;
}

void gateway_openapi_serve(gateway_request *req, gateway_response *res)
{
	(void)req;
	json_t *doc = gateway_openapi_document();
	if (doc == NULL) {
		gateway_http_reply_error(res, US_EEXHAUSTED, "out of memory", NULL);
		return;
	}
	gateway_http_reply_json(res, 200, doc);
}
